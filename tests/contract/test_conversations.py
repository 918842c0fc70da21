"""A command awaiting its text, what became of a command message, and an event read back from the inbox
behave alike on the fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from alerts.clock import ManualClock
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage
from handlers.ports import AwaitedBody, CommandOutcome
from tests.contract.conftest import Backend

ALICE = UserRef.parse("console:alice")
BOB = UserRef.parse("console:bob")
ROOM = ChatRef.parse("console:#network")


def test_a_command_awaits_its_text_until_it_is_stopped_and_a_new_one_replaces_it(backend: Backend,
                                                                                 clock: ManualClock) -> None:
    first = AwaitedBody(ALICE, ROOM, "alert", "console", "e1", clock.now())
    with backend.factory() as uow:
        assert uow.conversations.awaited(ALICE, ROOM) is None
        uow.conversations.await_body(first)
        uow.commit()
    later = AwaitedBody(ALICE, ROOM, "request", "console", "e2", clock.now() + timedelta(minutes=1))
    with backend.factory() as uow:
        assert uow.conversations.awaited(ALICE, ROOM) == first
        assert uow.conversations.awaited(BOB, ROOM) is None
        assert uow.conversations.awaited(ALICE, ChatRef.parse("console:@alice")) is None
        uow.conversations.await_body(later)
        uow.commit()
    with backend.factory() as uow:
        assert uow.conversations.awaited(ALICE, ROOM) == later
        uow.conversations.stop_awaiting(ALICE, ROOM)
        uow.conversations.stop_awaiting(BOB, ROOM)  # nothing awaited: nothing happens
        uow.commit()
    with backend.factory() as uow:
        assert uow.conversations.awaited(ALICE, ROOM) is None


def test_an_outcome_is_kept_by_platform_and_message_id(backend: Backend, clock: ManualClock) -> None:
    with backend.factory() as uow:
        uow.conversations.note_outcome("matrix", "$m1", CommandOutcome(ALICE, True, "A-2026-0001"), clock.now())
        uow.conversations.note_outcome("console", "m2", CommandOutcome(BOB, True), clock.now())
        uow.commit()
    with backend.factory() as uow:
        assert uow.conversations.outcome("matrix", "$m1") == CommandOutcome(ALICE, True, "A-2026-0001")
        assert uow.conversations.outcome("console", "m2") == CommandOutcome(BOB, True, None)
        assert uow.conversations.outcome("telegram", "$m1") is None


def test_an_event_is_read_back_with_the_edit_it_is(backend: Backend, clock: ManualClock) -> None:
    edit = InboundMessage("e2", ALICE, ROOM, "/alert to:TH x", clock.now(), message_id="m2", edit_of="m1")
    with backend.factory() as uow:
        uow.inbox.record(edit)
        uow.commit()
    with backend.factory() as uow:
        assert uow.inbox.get("console", "e2") == edit
        assert uow.inbox.pending(5) == [edit]
        assert uow.inbox.get("console", "e9") is None


def test_a_guided_form_is_kept_per_sender_and_chat_until_dropped(backend: Backend) -> None:
    form = {"kind": "alert", "step": "body", "started": 1.5, "to": "TH", "body": "Two travellers"}
    with backend.factory() as uow:
        assert uow.conversations.form(ALICE, ROOM) is None
        uow.conversations.keep_form(ALICE, ROOM, form)
        uow.commit()
    with backend.factory() as uow:
        assert uow.conversations.form(ALICE, ROOM) == form
        assert uow.conversations.form(BOB, ROOM) is None
        uow.conversations.keep_form(ALICE, ROOM, {**form, "step": "confirm"})
        uow.commit()
    with backend.factory() as uow:
        assert uow.conversations.form(ALICE, ROOM) == {**form, "step": "confirm"}
        uow.conversations.keep_form(ALICE, ROOM, None)
        uow.commit()
    with backend.factory() as uow:
        assert uow.conversations.form(ALICE, ROOM) is None


def test_what_a_next_message_may_answer_is_the_form_and_the_awaited_command_each_read_alone(
        backend: Backend, clock: ManualClock) -> None:
    form = {"kind": "alert", "step": "tlp", "started": 1.5, "to": "TH"}
    awaited = AwaitedBody(ALICE, ROOM, "alert", "console", "e1", clock.now())
    with backend.factory() as uow:
        assert uow.conversations.waiting(ALICE, ROOM) == (None, None)
        uow.conversations.keep_form(ALICE, ROOM, form)
        uow.conversations.keep_form(BOB, ROOM, {**form, "to": "MY"})
        uow.commit()
    with backend.factory() as uow:
        assert uow.conversations.waiting(ALICE, ROOM) == (form, None)
        uow.conversations.await_body(awaited)
        uow.commit()
    with backend.factory() as uow:
        assert uow.conversations.waiting(ALICE, ROOM) == (form, awaited)
        assert uow.conversations.waiting(ALICE, ROOM) == (uow.conversations.form(ALICE, ROOM),
                                                          uow.conversations.awaited(ALICE, ROOM))
        assert uow.conversations.waiting(BOB, ROOM) == ({**form, "to": "MY"}, None)
        assert uow.conversations.waiting(ALICE, ChatRef.parse("console:@alice")) == (None, None)
        uow.conversations.keep_form(ALICE, ROOM, None)
        uow.commit()
    with backend.factory() as uow:
        assert uow.conversations.waiting(ALICE, ROOM) == (None, awaited)
