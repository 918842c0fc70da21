"""The configuration's models: any unknown key anywhere is one line naming it; no secret is ever shown."""

from __future__ import annotations

import typing

import copy
import dataclasses
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.config.settings import ConfigError, Sections, settings_from_data, settings_from_toml

SOURCE = Path("config.toml")
EXAMPLE = tomllib.loads((Path(__file__).resolve().parents[2] / "config.example.toml").read_text())
_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _key(path: str, name: str) -> str:
    shown = name if _BARE.fullmatch(name) else json.dumps(name, ensure_ascii=False)
    return f"{path}.{shown}" if path else shown


def _tables(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every table of a document with its key path; topic_defaults' keys are topics, not settings."""
    found = [(path, node)] if path != "routing.topic_defaults" else []
    for name, value in node.items():
        if isinstance(value, dict):
            found += _tables(value, _key(path, name))
        elif isinstance(value, list):
            found += [t for i, item in enumerate(value) if isinstance(item, dict)
                      for t in _tables(item, f"{_key(path, name)}[{i}]")]
    return found


def _full_example() -> dict[str, Any]:
    """The example, with every section and sub-table present (empty ones take their defaults)."""
    document = {name: {} for name in Sections.__pydantic_fields__} | copy.deepcopy(EXAMPLE)
    for section in ("due", "reminders"):
        document[section] = {p: {} for p in ("urgent", "priority", "routine")} | document[section]
    return document


TABLES = len(_tables(_full_example()))


def _field_names(model: Any, seen: set[int] | None = None) -> set[str]:
    """Every key some settings model declares (with its alias), however deep: a name the example
    leaves out may still be a real key of its table, which is no unknown key."""
    seen = set() if seen is None else seen
    if id(model) in seen:
        return set()
    seen.add(id(model))
    names: set[str] = set()
    for name, info in getattr(model, "__pydantic_fields__", {}).items():
        names |= {name, info.alias or name}
        for inner in (info.annotation, *typing.get_args(info.annotation)):
            for part in (inner, *typing.get_args(inner)):
                if hasattr(part, "__pydantic_fields__"):
                    names |= _field_names(part, seen)
    return names


KNOWN_KEYS = _field_names(Sections)


def test_the_full_example_is_valid() -> None:
    assert settings_from_data(_full_example(), SOURCE).warnings == ()


@settings(max_examples=300, deadline=None)
@given(st.integers(0, TABLES - 1), st.text(min_size=1, max_size=12), st.integers(-2, 2) | st.text(max_size=5))
def test_an_unknown_key_anywhere_is_one_line_naming_its_path(which: int, name: str, value: Any) -> None:
    document = _full_example()
    path, table = _tables(document)[which]
    if name in table or name in KNOWN_KEYS:
        return
    table[name] = value
    with pytest.raises(ConfigError) as refused:
        settings_from_data(document, SOURCE)
    (line,) = refused.value.lines  # an unknown key in an entry does not also lose the entry for later checks
    assert line.startswith(f"config.toml: {_key(path, name)}: unknown key")
    assert "\n" not in line


SECRET_KEYS = [("storage", "password"), ("matrix", "password"), ("matrix", "access_token"),
               ("matrix", "pickle_key"), ("telegram", "token"), ("telegram", "webhook_secret")]
# ":" makes each one no environment variable name, so that every way below of writing it is refused
_SECRETS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=8, max_size=30).map(
    lambda text: "s3cr3t:" + text)
_URL_SAFE = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"),
                    min_size=8, max_size=30).map(lambda text: "s3cr3t" + text)


def _written(secret: str, shape: int) -> Any:
    """A secret written where a reference to it belongs, in one of the ways people do it."""
    return [secret, {"env": secret}, {"value": secret}, {"env": "X", "file": secret}, [secret],
            {"env": {"value": secret}}, {"token": secret, "env": "LIAISON_X"}][shape]


@settings(max_examples=200, deadline=None)
@given(_SECRETS, st.sampled_from(SECRET_KEYS), st.integers(0, 6), st.booleans())
def test_a_secret_written_in_the_file_never_appears_in_any_line(secret: str, where: tuple[str, str], shape: int,
                                                                enabled: bool) -> None:
    section, key = where
    document = _full_example()
    document[section] = document[section] | {key: _written(secret, shape)}
    if section != "storage":
        document[section]["enabled"] = enabled
    with pytest.raises(ConfigError) as refused:
        settings_from_data(document, SOURCE)
    assert refused.value.lines and secret not in str(refused.value)


@settings(max_examples=100, deadline=None)
@given(_URL_SAFE,
       st.sampled_from([("storage", "url", "postgresql://liaison:{}@db/x"), ("storage", "url", "sqlite://x:{}@h/x"),
                        ("matrix", "homeserver", "ftp://bot:{}@m.example.org"),
                        ("telegram", "webhook_url", "http://bot:{}@bot.example.org/t"),
                        ("telegram", "api_url", "https://bot:{}@api.example.org/bot")]))
def test_a_password_inside_an_address_never_appears(secret: str, where: tuple[str, str, str]) -> None:
    section, key, url = where
    text = f"[{section}]\n{key} = {json.dumps(url.format(secret))}\n"
    with pytest.raises(ConfigError) as refused:
        settings_from_toml(text, SOURCE)
    (line,) = refused.value.lines
    assert line.startswith(f"config.toml: {section}.{key}: ") and secret not in line


def test_settings_built_in_code_are_taken_as_given() -> None:
    """Tests and `dataclasses.replace` build settings from values already checked: nothing is read again."""
    example = settings_from_data(_full_example(), SOURCE)
    changed = dataclasses.replace(example, telegram=dataclasses.replace(example.telegram, enabled=True))
    assert changed.telegram.enabled and changed.telegram.token is None  # not refused: no file is being read
    assert (changed.source, changed.warnings) == (example.source, example.warnings)
