"""/correct REF [fields] [text], on the fakes with a manual clock: the next revision goes to its new
route, earlier copies are marked superseded (or taken back from those it no longer goes to), and
acknowledgements start again."""

from __future__ import annotations

import pytest

from alerts.audit import AuditAction
from alerts.messages import MessageKind
from alerts.removal import WITHDRAWN, Removal
from alerts.supersede import Supersession
from tests.fakes import MemoryUnitOfWork
from tests.unit.test_followup_harness import Bot

ALERT = "/alert to:TH,MY tlp:amber topic:document-fraud Two travellers, flight XX123"
REF = "A-2026-0001"


@pytest.fixture
def bot() -> Bot:
    bot = Bot()
    bot.says("my-officer", ALERT)
    bot.worker_sends()
    bot.says("th-npoc", f"/ack {REF}")
    return bot


def test_a_correction_goes_to_the_new_route_and_the_earlier_copies_are_marked_or_taken_back(bot: Bot) -> None:
    first_copy = bot.record(REF).delivery_to("th-npoc").platform_message_id  # type: ignore[union-attr]
    assert first_copy
    bot.later(30)
    answer = bot.answer("my-officer", f"/correct {REF} to:TH,AU\n\nTwo travellers, flight XX124")
    assert answer == (f"{REF} rev 2 accepted (TLP:AMBER H0). Sending to Th Npoc (Thailand), Au Npoc (Australia). "
                      f"Earlier copies: 1 marked superseded, 1 taken back, 0 unsent cancelled. "
                      f"Track it with /status {REF}.")
    record = bot.record(REF)
    assert record.item.revision == 2 and record.item.draft.body == "Two travellers, flight XX124"
    assert record.item.revised_at == bot.clock.now() and record.item.ack_due > bot.clock.now()  # due from now
    # Everyone on the new route acknowledges again: Thailand's acknowledgement was of rev 1.
    assert [(d.contact, d.state) for d in record.deliveries] == [("th-npoc", "queued"), ("au-npoc", "queued")]
    assert [d.contact for _, d in bot.store.superseded[REF]] == ["th-npoc", "my-npoc"]
    # Thailand: its copy of rev 1 edited to say it is superseded (or, where it cannot be, a line), then rev 2.
    edit, delivery = bot.messages_to("th-npoc")[-2:]
    assert edit.kind is MessageKind.SUPERSEDE
    mark = Supersession.from_json(edit.text)
    assert mark.message_id == first_copy and mark.revision == 2
    assert mark.text == f"Superseded by {REF} rev 2 — see the new copy\n[TLP:AMBER] document-fraud · from Malaysia"
    assert mark.notice == (f"[TLP:AMBER] {REF} rev 1 is superseded by {REF} rev 2, sent to you now: acknowledge "
                           "and act on that one.")
    assert delivery.kind is MessageKind.DELIVERY and delivery.text.startswith("[TLP:AMBER] document-fraud · from Malaysia · rev 2\n")
    assert f"\n{REF} rev 2 · alert from" in delivery.text
    assert "Two travellers, flight XX124" in delivery.text
    # Malaysia is no longer on it: its copy is removed and it is told so in one line.
    removal, told = bot.messages_to("my-npoc")[-2:]
    assert removal.kind is MessageKind.REMOVAL and Removal.from_json(removal.text).purpose == WITHDRAWN
    assert told.text.endswith(f": corrected as {REF} rev 2, which no longer goes to you. Disregard it; "
                              "the bot removes its copy.")
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.CORRECTION]
    assert bot.store.audit[-1].detail["revision"] == "2"


def test_copies_whose_send_is_in_flight_are_counted_apart_with_what_becomes_of_them() -> None:
    bot = Bot()
    bot.says("my-officer", ALERT)
    for key, m in bot.store.outbox.items():
        if m.kind is MessageKind.DELIVERY and m.reference == REF:
            bot.store.outbox_state[key] = "sending"  # leased by the worker: each may land yet
    answer = bot.answer("my-officer", f"/correct {REF} to:TH,AU\n\nTwo travellers, flight XX124")
    # Thailand stays on the route (its copy marked if it lands), Malaysia does not (taken back).
    assert ("Earlier copies: 0 marked superseded, 0 taken back, 0 unsent cancelled, 2 being sent: marked "
            "superseded or taken back if they land.") in answer


def test_the_audit_counts_as_cancelled_only_what_is_never_sent() -> None:
    """A send in flight cannot be stopped: it lands and gets its edit later, so the correction's audit
    entry counts it apart from the copies cancelled."""
    bot = Bot()
    bot.says("my-officer", ALERT)
    flying = next(m.key for m in bot.store.outbox.values()
                  if m.kind is MessageKind.DELIVERY and m.reference == REF and m.contact == "th-npoc")
    bot.store.outbox_state[flying] = "sending"  # leased by the worker; Malaysia's copy still waits
    bot.answer("my-officer", f"/correct {REF} to:TH,AU\n\nTwo travellers, flight XX124")
    entry = bot.store.audit[-1]
    assert entry.action is AuditAction.CORRECTION
    assert (entry.detail["cancelled"], entry.detail["in_flight"]) == ("1", "1")


def test_a_copy_sent_whose_message_is_unknown_is_followed_by_the_line() -> None:
    """A send whose outcome was never learnt (no message id): nothing to edit, so the line it is."""
    bot = Bot()
    bot.says("my-officer", ALERT)
    with MemoryUnitOfWork(bot.store) as uow:
        for delivery in bot.record(REF).deliveries:
            uow.items.mark_delivery(delivery.outbox_key, "sent", bot.clock.now())
        uow.commit()
    for delivery in bot.record(REF).deliveries:
        bot.store.outbox_state[delivery.outbox_key] = "sent"
    bot.says("my-officer", f"/correct {REF} priority:urgent")
    line, delivery = bot.messages_to("th-npoc")[-2:]
    assert line.kind is MessageKind.NOTICE and delivery.kind is MessageKind.DELIVERY
    assert line.text == (f"[TLP:AMBER] {REF} rev 1 is superseded by {REF} rev 2, sent to you now: acknowledge "
                         "and act on that one.")
    assert not [m for m in bot.store.outbox.values() if m.kind is MessageKind.SUPERSEDE]


def test_only_the_fields_given_change(bot: Bot) -> None:
    bot.says("my-officer", f"/correct {REF} tlp:green")
    draft = bot.record(REF).item.draft
    assert draft.caveat.tlp.value == "GREEN" and draft.body == "Two travellers, flight XX123"
    assert draft.topic == "document-fraud" and [str(s) for s in draft.recipients] == ["TH", "MY"]


def test_an_acknowledgement_now_counts_for_the_new_revision(bot: Bot) -> None:
    bot.says("my-officer", f"/correct {REF} priority:urgent")
    bot.worker_sends()
    assert bot.answer("th-npoc", f"/ack {REF}").startswith(f"Acknowledged {REF}.")
    assert bot.record(REF).delivery_to("th-npoc").state == "acknowledged"  # type: ignore[union-attr]


def test_unsent_copies_of_the_earlier_revision_are_cancelled() -> None:
    bot = Bot()
    bot.says("my-officer", ALERT)
    first = [m.key for m in bot.store.outbox.values() if m.kind is MessageKind.DELIVERY]
    bot.says("my-officer", f"/correct {REF} to:TH")
    assert all(bot.store.outbox_errors[key] == "superseded" for key in first)
    assert [m.kind for m in bot.messages_to("th-npoc")] == [MessageKind.DELIVERY, MessageKind.DELIVERY]


@pytest.mark.parametrize("who", ["th-npoc", "rso-coord"])
def test_only_the_originator_corrects(bot: Bot, who: str) -> None:
    assert bot.answer(who, f"/correct {REF} tlp:green").startswith(f"Only the originator of {REF} can correct it.")
    assert bot.record(REF).item.revision == 1


def test_a_closed_item_is_not_corrected(bot: Bot) -> None:
    bot.says("my-officer", f"/close {REF} done")
    assert bot.answer("my-officer", f"/correct {REF} tlp:green").startswith(f"{REF} is closed")


def test_a_correction_that_changes_nothing_is_refused() -> None:
    bot = Bot()
    bot.says("my-officer", ALERT)
    [answer] = bot.says("my-officer", f"/correct {REF}")
    assert answer.startswith("Say what changes:") and f"Example: /correct {REF} to:MY tlp:green" in answer


def test_a_route_the_new_caveat_refuses_leaves_the_item_as_it_was(bot: Bot) -> None:
    [answer] = bot.says("my-officer", f"/correct {REF} tlp:red to:TH")
    assert answer.startswith("Not sent:") and answer.endswith(f"{REF} stays as it was.")
    assert bot.record(REF).item.revision == 1


def test_status_shows_the_new_revisions_copies_and_the_audit_its_text_and_route(bot: Bot) -> None:
    bot.says("my-officer", f"/correct {REF} to:AU\n\nThree travellers")
    entry = bot.store.audit[-1]
    assert entry.detail["body"] == "Three travellers" and entry.detail["route"].startswith("au-npoc via ")
    status = bot.answer("my-officer", f"/status {REF}")
    assert "Au Npoc (Australia): queued" in status
    assert "Th Npoc" not in status and "My Npoc" not in status


def test_a_new_revision_is_reminded_afresh() -> None:
    from tests.unit.test_reminder_service import URGENT, ReminderBot

    bot = ReminderBot()
    bot.says("my-officer", URGENT)
    bot.worker_sends()
    for _ in range(0, 150, 5):
        bot.tick(5)
    first = bot.stages_to("th-npoc")
    assert "ack-due" in first
    bot.says("my-officer", f"/correct {REF} to:TH")
    bot.worker_sends()
    for _ in range(0, 150, 5):
        bot.tick(5)
    again = bot.stages_to("th-npoc")[len(first):]
    assert again[:2] == ["ack-before", "ack-due"]  # rev 2's, though rev 1 had the same stages
    assert all(k.startswith(f"rem:{REF}~rev2:") for k in bot.store.outbox if k.startswith("rem:")
               and bot.store.outbox[k].text.startswith(f"[TLP:AMBER] {REF} rev 2"))
