"""Help texts: one line per command, details with an example, short answers for unknown topics."""

from __future__ import annotations

import pytest

from handlers.command_list import COMMANDS
from handlers.commands import ParseError
from handlers.help import FIELDS
from handlers.parser import parse

help_text = COMMANDS.help_text
help_topic = COMMANDS.help_topic
COMMAND_NAMES = [spec.name for spec in COMMANDS.specs]


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
    for spec in COMMANDS.specs:
        for alias in spec.aliases:
            assert f"/{alias}" in help_text(spec.name), alias


def test_fields() -> None:
    text = help_text("fields")
    assert all(line in text for line in FIELDS.values())
    assert "amber+strict" in help_text("tlp")
    assert "end of that day UTC" in help_text("due")


def test_an_unknown_topic_gets_a_short_list_of_commands() -> None:
    text = help_text("x" * 500)
    assert text.startswith("No help on") and "/alert" in text and "/help" in text
    assert len(text) < 400 and "\n" not in text


def test_the_help_is_unchanged_by_declaring_it_with_each_command() -> None:
    assert help_text().splitlines()[1:4] == [
        "/alert to:TH topic:… TEXT — send an alert",
        '/request to:TH purpose:"…" TEXT — ask for information (also /req, /rfi)',
        "/ack REF — acknowledge an item (also /acknowledge)",
    ]
    assert help_text("member").splitlines()[-4:] == [
        "Example: /member add @alice:example.org country:TH role:contact desk:immigration",
        'Example: /member add @somchai:example.org country:TH role:contact name:"Somchai P." '
        "backup:@kanya:example.org tz:Asia/Bangkok",
        'Example: /member remove @alice:example.org reason:"left the service"',
        "Example: /member backup console:th-deputy th-immigration",
    ]
