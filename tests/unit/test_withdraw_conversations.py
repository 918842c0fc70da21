"""/withdraw REF reason, on the fakes with a manual clock: who may, what is cancelled, what is planned
for removal, who is told, and what every later command answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from alerts.audit import AuditAction
from alerts.clock import ManualClock
from alerts.identity import ChatRef, UserRef
from alerts.lifecycle import Withdrawal
from alerts.messages import MessageKind
from alerts.removal import WITHDRAWN, WITHDRAWN_LINE, Removal
from alerts.routing import Destination
from alerts.supersede import Supersession, fallback_notice
from handlers.ports import DeliveryRecord
from handlers.correction import late_copy
from handlers.withdrawal import CANCELLED, removable, withdrawn_copy, withdrawn_line
from tests.fakes import MemoryUnitOfWork
from tests.sample_network import small_network
from tests.unit.test_followup_harness import Bot

ALERT = "/alert to:TH,MY tlp:amber topic:document-fraud Two travellers, flight XX123"
REF = "A-2026-0001"


@pytest.fixture
def bot() -> Bot:
    bot = Bot()
    bot.says("my-officer", ALERT)
    bot.worker_sends()
    return bot


def _rows(bot: Bot, kind: MessageKind) -> list:
    return [m for m in bot.store.outbox.values() if m.kind is kind and m.reference == REF]


def test_the_originator_withdraws_and_every_delivered_copy_is_planned_for_removal(bot: Bot) -> None:
    bot.later(10)
    answer = bot.answer("my-officer", f"/withdraw {REF} sent to the wrong country")
    assert answer == f"Withdrew {REF}. 2 delivered copies to be removed, 0 unsent cancelled, 2 chats told."
    record = bot.record(REF)
    assert record.withdrawal == Withdrawal(bot.clock.now(), "my-officer", "sent to the wrong country")
    assert record.closure is not None and record.item.state.value == "closed"
    removals = [Removal.from_json(m.text) for m in _rows(bot, MessageKind.REMOVAL)]
    delivered = {d.platform_message_id for d in record.deliveries}
    assert {r.message_id for r in removals} == delivered and all(r.purpose == WITHDRAWN for r in removals)
    # Each removal is queued to the copy's own chat, followed by the one line its reader is told.
    for contact in ("th-npoc", "my-npoc"):
        last_two = bot.messages_to(contact)[-2:]
        assert [m.kind for m in last_two] == [MessageKind.REMOVAL, MessageKind.NOTICE]
        assert last_two[1].text == (f"[TLP:AMBER] {REF} was withdrawn by My Officer (Malaysia) on 2026-11-23: "
                                    "sent to the wrong country. Disregard it; the bot removes its copy.")
        assert "\n" not in last_two[1].text
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.WITHDRAWAL]
    entry = bot.store.audit[-1]
    assert entry.detail["reason"] == "sent to the wrong country" and entry.detail["copies_removed"] == "2"
    assert set(entry.recipients) == {"th-npoc", "my-npoc"}


def test_copies_not_yet_sent_are_cancelled_not_removed_and_their_readers_not_told() -> None:
    bot = Bot()
    bot.says("my-officer", ALERT)  # nothing sent yet
    answer = bot.answer("my-officer", f"/withdraw {REF} wrong caveat")
    assert answer == f"Withdrew {REF}. 0 delivered copies to be removed, 2 unsent cancelled, 0 chats told."
    deliveries = [m.key for m in _rows(bot, MessageKind.DELIVERY)]
    assert len(deliveries) == 2
    assert all(bot.store.outbox_state[k] == "failed" and bot.store.outbox_errors[k] == CANCELLED for k in deliveries)
    assert not _rows(bot, MessageKind.REMOVAL)


def test_a_copy_whose_send_is_in_flight_is_counted_apart_from_the_unsent() -> None:
    bot = Bot()
    bot.says("my-officer", ALERT)
    flying = next(m.key for m in _rows(bot, MessageKind.DELIVERY) if m.contact == "th-npoc")
    bot.store.outbox_state[flying] = "sending"  # leased by the worker: it may land yet
    answer = bot.answer("my-officer", f"/withdraw {REF} wrong caveat")
    assert answer == (f"Withdrew {REF}. 0 delivered copies to be removed, 1 unsent cancelled, 0 chats told. "
                      "1 being sent: taken back if it lands.")
    assert bot.store.audit[-1].detail["in_flight"] == "1"
    assert {d.state for d in bot.record(REF).deliveries} == {"failed"}
    assert all(m.kind is MessageKind.DELIVERY for m in bot.messages_to("th-npoc"))  # told nothing


def test_pending_reminders_are_cancelled_and_the_closed_item_gets_no_more(bot: Bot) -> None:
    bot.says("my-officer", f"/remind {REF}")
    reminders = [m.key for m in _rows(bot, MessageKind.REMINDER)]
    assert reminders
    bot.store.outbox_state.update({k: "pending" for k in reminders})  # not sent yet
    bot.says("my-officer", f"/withdraw {REF} duplicate of A-2026-0000")
    assert all(bot.store.outbox_state[k] == "failed" for k in reminders)
    with MemoryUnitOfWork(bot.store) as uow:
        assert REF not in uow.reminders.candidates(bot.clock.now() + timedelta(days=30), 100)
        assert uow.reminders.follow_ups([REF]) == []


@pytest.mark.parametrize("who", ["th-npoc", "iom-npoc", "admin"])
def test_only_the_originator_or_a_coordinator_may_withdraw(bot: Bot, who: str) -> None:
    assert bot.answer(who, f"/withdraw {REF} oops") == f"Only the originator of {REF} or a coordinator can withdraw it."
    assert bot.last_audit == [AuditAction.COMMAND, AuditAction.REFUSAL]
    assert bot.record(REF).withdrawal is None


def test_a_coordinator_withdraws_and_the_originator_is_told(bot: Bot) -> None:
    assert bot.answer("rso-coord", f"/withdraw {REF} source compromised").startswith(f"Withdrew {REF}.")
    assert bot.last_to("my-officer") == f"{REF} was withdrawn by Rso Coord (Regional Support Office): source compromised."


def test_a_reason_is_required() -> None:
    bot = Bot()
    bot.says("my-officer", ALERT)
    [answer] = bot.says("my-officer", f"/withdraw {REF}")
    assert answer == f"Say why after the reference; its recipients are told. Example: /withdraw {REF} sent to the wrong country"
    assert bot.record(REF).withdrawal is None


@pytest.mark.parametrize("command", [f"/status {REF}", f"/ack {REF}", f"/reply {REF} late news", f"/close {REF} done",
                                     f"/forward {REF} to:AU purpose:x", f"/remind {REF}", f"/withdraw {REF} again",
                                     f"/snooze {REF} 4h"])
def test_every_later_command_answers_that_it_was_withdrawn_and_does_nothing_else(bot: Bot, command: str) -> None:
    bot.says("my-officer", f"/withdraw {REF} sent to the wrong country")
    before = dict(bot.store.outbox)
    bot.later(60 * 24)
    answer = bot.answer("th-npoc", command)
    assert answer == f"{REF}: withdrawn on 2026-11-23 (sent to the wrong country). It is closed; nothing more can be done with it."
    assert [m for k, m in bot.store.outbox.items() if k not in before and m.text != answer] == []
    assert bot.last_audit == [AuditAction.COMMAND]


def test_someone_it_never_concerned_learns_that_it_was_withdrawn_not_why(bot: Bot) -> None:
    bot.says("my-officer", f"/withdraw {REF} sent to the wrong country")
    assert bot.answer("iom-npoc", f"/status {REF}") == (
        f"{REF}: withdrawn on 2026-11-23. It is closed; nothing more can be done with it.")


def test_history_of_a_withdrawn_item_shows_its_past_and_the_withdrawal_to_those_who_may_see_it(bot: Bot) -> None:
    bot.later(5)
    bot.says("th-npoc", f"/reply {REF} Both travellers held")
    bot.later(60)
    bot.says("rso-coord", f"/withdraw {REF} sent to the wrong country")
    for who, zone in (("my-officer", "Asia/Kuala_Lumpur"), ("th-npoc", "Asia/Bangkok"), ("auditor", "UTC")):
        lines = bot.answer(who, f"/history {REF}").splitlines()
        assert lines[0] == f"{REF} · TLP:AMBER H0 · withdrawn · history (times {zone})", who
        assert any(line.endswith("feedback from Th Npoc (Thailand): Both travellers held") for line in lines), who
        # Who, when (on the reader's clock) and why; said once: the closure it made is the withdrawal.
        assert lines[-1].endswith("withdrawn by Rso Coord (Regional Support Office): sent to the wrong country"), who
        assert not any("closed by" in line for line in lines), who
        assert bot.store.audit[-1].detail["command"] == "history"
    assert "My Npoc" not in bot.answer("th-npoc", f"/history {REF}")  # still only their own copy
    # Anyone else learns that it was withdrawn, not why, as from every other command.
    assert bot.answer("iom-npoc", f"/history {REF}") == (
        f"{REF}: withdrawn on 2026-11-23. It is closed; nothing more can be done with it.")


def test_why_it_was_withdrawn_is_not_told_to_a_room(bot: Bot) -> None:
    bot.says("my-officer", f"/withdraw {REF} sent to the wrong country")
    in_room = bot.says("th-npoc", f"/history {REF}", chat="console:#network")
    assert in_room == ["Th Npoc: answered in your direct chat with the bot, because the answer carries why an "
                       "item not for everyone here was withdrawn."]
    assert bot.messages_to("th-npoc")[-1].text.splitlines()[-1].endswith(
        "withdrawn by My Officer (Malaysia): sent to the wrong country")


def test_history_of_an_item_closed_then_withdrawn_shows_both(bot: Bot) -> None:
    bot.says("my-officer", f"/close {REF} travellers held")
    bot.later(30)
    bot.says("my-officer", f"/withdraw {REF} wrong flight number")
    lines = bot.answer("my-officer", f"/history {REF}").splitlines()
    assert lines[-2].endswith("closed by My Officer (Malaysia)")
    assert lines[-1].endswith("withdrawn by My Officer (Malaysia): wrong flight number")


def test_mine_no_longer_lists_it(bot: Bot) -> None:
    assert REF in bot.answer("th-npoc", "/mine")
    bot.says("my-officer", f"/withdraw {REF} wrong country")
    assert REF not in bot.answer("th-npoc", "/mine")


# --- one copy, as the command and the delivery worker plan it ---------------------------------------

def _telegram_record(sent_hours_ago: float, clock: ManualClock):  # noqa: ANN202 - an ItemRecord
    bot = Bot()
    bot.says("my-officer", "/alert to:TH tlp:green Boat sighted")
    record = bot.record(REF)
    delivery = DeliveryRecord("th-npoc", "direct:telegram:user:201", "k-1", "sent",
                              sent_at=clock.now() - timedelta(hours=sent_hours_ago), platform_message_id="201:17")
    withdrawn = replace(record, deliveries=(delivery,),
                        withdrawal=Withdrawal(clock.now(), "my-officer", "wrong country"))
    return withdrawn, delivery


def test_a_telegram_copy_inside_48_hours_is_deleted() -> None:
    clock = ManualClock()
    record, delivery = _telegram_record(47, clock)
    removal, notice = withdrawn_copy(record, delivery, small_network(), clock.now())
    assert removal.kind is MessageKind.REMOVAL and str(removal.destination) == "direct:telegram:user:201"
    planned = Removal.from_json(removal.text)
    assert (planned.chat, planned.message_id, planned.direct_with) == (
        None, "201:17", UserRef.parse("telegram:user:201"))
    assert notice.text.endswith("Disregard it; the bot removes its copy.")


def test_a_telegram_copy_past_48_hours_gets_the_one_line_notice_instead() -> None:
    clock = ManualClock()
    record, delivery = _telegram_record(48.5, clock)
    [notice] = withdrawn_copy(record, delivery, small_network(), clock.now())
    assert notice.kind is MessageKind.NOTICE and str(notice.destination) == "direct:telegram:user:201"
    assert notice.text.endswith("Disregard it and delete the copy yourself: the bot can no longer remove it here.")


def test_planning_a_copy_twice_plans_it_once() -> None:
    clock = ManualClock()
    record, delivery = _telegram_record(1, clock)
    first = withdrawn_copy(record, delivery, small_network(), clock.now())
    again = withdrawn_copy(record, delivery, small_network(), clock.now() + timedelta(minutes=5))
    assert [m.key for m in first] == [m.key for m in again]


def test_a_copy_in_a_room_is_removed_from_that_room() -> None:
    clock = ManualClock()
    record, _ = _telegram_record(1, clock)
    in_room = DeliveryRecord("th-npoc", "chat:console:#network", "k-2", "sent", sent_at=clock.now(),
                             platform_message_id="m-9")
    removal, _ = withdrawn_copy(record, in_room, small_network(), clock.now())
    planned = Removal.from_json(removal.text)
    assert (planned.chat, planned.chat_name, planned.direct_with) == (ChatRef.parse("console:#network"),
                                                                      "Network room", None)


# --- an item corrected before it was withdrawn: every revision's copies, and the lines ------------

CORRECTION = f"/correct {REF} to:TH\n\nTwo travellers, flight XX124"  # Malaysia left out: its copy taken back


def _corrected(bot: Bot, *, edited: bool) -> str:
    """Correct the item and let the worker carry it out. `edited`: Thailand's rev 1 copy was edited to
    say it is superseded; else the edit could not be made and the line was sent in its place (as
    bot/actions/supersede.py does). Thailand's rev 1 message id."""
    first = bot.record(REF).delivery_to("th-npoc").platform_message_id  # type: ignore[union-attr]
    assert first
    bot.later(30)
    bot.says("my-officer", CORRECTION)
    [edit] = _rows(bot, MessageKind.SUPERSEDE)
    if not edited:
        with MemoryUnitOfWork(bot.store) as uow:
            uow.outbox.enqueue(fallback_notice(Supersession.from_json(edit.text), edit.destination))
            uow.commit()
    bot.worker_sends()
    return first


def _removed(bot: Bot) -> dict[str, str]:
    """What each planned removal takes out: message id -> why."""
    return {r.message_id: r.purpose for r in map(Removal.from_json, (m.text for m in _rows(bot, MessageKind.REMOVAL)))}


@pytest.mark.parametrize("edited", [True, False], ids=["edited", "line-instead"])
def test_the_copies_of_an_earlier_revision_are_taken_back_too(bot: Bot, edited: bool) -> None:
    first = _corrected(bot, edited=edited)
    malaysia = _removed(bot)  # the correction took Malaysia's copy back already
    assert list(malaysia.values()) == [WITHDRAWN]
    current = bot.record(REF).delivery_to("th-npoc").platform_message_id  # type: ignore[union-attr]
    lines = [m for m in _rows(bot, MessageKind.NOTICE) if m.key.startswith("supn-")]
    assert len(lines) == (0 if edited else 1)
    bot.later(10)
    answer = bot.answer("my-officer", f"/withdraw {REF} wrong flight")
    line_part = "" if edited else " and 1 line saying an earlier copy was superseded"
    assert answer == (f"Withdrew {REF}. 2 delivered copies (1 of an earlier revision){line_part} to be removed, "
                      "0 unsent cancelled, 1 chat told.")
    taken = {k: v for k, v in _removed(bot).items() if k not in malaysia}
    expected = {current: WITHDRAWN, first: WITHDRAWN}
    if not edited:
        expected[f"msg-{lines[0].key}"] = WITHDRAWN_LINE  # the line its reader was told instead
    assert taken == expected
    # Thailand's chat: the removals, then one line for both copies.
    tail = bot.messages_to("th-npoc")[-len(expected) - 1:]
    assert [m.kind for m in tail] == [MessageKind.REMOVAL] * len(expected) + [MessageKind.NOTICE]
    assert tail[-1].text.endswith("wrong flight. Disregard it; the bot removes its copy.")
    # Malaysia's copy, taken back by the correction, is neither planned again nor told again.
    assert not [m for m in bot.messages_to("my-npoc") if "wrong flight" in m.text]
    entry = bot.store.audit[-1]
    assert entry.action is AuditAction.WITHDRAWAL
    assert (entry.detail["copies_removed"], entry.detail["earlier_copies_removed"],
            entry.detail["superseded_lines_removed"], entry.detail["recipients_told"]) == (
        "2", "1", "0" if edited else "1", "1")


def test_a_line_not_yet_sent_in_place_of_an_edit_is_never_sent(bot: Bot) -> None:
    first = _corrected(bot, edited=True)
    # The edit of a copy failed after the worker's round: its line waits in the queue.
    [edit] = _rows(bot, MessageKind.SUPERSEDE)
    line = fallback_notice(Supersession.from_json(edit.text), edit.destination)
    with MemoryUnitOfWork(bot.store) as uow:
        uow.outbox.enqueue(line)
        uow.commit()
    bot.answer("my-officer", f"/withdraw {REF} wrong flight")
    assert bot.store.outbox_state[line.key] == "failed" and bot.store.outbox_errors[line.key] == CANCELLED
    assert first in _removed(bot)
    assert bot.store.audit[-1].detail["superseded_lines_cancelled"] == "1"


def test_an_earlier_telegram_copy_past_48_hours_is_asked_to_be_deleted(bot: Bot) -> None:
    """The rev 2 copy can be removed but the rev 1 copy beside it cannot: the one line in that chat
    asks its reader to delete what the bot cannot."""
    _corrected(bot, edited=True)
    [(revision, old)] = [(r, d) for r, d in bot.store.superseded[REF] if d.contact == "th-npoc"]
    telegram = replace(old, destination="direct:telegram:user:201", sent_at=bot.clock.now() - timedelta(hours=49))
    bot.store.superseded[REF] = tuple((r, telegram if d is old else d) for r, d in bot.store.superseded[REF])
    answer = bot.answer("my-officer", f"/withdraw {REF} wrong flight")
    assert answer.startswith(f"Withdrew {REF}. 1 delivered copy to be removed, 0 unsent cancelled, 2 chats told.")
    told = [m for m in bot.store.outbox.values() if m.kind is MessageKind.NOTICE and "wrong flight" in m.text]
    assert {str(m.destination): m.text.endswith("delete the copy yourself: the bot can no longer remove it here.")
            for m in told} == {"direct:telegram:user:201": True,
                               str(bot.record(REF).delivery_to("th-npoc").destination): False}  # type: ignore[union-attr]


# --- sends in flight, and each line about the item told under its own key ---------------------------

def test_the_audit_counts_as_cancelled_only_what_is_never_sent() -> None:
    """A send in flight cannot be stopped: it lands and is then taken back, so the withdrawal's audit
    entry counts it apart from the messages that are never sent."""
    bot = Bot()
    bot.says("my-officer", ALERT)
    flying = next(m.key for m in _rows(bot, MessageKind.DELIVERY) if m.contact == "th-npoc")
    bot.store.outbox_state[flying] = "sending"  # leased by the worker; Malaysia's copy still waits
    bot.answer("my-officer", f"/withdraw {REF} wrong caveat")
    entry = bot.store.audit[-1]
    assert entry.action is AuditAction.WITHDRAWAL
    assert (entry.detail["messages_cancelled"], entry.detail["messages_in_flight"]) == ("1", "1")
    assert (entry.detail["unsent_cancelled"], entry.detail["in_flight"]) == ("1", "1")


def test_a_line_in_place_of_an_edit_in_flight_is_counted_apart(bot: Bot) -> None:
    _corrected(bot, edited=True)
    [edit] = _rows(bot, MessageKind.SUPERSEDE)
    line = fallback_notice(Supersession.from_json(edit.text), edit.destination)
    with MemoryUnitOfWork(bot.store) as uow:
        uow.outbox.enqueue(line)
        uow.commit()
    bot.store.outbox_state[line.key] = "sending"  # leased: it may land yet, and is then taken back
    answer = bot.answer("my-officer", f"/withdraw {REF} wrong flight")
    assert answer.endswith("1 being sent: taken back if it lands.")
    entry = bot.store.audit[-1]
    assert (entry.detail["superseded_lines_cancelled"], entry.detail["superseded_lines_in_flight"]) == ("0", "1")


def test_a_line_that_lands_after_the_withdrawal_is_planned_for_removal() -> None:
    """What the delivery worker plans for a line about a superseded copy that was in flight when the
    item was withdrawn: its removal, and nothing told (the chat was told with the copy it followed)."""
    clock = ManualClock()
    record, copy = _telegram_record(1, clock)
    line = replace(copy, outbox_key="supn-x", platform_message_id="201:18", sent_at=clock.now())
    [removal] = withdrawn_line(record, line, small_network(), clock.now())
    planned = Removal.from_json(removal.text)
    assert (removal.kind, planned.message_id, planned.purpose) == (MessageKind.REMOVAL, "201:18", WITHDRAWN_LINE)
    assert withdrawn_line(record, replace(line, platform_message_id=None), small_network(), clock.now()) == []


def test_a_recipient_left_out_then_back_in_is_told_of_the_withdrawal(bot: Bot) -> None:
    """Malaysia's copy is taken back by rev 2 (its reader told it no longer goes to them), rev 3 goes to
    Malaysia again in the same chat; the withdrawal is then told there too, in a line of its own."""
    bot.later(10)
    bot.says("my-officer", CORRECTION)
    bot.worker_sends()
    dropped = [m for m in bot.messages_to("my-npoc") if m.kind is MessageKind.NOTICE]
    assert [m.text.endswith("which no longer goes to you. Disregard it; the bot removes its copy.")
            for m in dropped] == [True]
    bot.later(10)
    bot.says("my-officer", f"/correct {REF} to:TH,MY")
    bot.worker_sends()
    bot.later(10)
    answer = bot.answer("my-officer", f"/withdraw {REF} wrong flight")
    assert answer.endswith("2 chats told.")
    told = [m for m in bot.messages_to("my-npoc") if m.kind is MessageKind.NOTICE and "wrong flight" in m.text]
    assert len(told) == 1 and told[0].key != dropped[0].key


def test_each_correction_that_leaves_a_reader_out_tells_them_under_its_own_key(bot: Bot) -> None:
    """Left out at rev 2, back at rev 3, left out again at rev 4: told twice, once by each."""
    bot.says("my-officer", CORRECTION)
    bot.worker_sends()
    bot.says("my-officer", f"/correct {REF} to:TH,MY")
    bot.worker_sends()
    bot.says("my-officer", CORRECTION)
    bot.worker_sends()
    told = [m.text for m in bot.messages_to("my-npoc") if m.kind is MessageKind.NOTICE]
    assert [t.split(": corrected as ")[1][:len(REF) + 6] for t in told] == [f"{REF} rev 2", f"{REF} rev 4"]


def test_the_command_and_the_worker_plan_the_same_line_once(bot: Bot) -> None:
    """The line a chat is told has one key whoever plans it: the withdrawal, then the delivery worker
    taking back a copy there that landed late, queue it once."""
    bot.answer("my-officer", f"/withdraw {REF} wrong flight")
    record = bot.record(REF)
    delivery = record.delivery_to("th-npoc")
    assert delivery is not None
    *_, told = withdrawn_copy(record, delivery, small_network(), bot.clock.now())
    assert told.key in bot.store.outbox and bot.store.outbox[told.key].text == told.text


def test_a_late_copy_of_a_reader_left_out_is_told_under_the_correction_s_key(bot: Bot) -> None:
    """The correction and the worker (late_copy) plan the line 'no longer goes to you' under one key."""
    bot.says("my-officer", CORRECTION)
    [told] = [m for m in bot.messages_to("my-npoc") if m.kind is MessageKind.NOTICE]
    [(revision, copy)] = [(r, d) for r, d in bot.store.superseded[REF] if d.contact == "my-npoc"]
    *_, late = late_copy(bot.record(REF), revision, copy, "banner", False, small_network(), bot.clock.now())
    assert late.key == told.key


def test_a_reader_asked_by_a_correction_to_delete_a_copy_is_not_told_again_on_its_account(bot: Bot) -> None:
    """Malaysia's Telegram copy was past 48 hours when rev 2 left Malaysia out: its reader was asked
    then to delete it. The withdrawal tells Thailand, and not Malaysia again."""
    record = bot.record(REF)
    old = replace(record.delivery_to("my-npoc"), destination="direct:telegram:user:301",  # type: ignore[arg-type]
                  sent_at=bot.clock.now() - timedelta(hours=49))
    bot.store.items[REF] = replace(record, deliveries=tuple(old if d.contact == "my-npoc" else d
                                                            for d in record.deliveries))
    bot.says("my-officer", CORRECTION)
    bot.worker_sends()
    asked = [m for m in bot.store.messages_to("direct:telegram:user:301") if m.kind is MessageKind.NOTICE]
    assert [m.text.endswith("delete the copy yourself: the bot can no longer remove it here.") for m in asked] == [True]
    answer = bot.answer("my-officer", f"/withdraw {REF} wrong flight")
    assert answer.endswith("1 chat told.")
    assert not [m for m in bot.store.messages_to("direct:telegram:user:301") if "wrong flight" in m.text]


def _partly_sent(bot: Bot, contact: str) -> str:
    """The worker sent the photo of `contact`'s copy and waits to retry its text; the other copies went."""
    partial = next(m.key for m in _rows(bot, MessageKind.DELIVERY) if m.contact == contact)
    bot.store.outbox_state[partial] = "pending"
    bot.store.outbox_parts[partial] = ("201:7",)
    return partial


def test_a_copy_whose_photo_went_and_whose_text_waits_is_cancelled_and_its_photo_removed() -> None:
    bot = Bot()
    bot.says("my-officer", ALERT)
    partial = _partly_sent(bot, "th-npoc")
    bot.worker_sends()
    answer = bot.answer("my-officer", f"/withdraw {REF} wrong photo")
    assert answer == f"Withdrew {REF}. 2 delivered copies to be removed, 0 unsent cancelled, 2 chats told."
    assert bot.store.outbox_state[partial] == "failed" and bot.store.outbox_errors[partial] == CANCELLED
    removals = {Removal.from_json(m.text).message_id for m in _rows(bot, MessageKind.REMOVAL)}
    assert "201:7" in removals
    [delivery] = [d for d in bot.record(REF).deliveries if d.contact == "th-npoc"]
    assert (delivery.state, delivery.platform_message_id) == ("failed", "201:7")
    assert bot.store.audit[-1].detail["partly_sent_cancelled"] == "1"
    assert bot.messages_to("th-npoc")[-1].text.endswith("Disregard it; the bot removes its copy.")


def test_a_copy_that_failed_for_good_after_its_photo_is_removed_and_shown_partly_delivered() -> None:
    bot = Bot()
    bot.says("my-officer", ALERT)
    partial = next(m.key for m in _rows(bot, MessageKind.DELIVERY) if m.contact == "th-npoc")
    bot.store.outbox_state[partial] = "failed"  # as the worker leaves it: known by the photo that went
    with MemoryUnitOfWork(bot.store) as uow:
        uow.items.mark_delivery(partial, "failed", bot.clock.now(), "201:7")
        uow.commit()
    bot.worker_sends()
    status = bot.answer("my-officer", f"/status {REF}")
    [line] = [line for line in status.splitlines() if "(Thailand)" in line]
    assert line.endswith("partly delivered (part of it reached them, the rest failed)")
    answer = bot.answer("my-officer", f"/withdraw {REF} wrong photo")
    assert answer.startswith(f"Withdrew {REF}. 2 delivered copies to be removed, 0 unsent cancelled")
    assert "201:7" in {Removal.from_json(m.text).message_id for m in _rows(bot, MessageKind.REMOVAL)}


def test_a_correction_marks_a_copy_whose_photo_went_before_it_was_cancelled() -> None:
    bot2 = Bot()
    bot2.says("my-officer", ALERT)
    partial = _partly_sent(bot2, "th-npoc")
    bot2.worker_sends()
    answer = bot2.answer("my-officer", f"/correct {REF} Two travellers, flight XX124")
    assert "2 marked superseded" in answer and "0 unsent cancelled" in answer
    supersede = [m for m in bot2.store.outbox.values() if m.kind is MessageKind.SUPERSEDE]
    assert any(Supersession.from_json(m.text).message_id == "201:7" for m in supersede)
    # Withdrawn after: the photo of the earlier revision is taken back with the rest.
    bot2.answer("my-officer", f"/withdraw {REF} wrong photo")
    assert "201:7" in {Removal.from_json(m.text).message_id for m in _rows(bot2, MessageKind.REMOVAL)}
    assert bot2.store.outbox_state[partial] == "failed"


@pytest.mark.parametrize(("first_part", "sent", "removable_now"), [
    (None, 47, True),    # one message, sent 47 hours ago: inside Telegram's 48 (and the margin)
    (None, 49, False),
    (49, None, False),   # only partly sent: its photo went 49 hours ago, its text never
    (47, None, True),
    (49, 47, False),     # sent whole, its photo 49 hours ago and its text (a retry) 47: the photo is past
])
def test_a_telegram_copy_is_removable_for_48_hours_from_its_first_message(
        first_part: int | None, sent: int | None, removable_now: bool) -> None:
    now = ManualClock().now()
    ago = {None: None, 47: now - timedelta(hours=47), 49: now - timedelta(hours=49)}
    copy = DeliveryRecord("th-npoc", str(Destination.direct(UserRef.parse("telegram:user:42"))), "k", "failed" if sent is None else "sent",
                          sent_at=ago[sent], platform_message_id="42:7", first_part_at=ago[first_part])
    assert removable(Destination.parse(copy.destination), copy, now) is removable_now
