"""The common field types of the configuration: converters, each with what it expects.

A converter takes what TOML gave and returns the typed value, or raises ValueError (the reader
then writes "expected …, got …"), Refused (the same, with a reason added) or Duplicate.

    enabled: Bool = False
    tick: Duration = timedelta(minutes=1)
    name: Annotated[str, Text('a name like "liaison-bot"')] = "liaison-bot"
"""

from __future__ import annotations

import difflib
import enum
import math
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Callable

from pydantic import ValidationError, ValidationInfo

from bot.config.reader import (Check, fields_of, Load, Loc, Problems, Refused, describe, expect_of, explain, key_path, loaded,
                               refuse)
from alerts.zones import UTC, canonical_zone, zone_names
from bot.config.credentials import ENV_NAME, SecretRef

_DURATION = re.compile(r"^(?:\d+[wdhms])+$")
_DURATION_PART = re.compile(r"(\d+)([wdhms])")
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """`30m`, `1h`, `24h`, `3d`, `1w`, `1h30m`: a positive duration."""
    compact = text.strip().lower().replace(" ", "")
    if not _DURATION.match(compact):
        raise ValueError(text)
    result = timedelta()
    for number, unit in _DURATION_PART.findall(compact):
        result += timedelta(**{_UNITS[unit]: int(number)})
    if result <= timedelta(0):
        raise Refused("it must be longer than zero")
    return result


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def timezone_name(name: str) -> str:
    """An IANA time zone name, kept as the tz database spells it: the rule of /member add's tz:
    (alerts.zones: any case; not the database's odd entries, localtime, Factory). A near miss is suggested."""
    kept = canonical_zone(name)
    if kept is not None:
        return kept
    zones = zone_names()
    if zones == {UTC}:  # no tz database on this machine: say what is missing
        raise Refused("no time zone database found; install the tzdata package")
    near = difflib.get_close_matches(name, sorted(zones), n=1)
    if near:
        raise Refused(f'did you mean "{near[0]}"?')
    raise ValueError(name)


TIMEZONE_EXPECT = 'an IANA time zone like "Asia/Bangkok" or "UTC"'


CHAT_EXPECT = 'a chat like "console:#network", "matrix:!abc:example.org" or "telegram:-100123"'


def boolean(raw: Any) -> bool:
    if not isinstance(raw, bool):
        raise ValueError(raw)
    return raw


def Text(expect: str = "a string") -> Check:
    def check(raw: Any) -> str:
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError(raw)
        return raw.strip()
    return Check(check, expect)


def Whole(minimum: int) -> Check:
    def check(raw: Any) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
            raise ValueError(raw)
        return raw
    return Check(check, f"a whole number of at least {minimum}")


def number(raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw < math.inf:
        raise ValueError(raw)
    return float(raw)


def Choice(choices: type[enum.Enum]) -> Check:
    return Check(lambda text: choices(text.lower()), "one of " + ", ".join(f'"{c.value}"' for c in choices), text=True)


def file_path(raw: Any, load: Load) -> Path:
    """A file or folder; a relative one is taken from the configuration file's folder."""
    if isinstance(raw, str) and raw.strip():
        return load.resolve(raw.strip())
    if isinstance(raw, Path):  # a default
        return load.resolve(raw)
    raise ValueError(raw)


def Secret(env: str, file: str) -> Check:
    """`{ env = "NAME" }` or `{ file = "/path" }`; never echoes what was written instead."""
    forms = f'{{ env = "{env}" }} or {{ file = "{file}" }}'

    def check(raw: Any, load: Load) -> SecretRef:
        if isinstance(raw, str):
            raise refuse(f"a secret must not be written in the file; expected {forms}, got a plain string")
        if not isinstance(raw, dict) or len(raw) != 1 or not ({"env", "file"} & raw.keys()):
            raise refuse(f"expected a secret written {forms}, got {_secret_shape(raw)}")
        (form, where), = raw.items()
        if form == "env" and isinstance(where, str) and ENV_NAME.fullmatch(where):
            return SecretRef.from_env(where)
        if form == "file" and isinstance(where, str) and where.strip():
            return SecretRef.from_file(load.resolve(where.strip()))
        if form == "file":
            raise refuse(f'expected a file path like "{file}", got {describe(where)}', "file")
        # not echoed: what sits where a variable name belongs may be the secret itself
        raise refuse(f'expected an environment variable name like "{env}", '
                     "got something else (not shown, in case it is the secret)", "env")
    return Check(check, forms, load=True)


def _secret_shape(raw: Any) -> str:
    """What was written where a secret was expected, without showing any value."""
    if isinstance(raw, dict):
        keys = ", ".join(key_path((str(key),)) for key in sorted(raw)) or "no keys"  # quoted as in key paths
        return f"a table with {keys}"
    return {bool: "a boolean", int: "a number", float: "a number", list: "a list"}.get(type(raw), "another value")


def require(model: type, written: dict[str, Any], names: tuple[str, ...], why: str) -> list[tuple[Loc, str]]:
    """A line for each of `names` not `written` in the table, though it is needed `why`."""
    return [((name,), f"missing; expected {expect_of(model, name)} {why}") for name in names if name not in written]


def with_checks(model: type, data: Any, handler: Any, info: ValidationInfo,
                checks: Callable[[dict[str, Any]], list[tuple[Loc, str]]]) -> Any:
    """For a wrap validator: the table checked by pydantic and by `checks` of what was written, so
    that a key required by another one is named in the same run as any mistake in the table."""
    found = checks(data) if loaded(info) and isinstance(data, dict) else []
    try:
        value = handler(data)
    except ValidationError as exc:
        lines = explain(exc, model)
        unknown = [line for line in lines if line[0] and str(line[0][0]) not in fields_of(model)]  # last
        raise Problems([line for line in lines if line not in unknown] + found + unknown).error() from None
    if found:
        raise Problems(found).error()
    return value


Bool = Annotated[bool, Check(boolean, "true or false")]
Number = Annotated[float, Check(number, "a number greater than 0, like 2 or 0.5")]
DURATION_EXPECT = 'a duration like "30m", "1h", "24h", "3d" or "1h30m"'
Duration = Annotated[timedelta, Check(parse_duration, DURATION_EXPECT, text=True)]


def Between(low: timedelta, high: timedelta) -> Check:
    """A duration from `low` to `high`."""
    def check(text: str) -> timedelta:
        if not low <= (value := parse_duration(text)) <= high:
            raise refuse(f"expected a duration from {format_duration(low)} to {format_duration(high)}, got {value}")
        return value
    return Check(check, DURATION_EXPECT, text=True)
FilePath = Annotated[Path, Check(file_path, 'a file path like "var/keys/liaison.keys"', load=True)]
TimeZone = Annotated[str, Check(timezone_name, TIMEZONE_EXPECT, text=True)]
