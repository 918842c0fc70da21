"""Help texts: one line per command, details with an example, short answers for unknown topics."""

from __future__ import annotations

import re

import pytest

from handlers.command_list import COMMANDS
from handlers.commands import ParseError
from handlers.help import FIELDS
from handlers.parser import parse
from tests.sample_network import small_network

help_text = COMMANDS.help_text
help_topic = COMMANDS.help_topic
COMMAND_NAMES = [spec.name for spec in COMMANDS.specs]


def _listed(text: str) -> list[str]:
    """The commands a /help list names, in order."""
    return re.findall(r"(?<![\w/])/([a-z]+)\b(?! COMMAND)", text.split("\nSend /help COMMAND")[0])


def test_the_list_names_every_command_once_in_its_group() -> None:
    text = help_text()
    assert sorted(_listed(text)) == sorted(COMMAND_NAMES)
    assert help_text("") == text
    groups = [line.split(":", 1)[0] for line in text.splitlines()[1:] if not line.startswith("Send /help")]
    assert groups == ["Send", "On an item", "Find", "You", "Coordinate", "Administer"]


@pytest.mark.parametrize("contact", ["my-officer", "th-npoc", "rso-coord", "admin", "auditor"])
def test_each_person_sees_only_the_commands_their_roles_allow_short_enough_for_a_phone(contact: str) -> None:
    person = small_network().contacts[contact]
    text = help_text(None, person.roles)
    assert sorted(_listed(text)) == sorted(spec.name for spec in COMMANDS.specs
                                           if COMMANDS.refusal(spec.name, person) is None), contact
    assert len(text) < 700, (contact, len(text))  # was 2,150 characters for everyone
    last = text.splitlines()[-1]
    assert last.startswith("Send /help COMMAND for details") and ("/help fields" in last) is ("alert" in _listed(text))


def test_an_officer_is_not_shown_the_admin_commands_but_may_still_read_about_them() -> None:
    officer = small_network().contacts["my-officer"]
    listed = _listed(help_text(None, officer.roles))
    assert "alert" in listed and "member" not in listed and "device" not in listed and "stats" not in listed
    assert help_text("device", officer.roles).splitlines()[-1] == "Needs one of these roles: admin."
    assert "Needs" not in help_text("alert", officer.roles)


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
    assert [help_text(name).splitlines()[0] for name in ("alert", "request", "ack")] == [
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
