"""Inbox processing: exactly once, failures answered with a reference, database outages retried."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from alerts.clock import ManualClock
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage
from bot.runtime.inbox import InboxProcessor
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.builders import RecordingAudit, sealing


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
    return SqlUnitOfWorkFactory(engine, sealing(sealer, RecordingAudit), ManualClock())


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


class FailsOn(ScriptedDispatcher):
    """A bug: handling `event` raises every time."""

    def __init__(self, event: str, error: Exception) -> None:
        super().__init__()
        self.event, self.error, self.attempts = event, error, 0

    def handle(self, uow, message: InboundMessage) -> None:  # noqa: ANN001
        if message.event_id == self.event:
            self.attempts += 1
            raise self.error
        super().handle(uow, message)


def test_a_bug_is_answered_with_a_reference_and_the_message_is_kept(factory) -> None:
    dispatcher = FailsOn("e1", KeyError("boom"))
    inbox = processor(factory, dispatcher)
    inbox.record(message("e1", ManualClock()))
    inbox.process_pending()
    attempts = dispatcher.attempts
    inbox.process_pending()
    assert dispatcher.attempts == attempts  # failed for good: not retried into a loop
    with factory() as uow:
        [answer] = uow.outbox.lease(ManualClock().now(), 10, timedelta(seconds=30))
    assert "Something went wrong on our side (reference E-" in answer.text
    assert "boom" not in answer.text and "Traceback" not in answer.text


class DirectoryWriter:
    changed = False


class ChangesTheDirectory(ScriptedDispatcher):
    """Handles every message; the first one changes the directory, as a membership command does."""

    def handle(self, uow, message: InboundMessage) -> None:  # noqa: ANN001
        super().handle(uow, message)
        if message.event_id == "e1":
            uow.directory_writer.changed = True


class WithDirectoryWriter:
    """The runtime's units of work carry a directory writer (bot.actions.membership); so do these."""

    def __init__(self, inner: SqlUnitOfWorkFactory, commits: list[list[str]], handled: list[str]) -> None:
        self.inner, self.commits, self.handled = inner, commits, handled

    def __call__(self, **options):  # noqa: ANN003, ANN204
        uow = self.inner(**options)
        uow.directory_writer = DirectoryWriter()
        factory, plain_commit = self, uow.commit

        def commit() -> None:
            plain_commit()
            factory.commits.append(list(factory.handled))
            uow.directory_writer.changed = False

        uow.commit = commit
        return uow


def test_a_directory_change_is_committed_before_the_next_message_is_handled(factory) -> None:
    dispatcher = ChangesTheDirectory()
    commits: list[list[str]] = []
    inbox = processor(WithDirectoryWriter(factory, commits, dispatcher.handled), dispatcher)
    for event_id in ("e1", "e2", "e3"):
        inbox.record(message(event_id, ManualClock()))
    commits.clear()
    assert inbox.process_pending() == 3
    assert commits == [["e1"], ["e1", "e2", "e3"]]  # e2 ran after e1's change was committed
