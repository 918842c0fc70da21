"""Help texts: one line per command, details with an example, short answers for unknown topics."""

from __future__ import annotations

import pytest

from handlers.commands import ALIASES, COMMAND_NAMES, ParseError
from handlers.help import DETAILS, FIELDS, help_text, help_topic
from handlers.parser import parse


def test_the_list_has_one_line_per_command() -> None:
    text = help_text()
    for name in COMMAND_NAMES:
        assert sum(line.startswith(f"/{name} ") for line in text.splitlines()) == 1, name
    assert help_text("") == text


@pytest.mark.parametrize("topic", COMMAND_NAMES)
def test_each_command_has_details_with_an_example_that_parses(topic: str) -> None:
    text = help_text(topic)
    examples = [line.removeprefix("Example: ") for line in text.splitlines() if line.startswith("Example: ")]
    assert examples, topic
    for example in examples:
        result = parse(example)
        assert result is not None and not isinstance(result, ParseError), (example, result)
        assert result.name == topic


@pytest.mark.parametrize("alias, topic", [("rfi", "request"), ("/ACK", "ack"), ("due", "feedback"), ("To:", "to")])
def test_aliases_lead_to_the_same_help(alias: str, topic: str) -> None:
    assert help_topic(alias) == topic
    assert help_text(alias) == help_text(topic)


def test_every_alias_is_mentioned_in_its_command_summary() -> None:
    for alias, name in ALIASES.items():
        if alias != name:
            assert f"/{alias}" in help_text(name), alias


def test_fields() -> None:
    text = help_text("fields")
    assert all(line in text for line in FIELDS.values())
    assert "amber+strict" in help_text("tlp")
    assert "end of that day UTC" in help_text("due")


def test_an_unknown_topic_gets_a_short_list_of_commands() -> None:
    text = help_text("x" * 500)
    assert text.startswith("No help on") and "/alert" in text and "/help" in text
    assert len(text) < 400 and "\n" not in text


def test_details_cover_every_command() -> None:
    assert set(DETAILS) == set(COMMAND_NAMES)
