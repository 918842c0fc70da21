"""Whatever the file holds, the loader answers with settings or ConfigError lines, never a crash."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.config.settings import ConfigError, settings_from_data

SOURCE = Path("config.toml")
EXAMPLE = tomllib.loads((Path(__file__).resolve().parents[2] / "config.example.toml").read_text())

_KEYS = ["bot", "storage", "keys", "audit", "delivery", "due", "urgent", "console", "matrix", "telegram",
         "network", "routing", "topic_defaults", "organisations", "contacts", "rooms", "topics", "name", "url",
         "password", "enabled", "token", "env", "file", "mode", "code", "kind", "desks", "id", "organisation",
         "desk", "roles", "identities", "timezone", "backup", "chat", "purpose", "acknowledge", "witness_room",
         "homeserver", "user_id", "access_token", "pickle_key", "webhook_url", "retention_days", "maritime"]
_TEXTS = st.sampled_from(["TH", "THA", "IOM", "all", "@th-npoc", "TH/immigration", "console:th-npoc",
                          "console:#network", "Asia/Bangkok", "1h", "contact", "country", "network", "webhook",
                          "sqlite:///x.db", "postgresql://u:p@h/d", "maritime", "", "ÿ"]) | st.text(max_size=8)
_LEAVES = _TEXTS | st.integers(-2, 3) | st.booleans() | st.floats(allow_nan=False)
TOML_VALUES = st.recursive(_LEAVES, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=4), inner, max_size=4),
                           max_leaves=25)


def assert_settings_or_clean_error(data: dict[str, Any]) -> None:
    try:
        settings_from_data(data, SOURCE)
    except ConfigError as exc:
        assert exc.lines
        assert all(line.startswith("config.toml: ") and "\n" not in line for line in exc.lines)


def mutated(document: dict[str, Any], path: list[int], replacement: Any, delete: bool) -> dict[str, Any]:
    """A copy with the value reached by `path` (each step picks a key or an item) replaced or deleted."""
    root = copy.deepcopy(document)
    parent: Any = None
    key: Any = None
    current: Any = root
    for step in path:
        if isinstance(current, dict) and current:
            parent, key = current, sorted(current)[step % len(current)]
        elif isinstance(current, list) and current:
            parent, key = current, step % len(current)
        else:
            break
        current = parent[key]
    if parent is not None:
        if delete:
            del parent[key]
        else:
            parent[key] = replacement
    return root


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), TOML_VALUES, max_size=6))
@example({"matrix": {"access_token": {"\n": "TH"}}})  # a key with a line break, where a secret was due
def test_any_document(data):
    assert_settings_or_clean_error(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=6), TOML_VALUES, st.booleans())
def test_any_change_to_the_example(path, replacement, delete):
    assert_settings_or_clean_error(mutated(EXAMPLE, path, replacement, delete))
