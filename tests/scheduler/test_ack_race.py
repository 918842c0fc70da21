"""An acknowledgement racing a reminder never yields an acknowledgement reminder for an acknowledged item.

The scheduler's round reads each item's state inside the transaction that writes its reminders, and
(on PostgreSQL) first takes the lock every command takes first, the audit log's head; SQLite's
BEGIN IMMEDIATE makes every write transaction the only writer. So an /ack either commits before the
round reads the item, and no reminder is made, or waits until the round has committed.
"""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import Engine, text

from alerts.clock import ManualClock
from alerts.due import DuePolicy
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage
from handlers.dispatcher import Dispatcher
from tests.fakes import FixedDirectory
from handlers.followup_reminders import ReminderService
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from storage.reminders import SqlReminders
from storage.uow import SqlUnitOfWorkFactory
from tests.sample_network import small_network
from tests.scheduler.support import DUE_ONLY, reminder_keys, seed

ACK_REMINDER = "rem:A-2026-0001:th-npoc:ack-due:0"


def _ack(clock: ManualClock) -> InboundMessage:
    return InboundMessage("ack-1", UserRef.parse("console:th-npoc"), ChatRef.parse("console:@th-npoc"),
                          "/ack A-2026-0001", clock.now())


def _dispatcher() -> Dispatcher:
    keys = itertools.count(1)
    return Dispatcher(FixedDirectory(small_network()), PostingPolicy(DuePolicy.default(), {}),
                      lambda: Vocabulary(topics=()), lambda: f"k-{next(keys)}")


def _due_now(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> ReminderService:
    """An urgent item to Thailand, delivered at once; the clock at its acknowledgement due time."""
    seed(uow_factory, 1, clock.now(), to=("th-npoc",))
    service = ReminderService(uow_factory, FixedDirectory(small_network()), DUE_ONLY)
    service.reconcile(clock.now())
    clock.advance(timedelta(hours=1))
    return service


@pytest.mark.parametrize("acknowledged, expected", [(True, []), (False, [ACK_REMINDER])])
def test_an_ack_committed_after_the_round_picked_the_item_is_seen_before_it_sends(
        uow_factory: SqlUnitOfWorkFactory, engine: Engine, clock: ManualClock,
        acknowledged: bool, expected: list[str]) -> None:
    service = _due_now(uow_factory, clock)
    with uow_factory() as uow:
        picked = uow.reminders.candidates(clock.now(), 100)  # the round's first step ...
    assert picked == ["A-2026-0001"]
    if acknowledged:  # ... the acknowledgement commits in between ...
        with uow_factory() as uow:
            _dispatcher().handle(uow, _ack(clock))
            uow.commit()
    service.process(picked, clock.now())  # ... and the round goes on
    assert reminder_keys(engine) == expected


def _blocked_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )).scalar())


def _race(uow_factory: SqlUnitOfWorkFactory, engine: Engine, service: ReminderService, clock: ManualClock) -> None:
    """The /ack's transaction is open (its writes made, not committed) while a round starts."""
    ack = uow_factory()
    ack.__enter__()
    try:
        _dispatcher().handle(ack, _ack(clock))
        failures: list[BaseException] = []

        def round_() -> None:
            try:
                service.tick(clock.now())
            except BaseException as exc:  # noqa: BLE001 - reported by the test thread
                failures.append(exc)

        worker = threading.Thread(target=round_)
        worker.start()
        if engine.dialect.name == "postgresql":  # commit only once the round waits on a lock, or is done
            deadline = time.monotonic() + 60  # a guard against a hang, not a timing assertion
            while worker.is_alive() and not _blocked_on_a_lock(engine):
                worker.join(0.01)
                assert time.monotonic() < deadline, "the round neither finished nor waited on a lock"
        ack.commit()
    finally:
        ack.__exit__(None, None, None)
    worker.join(30)
    assert not worker.is_alive() and not failures, failures


def test_a_round_that_starts_while_an_ack_is_in_flight_waits_for_it(
        uow_factory: SqlUnitOfWorkFactory, engine: Engine, clock: ManualClock) -> None:
    service = _due_now(uow_factory, clock)
    _race(uow_factory, engine, service, clock)
    assert reminder_keys(engine) == []


@pytest.mark.postgres
def test_without_the_lock_the_race_would_remind_an_acknowledged_item(
        uow_factory: SqlUnitOfWorkFactory, engine: Engine, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The control: reading without the lock lets the round decide on a state the /ack is changing."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises every writer at BEGIN: there is no lock to leave out")
    unlocked = SqlReminders.follow_ups
    monkeypatch.setattr(SqlReminders, "follow_ups", lambda self, refs, lock=False: unlocked(self, refs, lock=False))
    service = _due_now(uow_factory, clock)
    _race(uow_factory, engine, service, clock)
    assert reminder_keys(engine) == [ACK_REMINDER]
