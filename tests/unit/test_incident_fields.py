"""Harmonised incident fields: typed one-line or form style, validated fail closed, shown in deliveries
in one compact line, counted by /stats and the monthly bulletin only from a minimum count."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.bulletin import SharedItem, render_bulletin
from alerts.caveats import Caveat, Tlp
from alerts.incident import DocumentType, Incident, Method, harmonised_counts
from alerts.messages import MessageKind
from alerts.priority import Priority
from handlers.commands import AlertCommand, ParseError, RequestCommand
from handlers.parser import parse
from handlers.vocabulary import Vocabulary
from tests.unit.test_followup_harness import Bot
from tests.unit.test_reminder_service import ReminderBot

VOCABULARY = Vocabulary(topics=("people-smuggling",), organisations=frozenset({"TH", "MY"}))
ONE_LINE = ("/alert to:TH topic:people-smuggling persons:4 nationalities:MM,BD method:sea route:MM>TH>MY "
            "document:passport issuer:MMR Boat landed at Satun")
FORM = """/alert
To: TH
Topic: people-smuggling
Persons: 4
Nationalities: MMR, bd
Method: Sea
Route: MM > TH > MY
Document: Passport
Issuer: mm
Boat landed at Satun"""
FOUR = Incident(4, ("MM", "BD"), ("MM", "TH", "MY"), Method.SEA, DocumentType.PASSPORT, "MM")


def _incident(text: str) -> Incident:
    command = parse(text, VOCABULARY)
    assert isinstance(command, (AlertCommand, RequestCommand)), command
    return command.draft.incident


def test_one_line_and_form_style_read_the_same_fields() -> None:
    assert _incident(ONE_LINE) == _incident(FORM) == FOUR
    assert _incident("/alert to:TH Boat landed at Satun").empty
    assert _incident('/request to:TH purpose:"identity check" document:visa issuer:TH Please confirm') == Incident(
        document=DocumentType.VISA, issuer="TH")


@pytest.mark.parametrize("text, expected", [
    ("/alert to:TH persons:0 Boat", "Persons '0' is not valid. Accepted: a whole number of persons from 1 to 100000"),
    ("/alert to:TH persons:four Boat", "Persons 'four' is not valid."),
    ("/alert to:TH nationalities:MM,XX Boat", "Nationality 'XX' is not valid. Accepted: ISO 3166 country codes"),
    ("/alert to:TH route:MM Boat", "Route 'MM' is not valid. Accepted: origin>destination"),
    ("/alert to:TH route:MM>>MY Boat", "Route 'MM>>MY' is not valid."),
    ("/alert to:TH route:MM>ZZ>MY Boat", "Route country 'ZZ' is not valid."),
    ("/alert to:TH method:boat Boat", "Method 'boat' is not valid. Accepted: air, sea, land. Example: method:sea"),
    ("/alert to:TH document:licence Boat", "Document 'licence' is not valid. Accepted: passport, visa, id-card, "
                                           "residence-permit, other"),
    ("/alert to:TH issuer:Myanmar Boat", "Issuer 'Myanmar' is not valid."),
    ("/alert to:TH persns:4 Boat", "Unknown field 'persns' — did you mean persons?"),
    ("/alert to:TH metod:sea Boat", "Unknown field 'metod' — did you mean method?"),
    ("/alert to:TH persons:4 persons:5 Boat", "persons is given twice."),
])
def test_a_wrong_field_is_refused_naming_it(text: str, expected: str) -> None:
    result = parse(text, VOCABULARY)
    assert isinstance(result, ParseError) and expected in result.message, result


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\r\n"), min_size=1, max_size=20),
       st.sampled_from(["persons", "nationalities", "route", "method", "document", "issuer"]))
def test_any_value_of_a_field_is_read_as_valid_or_refused_never_kept_loosely(value: str, key: str) -> None:
    result = parse(f"/alert to:TH {key}:{value.replace(' ', '')} Boat", VOCABULARY)
    assert result is not None
    if isinstance(result, AlertCommand):
        incident = result.draft.incident
        assert not incident.empty
        assert Incident.from_json(incident.to_json()) == incident  # only canonical values are kept


def test_a_delivery_shows_the_fields_in_one_compact_line() -> None:
    bot = Bot()
    bot.says("my-officer", ONE_LINE.replace("topic:people-smuggling ", ""))
    [delivery] = [m.text for m in bot.messages_to("th-npoc") if m.kind is MessageKind.DELIVERY]
    assert ("Incident: 4 persons · nationalities MM, BD · sea · route MM→TH→MY · passport issued by MM"
            in delivery.splitlines())
    assert bot.store.items["A-2026-0001"].item.draft.incident == FOUR


# --- counts -----------------------------------------------------------------------------------------

def test_counts_show_a_value_only_from_the_minimum() -> None:
    incidents = [FOUR] * 5 + [Incident(2, ("AF",), method=Method.AIR)] * 4 + [Incident()] * 3
    assert harmonised_counts(incidents, 5) == [
        "Harmonised fields (9 items with them; counts under 5 are not shown):",
        "  Persons reported: 28",
        "  By nationality: BD 5, MM 5",
        "  By method: sea 5",
        "  By document: passport 5",
        "  By issuing country: MM 5",
        "  By origin: MM 5",
        "  By transit: TH 5",
        "  By destination: MY 5",
    ]
    assert harmonised_counts([Incident(2, ("AF",), method=Method.AIR)] * 2, 5) == [
        "Harmonised fields (2 items with them; counts under 5 are not shown):",
        "  Persons reported: fewer than 5",
    ]
    assert harmonised_counts([Incident()] * 9, 5) == []
    assert "  By method: air 4, sea 5" not in harmonised_counts(incidents, 4)
    assert "  By method: sea 5, air 4" in harmonised_counts(incidents, 4)


def test_the_bulletin_counts_the_fields_of_every_item_and_never_shows_them_per_item() -> None:
    amber = Caveat(Tlp.AMBER)
    items = [SharedItem(f"A-2026-{n:04d}", amber, Priority.ROUTINE, "people-smuggling", "MY", ("TH",),
                        datetime(2026, 11, 2), None, FOUR) for n in range(1, 6)]
    text = render_bulletin(items, "November 2026", green_allowed=True, minimum=5)
    assert "  By nationality: BD 5, MM 5" in text.splitlines()
    assert "route MM→TH→MY" not in text  # counts only: no item's fields as such
    assert "By nationality" not in render_bulletin(items[:4], "November 2026", green_allowed=True, minimum=5)


def test_stats_and_the_bulletin_count_the_fields_from_a_configured_minimum() -> None:
    bot = ReminderBot()
    for n in range(3):
        bot.says("my-officer", f"/alert to:TH tlp:amber persons:2 nationalities:MM method:sea route:MM>MY Boat {n}")
    bot.says("my-officer", "/alert to:TH tlp:amber persons:1 nationalities:AF method:air Flight")
    stats = bot.answer("rso-coord", "/stats 2026-11")
    assert "Harmonised fields (4 items with them; counts under 5 are not shown):" in stats
    assert "Persons reported: 7" in stats and "By nationality" not in stats
    bot.service.count_minimum = 3
    assert bot.service.bulletin(bot.clock.now(), bot.clock.now().date().replace(day=1))
    [bulletin] = bot.store.messages_to("chat:console:#network")
    lines = bulletin.text.splitlines()
    assert "Harmonised fields (4 items with them; counts under 3 are not shown):" in lines
    assert "  By nationality: MM 3" in lines and "  By method: sea 3" in lines and "  By origin: MM 3" in lines
    assert not any("AF" in line or "air" in line for line in lines)
    assert "Boat 0" not in bulletin.text  # AMBER: counted, never carried
