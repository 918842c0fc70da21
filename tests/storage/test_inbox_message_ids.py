"""The inbox keeps what a connector said of a message beyond its text: the platform's id of the
message (to remove it from a shared chat) and whether it came from the sender's direct chat."""

from __future__ import annotations

from alerts.clock import ManualClock
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage
from storage.uow import SqlUnitOfWorkFactory


def test_message_id_and_direct_round_trip(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    sender, room = UserRef.parse("matrix:@a:example.org"), ChatRef.parse("matrix:!r:example.org")
    messages = [InboundMessage("$e1", sender, room, "/mine", clock.now(), message_id="$e1", direct=True),
                InboundMessage("$e2", sender, room, "/mine", clock.now(), message_id="$e2"),
                InboundMessage("$e3", sender, room, "/mine", clock.now()),
                InboundMessage("$e4", sender, room, "", clock.now(), remark="A ❤️ reaction does nothing.")]
    with uow_factory() as uow:
        uow.inbox.record(messages[0])
        uow.inbox.record_many(messages[1:])
        uow.commit()
    with uow_factory() as uow:
        assert [(m.message_id, m.direct) for m in uow.inbox.pending(10)] == [("$e1", True), ("$e2", False),
                                                                             (None, False), (None, False)]
        assert [m.remark for m in uow.inbox.pending(10)] == [None, None, None, "A ❤️ reaction does nothing."]


def test_the_pressed_message_round_trips(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    """A command sent by a button keeps which message the button was on, for its outcome (alerts.pressed)."""
    sender, chat = UserRef.parse("telegram:user:201"), ChatRef.parse("telegram:201")
    messages = [InboundMessage("telegram:1", sender, chat, "/ack A-2026-0001", clock.now(), pressed="201:7"),
                InboundMessage("telegram:2", sender, chat, "/mine", clock.now())]
    with uow_factory() as uow:
        uow.inbox.record_many(messages)
        uow.commit()
    with uow_factory() as uow:
        assert [m.pressed for m in uow.inbox.pending(10)] == ["201:7", None]


def test_where_answers_attach_round_trips(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    """The connector's answer_to (a Matrix command's thread and event) is kept for the handlers' answers."""
    from alerts.identity import MessageRef
    sender, room = UserRef.parse("matrix:@a:example.org"), ChatRef.parse("matrix:!r:example.org")
    messages = [InboundMessage("$t1", sender, room, "/mine", clock.now(), message_id="$t1",
                               answer_to=MessageRef(room, "$t1 $root")),
                InboundMessage("$t2", sender, room, "/mine", clock.now(), message_id="$t2")]
    with uow_factory() as uow:
        uow.inbox.record_many(messages)
        uow.commit()
    with uow_factory() as uow:
        assert [m.answer_to for m in uow.inbox.pending(10)] == [MessageRef(room, "$t1 $root"), None]
