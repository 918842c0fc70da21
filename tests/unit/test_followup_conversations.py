"""Conversations about an item after it is sent: /ack, /reply, /close, /status and /mine."""

from __future__ import annotations

import pytest

from alerts.audit import AuditAction
from alerts.messages import MessageKind
from alerts.render import failed_copy
from tests.fakes import MemoryUnitOfWork
from tests.unit.test_followup_harness import Bot

ALERT = "/alert to:TH,MY tlp:amber topic:document-fraud Two travellers, flight XX123"
REF = "A-2026-0001"


@pytest.fixture
def bot() -> Bot:
    bot = Bot()
    bot.says("my-officer", ALERT)
    bot.worker_sends()
    return bot


def _state(bot: Bot, contact: str) -> str:
    delivery = bot.record(REF).delivery_to(contact)
    assert delivery is not None
    return delivery.state


def test_a_contact_acknowledges_and_the_originator_hears_of_it(bot: Bot) -> None:
    bot.later(5)
    assert bot.answer("th-npoc", f"/ack {REF}") == f"Acknowledged {REF}. Send feedback with /reply {REF} <text>."
    assert bot.last_to("my-officer") == f"{REF}: acknowledged by Th Npoc (Thailand) at 23 Nov 17:06 UTC+8 (1 of 2)."  # on Kuala Lumpur's clock
    assert _state(bot, "th-npoc") == "acknowledged"
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.ACKNOWLEDGEMENT]


def test_a_second_ack_says_when_the_first_was_given_and_changes_nothing(bot: Bot) -> None:
    bot.says("th-npoc", f"/ack {REF}")
    told = len(bot.received_by("my-officer"))
    bot.later(30)
    assert bot.answer("th-npoc", f"/ack {REF}") == f"You already acknowledged {REF} at 23 Nov 16:01 UTC+7."
    assert len(bot.received_by("my-officer")) == told
    assert bot.last_audit == [AuditAction.COMMAND]


@pytest.mark.parametrize("who", ["iom-npoc", "my-officer"])
def test_only_recipients_acknowledge(bot: Bot, who: str) -> None:
    assert bot.answer(who, f"/ack {REF}") == f"Only recipients of {REF} can acknowledge it. Your items: /mine"
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.REFUSAL]
    assert bot.store.audit[-1].reference == REF


def test_an_unknown_reference_gets_one_short_line(bot: Bot) -> None:
    [answer] = bot.says("th-npoc", "/ack A-2026-0099")
    assert answer.startswith("There is no item A-2026-0099.") and "Example: /ack" in answer and "\n" not in answer


def test_feedback_reaches_the_originator_under_the_items_banner(bot: Bot) -> None:
    bot.later(10)
    assert bot.answer("th-npoc", f"/reply {REF} Confirmed, stolen 2026-10-02") == (
        f"Your feedback on {REF} goes to My Officer (Malaysia).")
    relayed = bot.messages_to("my-officer")[-1]
    delivery = bot.received_by("th-npoc")[0]
    assert relayed.text.splitlines()[0] == f"[TLP:AMBER] {REF} · alert"
    assert delivery.splitlines()[0].startswith("[TLP:AMBER] ")  # the same caveat first as the delivery
    assert "Feedback from Th Npoc (Thailand) · TLP:AMBER H0" in relayed.text
    assert "Confirmed, stolen 2026-10-02" in relayed.text
    assert (relayed.kind, relayed.protect_content) == (MessageKind.FEEDBACK, True)
    record = bot.record(REF).delivery_to("th-npoc")
    assert record is not None and record.state == "answered"
    assert record.acknowledged_at == record.answered_at == bot.clock.now()  # answering acknowledges too
    feedback = bot.store.audit[-1]
    assert (feedback.action, feedback.recipients, feedback.detail["text"]) == (
        AuditAction.FEEDBACK, ("my-officer",), "Confirmed, stolen 2026-10-02")


def test_green_feedback_is_not_protected(bot: Bot) -> None:
    bot.says("my-officer", "/alert to:TH tlp:green Boat sighted")
    bot.says("th-npoc", "/reply A-2026-0002 Seen it too")
    assert bot.messages_to("my-officer")[-1].protect_content is False


def test_the_originator_adds_information_for_every_recipient(bot: Bot) -> None:
    assert bot.answer("my-officer", f"/reply {REF} Second traveller identified") == (
        f"Your update on {REF} goes to 2 recipients.")
    for contact in ("th-npoc", "my-npoc"):
        first, second, *rest = bot.last_to(contact).splitlines()
        assert first == f"[TLP:AMBER] {REF} · alert"
        assert second.startswith("Update from the originator, My Officer (Malaysia)")
        assert "Second traveller identified" in rest
    assert _state(bot, "th-npoc") == "sent"  # the originator's update answers nobody's delivery
    assert bot.store.audit[-1].recipients == ("th-npoc", "my-npoc")


def test_someone_outside_the_item_cannot_reply(bot: Bot) -> None:
    assert bot.answer("iom-npoc", f"/reply {REF} me too") == (
        f"Only the originator and recipients of {REF} can reply to it.")
    assert bot.last_audit[-1] is AuditAction.REFUSAL
    assert not any("me too" in text for text in bot.received_by("my-officer"))


def test_the_originator_closes_and_recipients_are_told_briefly(bot: Bot) -> None:
    assert bot.answer("my-officer", f"/close {REF} both arrested at BKK") == f"Closed {REF}. 2 recipients are told."
    assert bot.last_to("th-npoc").splitlines() == [
        f"[TLP:AMBER] {REF} · alert", "Closed by My Officer (Malaysia): both arrested at BKK",
        "No further action is needed."]
    closure = bot.record(REF).closure
    assert closure is not None and (closure.closed_by, closure.outcome) == ("my-officer", "both arrested at BKK")
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.CLOSURE]
    assert bot.answer("my-officer", f"/close {REF}").startswith(f"{REF} was already closed (23 Nov 17:01 UTC+8)")


def test_a_coordinator_may_close_and_the_originator_is_told(bot: Bot) -> None:
    assert bot.answer("rso-coord", f"/close {REF} duplicate of A-2026-0007").startswith("Closed")
    assert "Closed by Rso Coord (Regional Support Office): duplicate" in bot.last_to("my-officer")


@pytest.mark.parametrize("who", ["th-npoc", "auditor"])
def test_others_may_not_close(bot: Bot, who: str) -> None:
    assert bot.answer(who, f"/close {REF}") == f"Only the originator of {REF} or a coordinator can close it."
    assert bot.record(REF).closure is None
    assert bot.last_audit[-1] is AuditAction.REFUSAL


def test_a_reply_to_a_closed_item_is_still_relayed_and_says_so(bot: Bot) -> None:
    bot.says("my-officer", f"/close {REF} done")
    assert bot.answer("th-npoc", f"/reply {REF} one more hit").endswith("It is closed, but they still get it.")
    assert "(The item was closed on 23 Nov 17:01 UTC+8.)" in bot.last_to("my-officer")


def test_status_shows_each_recipient_with_times(bot: Bot) -> None:
    bot.later(4)
    bot.says("th-npoc", f"/ack {REF}")
    bot.later(30)
    bot.says("th-npoc", f"/reply {REF} Confirmed")
    assert bot.answer("my-officer", f"/status {REF}").splitlines() == [
        f"{REF} · TLP:AMBER H0 · open",
        "Alert from My Officer (Malaysia), 23 Nov 17:00 (times Asia/Kuala_Lumpur)",  # the asker's clock
        "Ack due 24 Nov 17:00 · feedback due 30 Nov 17:00",
        "Acknowledged 1 of 2 · answered 1 of 2",
        "Th Npoc (Thailand): sent 23 Nov 17:01 · ack 23 Nov 17:05 · answered 23 Nov 17:35",
        "My Npoc (Malaysia): sent 23 Nov 17:01",
    ]
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.CONSULTATION]
    assert bot.store.audit[-1].reference == REF


def test_a_queued_delivery_shows_as_queued() -> None:
    bot = Bot()
    bot.says("my-officer", "/alert to:TH Boat sighted")
    assert bot.answer("my-officer", "/status A-2026-0001").splitlines()[-1] == "Th Npoc (Thailand): queued"


@pytest.mark.parametrize(("code", "says"), [
    ("telegram.403", "failed, will not be retried: the platform refused it or kept failing (telegram.403); "
                     "reach them another way if it is urgent, or ask a coordinator to check their account"),
    ("unknown:send-timeout", "failed, will not be retried: the platform never confirmed it (unknown:send-timeout), "
                             "so it may have arrived; ask them, or reach them another way if it is urgent"),
    ("set-aside:E-7Q2K", "failed, will not be retried: the bot could not send it (error E-7Q2K); quote the error "
                         "to whoever runs the bot, and reach them another way if it is urgent"),
])
def test_a_copy_that_failed_for_good_with_nothing_sent_says_so_and_what_to_do(code: str, says: str) -> None:
    """Not "not delivered yet (retrying)": nothing retries a copy the worker gave up on."""
    bot = Bot()
    bot.says("my-officer", "/alert to:TH Boat sighted")
    key = next(k for k, m in bot.store.outbox.items() if m.kind is MessageKind.DELIVERY)
    bot.store.outbox_state[key], bot.store.outbox_errors[key] = "failed", code  # as the worker leaves it
    with MemoryUnitOfWork(bot.store) as uow:
        uow.items.mark_delivery(key, "failed", bot.clock.now())
        uow.commit()
    line = bot.answer("my-officer", f"/status {REF}").splitlines()[-1]
    assert line == f"Th Npoc (Thailand): {says}"
    assert "retrying" not in line


@pytest.mark.parametrize(("code", "says"), [
    ("withdrawn", "not sent: the item was withdrawn before it went"),
    ("superseded", "not sent: replaced by a correction before it went"),
    (None, "failed, will not be retried; reach them another way if it is urgent"),
])
def test_a_copy_cancelled_before_it_went_is_not_called_a_failure(code: str | None, says: str) -> None:
    assert failed_copy(code) == says


def test_a_recipient_sees_only_their_own_line(bot: Bot) -> None:
    lines = bot.answer("my-npoc", f"/status {REF}").splitlines()
    assert lines[-1] == "My Npoc (Malaysia): sent 23 Nov 17:01"
    assert not any("Th Npoc" in line or "Acknowledged" in line for line in lines)


@pytest.mark.parametrize("who", ["rso-coord", "auditor"])
def test_coordinators_and_auditors_may_look(bot: Bot, who: str) -> None:
    assert "Th Npoc (Thailand): sent" in bot.answer(who, f"/status {REF}")
    assert bot.store.audit[-1].actor == who and bot.store.audit[-1].action is AuditAction.CONSULTATION


@pytest.mark.parametrize("who", ["iom-npoc", "admin"])
def test_status_is_refused_to_anyone_else(bot: Bot, who: str) -> None:
    assert bot.answer(who, f"/status {REF}") == (
        f"Only the originator, recipients, coordinators and auditors can see {REF}.")
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.REFUSAL]


def test_mine_lists_both_directions_newest_first(bot: Bot) -> None:
    bot.later(60)
    bot.says("th-npoc", "/request to:@my-npoc purpose:\"identity check\" Is N1234567 stolen?")
    bot.later(1)
    bot.says("th-npoc", "/alert to:@my-officer tlp:red Named source")
    bot.says("th-npoc", f"/ack {REF}")
    assert bot.answer("my-officer", "/mine").splitlines() == [
        "Your open items, newest first (times Asia/Kuala_Lumpur):",
        "A-2026-0002 TLP:RED · from Th Npoc (TH) · to acknowledge · ack due 24 Nov 18:02",
        f"{REF} TLP:AMBER · to TH, MY · 1/2 ack, 0 answered · due 30 Nov 17:00",
    ]
    assert bot.answer("th-npoc", "/mine").splitlines() == [
        "Your open items, newest first (times Asia/Bangkok):",
        "A-2026-0002 TLP:RED · to MY · 0/1 ack, 0 answered · due 30 Nov 17:02",
        "R-2026-0001 TLP:AMBER · to MY · 0/1 ack, 0 answered · due 30 Nov 17:01",
        f"{REF} TLP:AMBER · from My Officer (MY) · to answer · due 30 Nov 16:00",
    ]


def test_an_answered_item_still_open_stays_in_mine_as_answered_and_a_closed_one_leaves(bot: Bot) -> None:
    bot.says("th-npoc", f"/reply {REF} Confirmed")
    assert bot.answer("th-npoc", "/mine").splitlines() == [
        "Your open items, newest first (times Asia/Bangkok):",
        f"{REF} TLP:AMBER · from My Officer (MY) · answered by you, still open · nothing owed",
    ]
    bot.says("my-officer", f"/close {REF}")
    assert bot.answer("my-officer", "/mine") == "You have no open items, sent or received."
    assert bot.answer("th-npoc", "/mine") == "You have no open items, sent or received."


def test_mine_stays_short_enough_for_a_phone(bot: Bot) -> None:
    for n in range(11):
        bot.says("my-officer", f"/alert to:TH Boat {n}")
    lines = bot.answer("my-officer", "/mine").splitlines()
    assert len(lines) == 10 and lines[-1] == "and 4 more."
    assert lines[1].startswith("A-2026-0012")


def test_an_update_or_a_closure_for_one_recipient_says_one_recipient() -> None:
    bot = Bot()
    bot.says("my-officer", "/alert to:TH tlp:amber topic:document-fraud Two travellers, flight XX123")
    bot.worker_sends()
    assert bot.answer("my-officer", f"/reply {REF} Second traveller identified") == (
        f"Your update on {REF} goes to 1 recipient.")
    assert bot.answer("my-officer", f"/close {REF} both arrested") == f"Closed {REF}. 1 recipient is told."
