"""Reading a TOML document into typed values, with every problem collected as one line.

A `Table` remembers which keys it was asked for, so whatever is left over is an unknown key. Its
getters never raise: they record the problem and return None, so one run reports every mistake
in the file at once instead of one per restart. Nothing read here escapes while errors remain.
"""

from __future__ import annotations

import difflib
import enum
import json
import math
import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from bot.config_values import Duplicate, Refused, describe, parse_duration
from bot.credentials import ENV_NAME, SecretRef

T = TypeVar("T")
E = TypeVar("E", bound=enum.Enum)

REQUIRED: Any = object()  # the default of a getter whose key must be present
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class ConfigError(Exception):
    """The configuration was refused; `lines` holds one line per problem, each naming file and key."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


class Problems:
    """The errors and warnings of one file, each formatted `FILE: KEY: MESSAGE`."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.errors: list[str] = []
        self.warnings: list[str] = []

    def line(self, key: str, message: str) -> str:
        return f"{self.source}: {key}: {message}" if key else f"{self.source}: {message}"

    def error(self, key: str, message: str) -> None:
        self.errors.append(self.line(key, message))

    def warn(self, key: str, message: str) -> None:
        self.warnings.append(self.line(key, message))


def join_key(path: str, name: str) -> str:
    """`network.contacts[3]` + `timezone`; keys that are not bare TOML keys are quoted."""
    shown = name if _BARE_KEY.match(name) else json.dumps(name, ensure_ascii=False)
    return f"{path}.{shown}" if path else shown


class Table:
    """One TOML table being read, at a dotted path such as `network.contacts[3]`."""

    def __init__(self, data: Mapping[str, Any], path: str, problems: Problems, base_dir: Path,
                 broken: bool = False) -> None:
        self._data = data
        self.path = path
        self.problems = problems
        self.base_dir = base_dir
        self._seen: set[str] = set()
        self._broken = broken  # the table itself had the wrong type: do not also report its keys missing

    def key(self, name: str) -> str:
        return join_key(self.path, name)

    def has(self, name: str) -> bool:
        return name in self._data

    def keys(self) -> list[str]:
        """Every key, all taken as known: for tables whose keys are data (topic names)."""
        self._seen.update(self._data)
        return list(self._data)

    def error(self, name: str, message: str) -> None:
        self.problems.error(self.key(name), message)

    def warn(self, name: str, message: str) -> None:
        self.problems.warn(self.key(name), message)

    def missing(self, name: str, expect: str) -> None:
        if not self._broken:
            self.error(name, f"missing; expected {expect}")

    def raw(self, name: str) -> Any:
        self._seen.add(name)
        return self._data.get(name, REQUIRED)

    def value(self, name: str, convert: Callable[[Any], T], expect: str, default: Any = REQUIRED) -> T | None:
        """The converted value, the default when absent, or None after recording the problem."""
        raw = self.raw(name)
        if raw is REQUIRED:
            if default is REQUIRED:
                self.missing(name, expect)
                return None
            return default
        return self.convert(self.key(name), raw, convert, expect)

    def convert(self, key: str, raw: Any, convert: Callable[[Any], T], expect: str) -> T | None:
        try:
            return convert(raw)
        except Duplicate as exc:
            self.problems.error(key, f"expected each {exc.noun} once, got {describe(raw)} again "
                                     f"(first given {exc.first})")
            return None
        except (ValueError, TypeError) as exc:
            reason = f"; {exc}" if isinstance(exc, Refused) and str(exc) else ""
            self.problems.error(key, f"expected {expect}, got {describe(raw)}{reason}")
            return None

    def string(self, name: str, expect: str = "a string", default: Any = REQUIRED) -> str | None:
        def check(raw: Any) -> str:
            if not isinstance(raw, str) or not raw.strip():
                raise ValueError(raw)
            return raw.strip()
        return self.value(name, check, expect, default)

    def integer(self, name: str, minimum: int, default: Any = REQUIRED) -> int | None:
        def check(raw: Any) -> int:
            if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
                raise ValueError(raw)
            return raw
        return self.value(name, check, f"a whole number of at least {minimum}", default)

    def number(self, name: str, default: Any = REQUIRED) -> float | None:
        def check(raw: Any) -> float:
            if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw < math.inf:
                raise ValueError(raw)
            return float(raw)
        return self.value(name, check, "a number greater than 0, like 2 or 0.5", default)

    def boolean(self, name: str, default: Any = REQUIRED) -> bool | None:
        def check(raw: Any) -> bool:
            if not isinstance(raw, bool):
                raise ValueError(raw)
            return raw
        return self.value(name, check, "true or false", default)

    def choice(self, name: str, choices: type[E], default: Any = REQUIRED) -> E | None:
        expect = "one of " + ", ".join(json.dumps(c.value) for c in choices)
        def check(raw: Any) -> E:
            if not isinstance(raw, str):
                raise ValueError(raw)
            return choices(raw.strip().lower())
        return self.value(name, check, expect, default)

    def duration(self, name: str, default: Any = REQUIRED) -> timedelta | None:
        def check(raw: Any) -> timedelta:
            if not isinstance(raw, str):
                raise ValueError(raw)
            return parse_duration(raw)
        return self.value(name, check, 'a duration like "30m", "1h", "24h", "3d" or "1h30m"', default)

    def path_value(self, name: str, default: Any = REQUIRED) -> Path | None:
        """A file or folder; a relative one is taken from the configuration file's folder."""
        text = self.string(name, 'a file path like "var/keys/liaison.keys"', default)
        return None if text is None else self.resolve(text)

    def resolve(self, text: str | Path) -> Path:
        path = Path(text).expanduser()
        return path if path.is_absolute() else self.base_dir / path

    def items(self, name: str, convert: Callable[[Any], T], expect_item: str,
              default: Any = REQUIRED) -> tuple[T, ...] | None:
        """A list whose items are each converted; a bad item is reported with its index."""
        raw = self.raw(name)
        if raw is REQUIRED:
            if default is REQUIRED:
                self.missing(name, f"a list, each {expect_item}")
                return None
            return default
        if not isinstance(raw, list):
            self.error(name, f"expected a list, each {expect_item}, got {describe(raw)}")
            return None
        found = [self.convert(f"{self.key(name)}[{i}]", item, convert, expect_item) for i, item in enumerate(raw)]
        return tuple(x for x in found if x is not None)

    def secret(self, name: str, example_env: str, example_file: str) -> SecretRef | None:
        """`{ env = "NAME" }` or `{ file = "/path" }`; never echoes what was written instead."""
        raw = self.raw(name)
        forms = f'{{ env = "{example_env}" }} or {{ file = "{example_file}" }}'
        if raw is REQUIRED:
            return None
        if isinstance(raw, str):
            self.error(name, f"a secret must not be written in the file; expected {forms}, got a plain string")
            return None
        if not isinstance(raw, dict) or len(raw) != 1 or not ({"env", "file"} & raw.keys()):
            self.error(name, f"expected a secret written {forms}, got {_secret_shape(raw)}")
            return None
        (form, where), = raw.items()
        if form == "env" and isinstance(where, str) and ENV_NAME.match(where):
            return SecretRef.from_env(where)
        if form == "file" and isinstance(where, str) and where.strip():
            return SecretRef.from_file(self.resolve(where.strip()))
        key = join_key(self.key(name), form)
        if form == "file":
            self.problems.error(key, f'expected a file path like "{example_file}", got {describe(where)}')
        else:  # not echoed: what sits where a variable name belongs may be the secret itself
            self.problems.error(key, f'expected an environment variable name like "{example_env}", '
                                     "got something else (not shown, in case it is the secret)")
        return None

    def table(self, name: str) -> Table:
        """A sub-table; absent means empty, so that every key in it takes its default."""
        raw = self.raw(name)
        if raw is REQUIRED:
            return Table({}, self.key(name), self.problems, self.base_dir)
        if not isinstance(raw, dict):
            self.error(name, f"expected a table [{self.key(name)}], got {describe(raw)}")
            return Table({}, self.key(name), self.problems, self.base_dir, broken=True)
        return Table(raw, self.key(name), self.problems, self.base_dir)

    def tables(self, name: str, expect: str) -> list[Table]:
        """An array of tables, `[[name]]` blocks or a list of inline tables."""
        raw = self.raw(name)
        if raw is REQUIRED:
            return []
        if not isinstance(raw, list):
            self.error(name, f"expected {expect}, written as [[{self.key(name)}]] blocks, got {describe(raw)}")
            return []
        found = []
        for i, item in enumerate(raw):
            key = f"{self.key(name)}[{i}]"
            if isinstance(item, dict):
                found.append(Table(item, key, self.problems, self.base_dir))
            else:
                self.problems.error(key, f"expected {expect} (a table), got {describe(item)}")
        return found

    def done(self) -> None:
        """Report every key that no getter asked for, with the nearest known key as a hint."""
        known = sorted(self._seen)
        for name in self._data:
            if name in self._seen:
                continue
            hint = difflib.get_close_matches(name, known, n=1)
            guess = f" (did you mean {hint[0]}?)" if hint else ""
            expect = f"expected one of {', '.join(known)}" if known else "this table takes no keys"
            self.error(name, f"unknown key{guess}; {expect}")


def _secret_shape(raw: Any) -> str:
    """What was written where a secret was expected, without showing any value."""
    if isinstance(raw, dict):
        keys = ", ".join(join_key("", str(key)) for key in sorted(raw)) or "no keys"  # quoted as in key paths
        return f"a table with {keys}"
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list"}.get(type(raw), "another value")
