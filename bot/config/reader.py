"""How the configuration's pydantic models are checked, and how their errors become one line each.

Each field is declared once, with its converter and what it expects:

    timezone: Annotated[str, Check(timezone_name, TIMEZONE_EXPECT)] = "UTC"

`Check` replaces pydantic's own coercion, so a value is taken only as TOML writes it, and a refusal
reads `expected <expect>, got <what was written>`. Every model forbids unknown keys. `explain` turns
each entry of a ValidationError into `(key path, message)`; pydantic reports every problem of one
validation, so one run lists every mistake in the file. A converter may need what the file declared
earlier (organisations, rooms, ids already taken): it is given the `Load` of this read, which is
also where warnings go. Constructed in code (tests, `dataclasses.replace`), nothing is converted.
"""

from __future__ import annotations

import difflib
import json
import re
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar, dataclass_transform
from urllib.parse import urlsplit

from pydantic import ConfigDict, TypeAdapter, ValidationError, ValidationInfo
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError, core_schema


T = TypeVar("T")
Loc = tuple[str | int, ...]
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
HERE = "\0"  # in a message, the key path of its line (a nested table does not know where it sits)


class Refused(ValueError):
    """Raised by a converter to add a reason after "expected …, got …"."""


class Duplicate(ValueError):
    """Raised by a converter for a value that must be unique and was given before."""

    def __init__(self, noun: str, first: str) -> None:
        super().__init__(noun, first)
        self.noun = noun
        self.first = first


def describe(value: Any) -> str:
    """A value as the file wrote it, short; never used for secrets, and hides a password in a URL."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and _has_url_password(value):
        return "a URL with a password (not shown)"
    if isinstance(value, str):
        return json.dumps(value if len(value) <= 60 else value[:57] + "…", ensure_ascii=False)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, (datetime, date, time)):
        return f"the date/time {value.isoformat()}"
    return type(value).__name__


def _has_url_password(text: str) -> bool:
    if "://" not in text:
        return False
    try:
        return urlsplit(text).password is not None
    except ValueError:  # unparsable: keep it hidden if it might hold credentials
        return "@" in text



class ConfigError(Exception):
    """The configuration was refused; `lines` holds one line per problem, each naming file and key."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


class Problems(ValueError):
    """Raised by a converter or a model check: messages for keys below the value checked."""

    def __init__(self, found: Iterable[tuple[Loc, str]]) -> None:
        self.found = tuple(found)
        super().__init__(self.found)

    def error(self) -> PydanticCustomError:
        return PydanticCustomError("config", "see lines", {"lines": self.found})


def refuse(message: str, *at: str | int) -> Problems:
    """One message, for the key `at` below the value checked (the value itself when empty)."""
    return Problems([(at, message)])


def fields_of(model: Any) -> dict[str, FieldInfo]:
    """A settings class's fields as pydantic declared them (pydantic sets the attribute on the class)."""
    found: dict[str, FieldInfo] = model.__pydantic_fields__
    return found


@dataclass_transform(frozen_default=True)
def settings(cls: type[T]) -> type[T]:
    """A frozen pydantic dataclass that refuses unknown keys."""
    return dataclass(frozen=True, config=ConfigDict(extra="forbid"))(cls)  # type: ignore[return-value]


class Load:
    """What one read of the file has found so far: earlier entries, ids taken, warnings."""

    def __init__(self, base_dir: Path) -> None:
        self.base_dir = base_dir
        self.default_timezone = "UTC"
        self.warnings: list[str] = []
        self.found: dict[str, tuple[Any, ...]] = {}  # valid entries of each [[table]], by its path
        self.path = ""  # the [[table]] entry being read, like network.contacts[3]
        self.label = ""  # how duplicates name where a value was first given: its path, or "id, path"
        self.entry: dict[str, Any] = {}  # the fields of the entry being read that were valid so far
        self._first: dict[tuple[str, Any], str] = {}

    def once(self, noun: str, value: T, owner: str | None = None) -> T:
        """`value`, refused when an earlier entry gave it already."""
        owner = owner or f"by {self.label}"
        first = self._first.setdefault((noun, value), owner)
        if first != owner:
            raise Duplicate(noun, first)
        return value

    def taken(self, noun: str) -> list[Any]:
        """Every value given for `noun` so far, valid entry or not, in the order of the file."""
        return [value for (kind, value) in self._first if kind == noun]

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(f"{key}: {message}")

    def resolve(self, text: str | Path) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else self.base_dir / path


def loaded(info: ValidationInfo) -> Load | None:
    """The read in progress, or None for values built in code (taken as given)."""
    return info.context.get("load") if isinstance(info.context, dict) else None


class Check:
    """A field's converter and what it expects. `convert(raw)` or, with `load=True`, `convert(raw, load)`
    returns the value or raises ValueError ("expected …, got …"), Refused (with a reason), Duplicate
    or Problems. With `text=True` only a string is taken, and given to `convert` stripped."""

    def __init__(self, convert: Callable[..., Any], expect: str, load: bool = False, text: bool = False) -> None:
        self.convert, self.expect, self.load, self.text = convert, expect, load, text

    def run(self, raw: Any, load: Load) -> Any:
        if self.text and not isinstance(raw, str):
            raise ValueError(raw)
        given = raw.strip() if self.text else raw
        return self.convert(given, load) if self.load else self.convert(given)

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(self.validate)

    def validate(self, raw: Any, info: ValidationInfo) -> Any:
        load = loaded(info)
        if load is None:
            return raw
        load.entry = info.data or {}
        try:
            return self.run(raw, load)
        except (ValueError, TypeError) as exc:
            raise problems_of(exc, raw, self.expect).error() from None


def problems_of(exc: ValueError | TypeError, raw: Any, expect: str) -> Problems:
    """What a converter's exception means, as lines."""
    if isinstance(exc, Problems):
        return exc
    if isinstance(exc, Duplicate):
        return refuse(f"expected each {exc.noun} once, got {describe(raw)} again (first given {exc.first})")
    reason = f"; {exc}" if isinstance(exc, Refused) and str(exc) else ""
    return refuse(f"expected {expect}, got {describe(raw)}{reason}")


def Items(item: Check, empty: str | None = None, once: str | None = None,
          into: Callable[[list[Any]], Any] = tuple, share: str | None = None) -> Check:
    """A list whose items are each checked and reported with their index; `once` names what each
    item is when the list may hold it only once, `empty` is the refusal of an empty list. `share`
    keeps the valid items in `load.found` even when others were refused, for the checks below."""
    def check(raw: Any, load: Load) -> Any:
        if not isinstance(raw, list):
            raise ValueError(raw)
        if not raw and empty:
            raise Problems([((), empty)])
        found, problems, seen = [], [], set()
        for i, given in enumerate(raw):
            try:
                value = item.run(given, load)
                if once and value in seen:
                    raise Duplicate(once, "earlier in the list")
                seen.add(value)
                found.append(value)
            except (ValueError, TypeError) as exc:
                problems += [((i, *at), message) for at, message in problems_of(exc, given, item.expect).found]
        if share:
            load.found[share] = tuple(found)
        if problems:
            raise Problems(problems)
        return into(found)
    return Check(check, f"a list, each {item.expect}", load=True)


def Tables(entry: type, path: str, build: Callable[[Any, Load], Any],
           finish: Callable[[list[tuple[int, Any]], Load], Iterable[tuple[Loc, str]]] | None = None) -> Check:
    """`[[path]]` blocks, each checked as `entry` (whose TITLE names one) and made a domain value by
    `build(entry, load)`; `finish` checks them against each other. The valid ones are kept in
    `load.found[path]` for the sections below."""
    adapter: TypeAdapter[Any] = TypeAdapter(entry)
    title: str = getattr(entry, "TITLE")  # each [[table]] entry class names one of itself

    def check(raw: Any, load: Load) -> tuple[Any, ...]:
        if not isinstance(raw, list):
            raise refuse(f"expected {title}, written as [[{path}]] blocks, got {describe(raw)}")
        built: list[tuple[int, Any]] = []
        problems: list[tuple[Loc, str]] = []

        def read(i: int, item: dict[str, Any]) -> None:
            load.path = load.label = f"{path}[{i}]"
            try:
                built.append((i, build(adapter.validate_python(item, context={"load": load}), load)))
            except Problems as exc:
                problems.extend(((i, *at), message) for at, message in exc.found)

        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                problems.append(((i,), f"expected {title} (a table), got {describe(item)}"))
                continue
            try:
                read(i, item)
            except ValidationError as exc:
                problems += [((i, *at), message) for at, message in explain(exc, entry)]
                unknown = {e["loc"][0] for e in exc.errors() if e["type"] == "unexpected_keyword_argument"}
                if len(unknown) == exc.error_count():  # the rest of the entry still counts for those below
                    read(i, {key: value for key, value in item.items() if key not in unknown})
        load.found[path] = tuple(value for _, value in built)
        problems += finish(built, load) if finish else ()
        if problems:
            raise Problems(problems)
        return load.found[path]
    return Check(check, f"{title}, written as [[{path}]] blocks", load=True)


def explain(exc: ValidationError, root: Any) -> list[tuple[Loc, str]]:
    """Each error of a validation of `root` as (key path, message), in the order pydantic found them."""
    found: list[tuple[Loc, str]] = []
    for error in exc.errors(include_url=False):
        loc, kind, raw = tuple(error["loc"]), error["type"], error["input"]
        if kind == "config":
            found += [(loc + tuple(at), message) for at, message in error["ctx"]["lines"]]
        elif kind in ("unexpected_keyword_argument", "extra_forbidden"):
            known = sorted(fields_of(_model_at(root, loc[:-1])))
            hint = difflib.get_close_matches(str(loc[-1]), known, n=1)
            guess = f" (did you mean {hint[0]}?)" if hint else ""
            found.append((loc, f"unknown key{guess}; " + (f"expected one of {', '.join(known)}" if known
                                                          else "this table takes no keys")))
        elif kind == "missing":
            found.append((loc, f"missing; expected {expect_of(_model_at(root, loc[:-1]), str(loc[-1]))}"))
        elif kind == "dataclass_type":
            found.append((loc, f"expected a table [{HERE}], got {describe(raw)}"))
        else:  # not expected from these models; pydantic's own words never show the value
            found.append((loc, error["msg"]))
    return found


def Table(entry: type, build: Callable[[Any, Load], Any]) -> Check:
    """A sub-table checked as `entry`, made a value by `build(entry, load)`."""
    adapter: TypeAdapter[Any] = TypeAdapter(entry)

    def check(raw: Any, load: Load) -> Any:
        try:
            return build(adapter.validate_python(raw, context={"load": load}), load)
        except ValidationError as exc:
            raise Problems(explain(exc, entry)) from None
    return Check(check, "a table", load=True)


def _model_at(root: Any, loc: Loc) -> Any:
    """Sections hold their tables directly; deeper ones are checked apart (Table, Tables)."""
    for step in loc:
        root = fields_of(root)[str(step)].annotation
    return root


def expect_of(model: Any, name: str) -> str:
    """What the field `name` of `model` expects, as its Check says."""
    return next(m.expect for m in fields_of(model)[name].metadata if isinstance(m, Check))


def key_path(loc: Loc) -> str:
    """`network.contacts[3].timezone`; keys that are not bare TOML keys are quoted."""
    path = ""
    for step in loc:
        if isinstance(step, int):
            path += f"[{step}]"
        else:
            shown = step if _BARE_KEY.fullmatch(step) else json.dumps(step, ensure_ascii=False)
            path = f"{path}.{shown}" if path else shown
    return path

