"""Inbox processing: exactly once, failures answered with a reference, database outages retried."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from alerts.clock import ManualClock
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage
from bot.inbox import InboxProcessor
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.builders import RecordingAudit


class ScriptedDispatcher:
    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.handled: list[str] = []

    def handle(self, uow, message: InboundMessage) -> None:  # noqa: ANN001
        if self.failures:
            raise self.failures.pop(0)
        self.handled.append(message.event_id)


def message(event: str, clock: ManualClock) -> InboundMessage:
    return InboundMessage(event, UserRef.parse("console:alice"), ChatRef.parse("console:@alice"), "/whoami", clock.now())


@pytest.fixture
def factory(engine, sealer) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine, sealer, RecordingAudit, ManualClock())


def processor(factory, dispatcher) -> InboxProcessor:  # noqa: ANN001
    keys = itertools.count(1)
    return InboxProcessor(factory, dispatcher, lambda: f"k{next(keys)}")


def test_a_message_recorded_twice_is_handled_once(factory) -> None:
    dispatcher = ScriptedDispatcher()
    inbox = processor(factory, dispatcher)
    clock = ManualClock()
    assert inbox.record(message("e1", clock)) is True
    assert inbox.record(message("e1", clock)) is False
    inbox.process_pending()
    inbox.process_pending()
    assert dispatcher.handled == ["e1"]


def test_a_database_outage_leaves_the_message_pending(factory) -> None:
    dispatcher = ScriptedDispatcher(OperationalError("begin", {}, Exception("database is locked")))
    inbox = processor(factory, dispatcher)
    inbox.record(message("e1", ManualClock()))
    with pytest.raises(OperationalError):
        inbox.process_pending()
    inbox.process_pending()
    assert dispatcher.handled == ["e1"]


def test_a_bug_is_answered_with_a_reference_and_the_message_is_kept(factory) -> None:
    dispatcher = ScriptedDispatcher(KeyError("boom"))
    inbox = processor(factory, dispatcher)
    inbox.record(message("e1", ManualClock()))
    inbox.process_pending()
    inbox.process_pending()
    assert dispatcher.handled == []  # failed for good: not retried into a loop
    with factory() as uow:
        [answer] = uow.outbox.lease(ManualClock().now(), 10, timedelta(seconds=30))
    assert "Something went wrong on our side (reference E-" in answer.text
    assert "boom" not in answer.text and "Traceback" not in answer.text
