"""A delivery leads with what matters: one banner line, then the body; the caveat in full after it.

A phone's notification shows the first line or two of a message. The first line is the banner
(`[TLP:AMBER] URGENT · document-fraud · from Malaysia`), the body starts on the second, and the
caveat (TLP and handling codes with their meanings, originator control), the grading, the reference
and the due time follow in a compact block, then how to answer. A long delivery split by a
connector carries the banner on every part.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from alerts.caveats import Caveat, Handling, Tlp
from alerts.grading import Grading
from alerts.identity import ChatRef
from alerts.items import Item, ItemDraft, ItemKind, Reference
from alerts.priority import Priority
from alerts.render import RULE, render_delivery
from bot.connectors.telegram.formatting import html_parts
from tests.sample_network import small_network

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
BODY = "Two travellers with altered passports, flight XX123 KUL-BKK 14:30 today."


def item(caveat: Caveat, priority: Priority = Priority.ROUTINE, topic: str | None = "document-fraud",
         body: str = BODY, grading: Grading | None = None, kind: ItemKind = ItemKind.ALERT,
         originator: str = "my-officer") -> Item:
    draft = ItemDraft(kind=kind, body=body, caveat=caveat, priority=priority, topic=topic, grading=grading)
    return Item(Reference(kind, 2026, 42), draft, originator, ChatRef.parse("console:@my-officer"), NOW,
                ack_due=NOW + timedelta(hours=1), feedback_due=NOW + timedelta(days=1))


CASES = [
    (Caveat(Tlp.AMBER), Priority.URGENT, "document-fraud", "[TLP:AMBER] URGENT · document-fraud · from Malaysia"),
    (Caveat(Tlp.AMBER_STRICT, Handling.H2), Priority.PRIORITY, "document-fraud",
     "[TLP:AMBER+STRICT] PRIORITY · document-fraud · from Malaysia"),
    (Caveat(Tlp.RED, Handling.H3), Priority.URGENT, None, "[TLP:RED] URGENT · from Malaysia"),
    (Caveat(Tlp.GREEN, orcon=True), Priority.ROUTINE, "maritime", "[TLP:GREEN] maritime · from Malaysia"),
    (Caveat(Tlp.CLEAR), Priority.ROUTINE, None, "[TLP:CLEAR] from Malaysia"),
]


@pytest.mark.parametrize("caveat, priority, topic, banner", CASES)
def test_the_first_line_is_the_banner_and_the_body_follows_at_once(
        caveat: Caveat, priority: Priority, topic: str | None, banner: str) -> None:
    text = render_delivery(item(caveat, priority, topic), small_network(), zone="UTC")
    first, second, *_ = text.splitlines()
    assert first == banner  # routine says no priority: only what is worth a glance
    assert second == BODY
    preview = text[:100]  # what a phone's notification shows of it
    assert preview.startswith(banner + "\n") and "Two travellers with altered passports" in preview


@pytest.mark.parametrize("caveat, priority, topic, banner", CASES)
def test_the_caveat_is_shown_in_full_after_the_body_then_how_to_answer(
        caveat: Caveat, priority: Priority, topic: str | None, banner: str) -> None:
    text = render_delivery(item(caveat, priority, topic), small_network(), zone="UTC")
    lines = text.splitlines()
    block = lines[lines.index(RULE) + 1:]
    assert lines[2] == RULE == "───"  # banner, body, a rule too short to wrap: no boilerplate before the body
    assert block[0] == "A-2026-0042 · alert from My Officer (Malaysia) · by topic"
    assert block[1] == f"{caveat.label()} · Not graded by the originator"
    assert f"{caveat.tlp.label}: {caveat.tlp.meaning}." in block[2]
    assert f"{caveat.handling.value}: {caveat.handling.meaning}." in block[2]
    assert ("ORCON: no onward sharing without the originator's consent." in block[2]) is (
        caveat.orcon and not caveat.handling.implies_orcon)
    assert block[3] == "Feedback due 24 Nov 09:00 UTC"
    assert block[-1] == "Acknowledge: /ack A-2026-0042 · Feedback: /reply A-2026-0042 <text>"


def test_grading_purpose_and_a_forward_note_are_in_the_block() -> None:
    graded = item(Caveat(Tlp.AMBER), Priority.URGENT, grading=Grading.parse("B2"))
    text = render_delivery(graded, small_network(), forwarded="Forwarded by Th Npoc (Thailand)", zone="UTC")
    assert "TLP:AMBER H0 · Grade B2 (source usually reliable; information probably true)" in text
    assert text.index(BODY) < text.index("Grade B2") < text.index("Forwarded by Th Npoc") < text.index("/ack")


def test_a_request_asks_for_an_answer() -> None:
    text = render_delivery(item(Caveat(Tlp.AMBER), kind=ItemKind.REQUEST), small_network(), zone="UTC")
    assert text.splitlines()[-1] == "Acknowledge: /ack R-2026-0042 · Answer: /reply R-2026-0042 <answer>"


def test_an_originator_no_longer_in_the_directory_is_named_by_id() -> None:
    text = render_delivery(item(Caveat(Tlp.AMBER), originator="gone-officer"), small_network(), zone="UTC")
    assert text.splitlines()[0] == "[TLP:AMBER] document-fraud · from gone-officer"


def test_a_long_delivery_splits_with_the_banner_on_every_part() -> None:
    body = "\n".join(f"Passenger {n}: name withheld, seat {n}A, checked against the stolen passport list." for n in range(120))
    text = render_delivery(item(Caveat(Tlp.AMBER_STRICT, Handling.H2), Priority.URGENT, body=body),
                           small_network(), zone="UTC")
    parts = html_parts(text, limit=1000)
    assert len(parts) > 3
    banner = "<b>[TLP:AMBER+STRICT] URGENT · document-fraud · from Malaysia</b>"
    for number, part in enumerate(parts, start=1):
        first = part.splitlines()[0]
        label = f"(part 1/{len(parts)})" if number == 1 else f"(continued {number}/{len(parts)})"
        assert first == f"{banner} {label}"
    assert parts[0].splitlines()[1] == "Passenger 0: name withheld, seat 0A, checked against the stolen passport list."
    joined = "\n".join(part.split("\n", 1)[1] for part in parts)
    assert "AMBER+STRICT: the recipient organisation only." in joined  # the caveat in full, in the last part
    assert re.search(r"H2: no onward sharing without the originator's consent\.", parts[-1])


@pytest.mark.parametrize("priority, word", [(Priority.ROUTINE, ""), (Priority.PRIORITY, "PRIORITY "),
                                            (Priority.URGENT, "URGENT ")])
def test_messages_about_an_item_follow_the_deliverys_banner_rule_routine_says_nothing(
        priority: Priority, word: str) -> None:
    from alerts.reminder_render import banner
    from alerts.reminders import FollowUp
    from alerts.render import banner_line, delivery_banner

    alert = item(Caveat(Tlp.AMBER), priority)
    expected = f"[TLP:AMBER] A-2026-0042 · {word}alert"
    assert banner_line(alert) == expected  # feedback, closures, consent prompts
    follow_up = FollowUp("A-2026-0042", priority, Caveat(Tlp.AMBER), NOW, None, None, "my-officer", True, ())
    assert banner(follow_up) == expected  # reminders and escalations
    # deliveries, by the same rule
    assert (priority.value.upper() in delivery_banner(alert, small_network())) is bool(word)
