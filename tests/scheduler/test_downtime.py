"""Reminders due while the bot was down fire once, late, after the restart: not never, not twice.

A "restart" is a new ReminderService on the same database, planning from scratch (reconcile), as
bot.scheduling.scheduler does at start; the clock is a manual one, so two hours pass without any sleeping.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine

from alerts.clock import ManualClock
from alerts.reminder_policy import ReminderPolicy
from tests.fakes import FixedDirectory
from handlers.followup_reminders import ReminderService
from storage.uow import SqlUnitOfWorkFactory
from tests.sample_network import small_network
from tests.scheduler.support import DUE_ONLY, audited, logged, reminder_keys, reminders_in_outbox, seed

DOWNTIME = timedelta(hours=2)


def restart(uow_factory: SqlUnitOfWorkFactory, policy: ReminderPolicy = DUE_ONLY) -> ReminderService:
    return ReminderService(uow_factory, FixedDirectory(small_network()), policy)


def test_a_hundred_reminders_due_during_a_two_hour_downtime_each_fire_exactly_once_after_restart(
        uow_factory: SqlUnitOfWorkFactory, engine: Engine, clock: ManualClock) -> None:
    down_at = clock.now()
    # Item i is due i*72 seconds into the downtime: a hundred due times spread over the two hours.
    for i in range(1, 101):
        seed(uow_factory, i, down_at - timedelta(hours=1) + i * timedelta(seconds=72))
    before = restart(uow_factory).reconcile(down_at)  # the last round before the bot went down
    assert (before.planned, before.sent) == (100, 0)

    clock.advance(DOWNTIME)  # nothing runs for two hours
    after = restart(uow_factory).reconcile(clock.now())
    assert (after.planned, after.sent, after.superseded) == (100, 100, 0)
    keys = reminder_keys(engine)
    assert len(keys) == len(set(keys)) == 100
    assert {key.split(":")[1] for key in keys} == {f"A-2026-{i:04d}" for i in range(1, 101)}
    assert audited(engine, "reminder") == logged(engine, "sent") == 100

    # The missed timer fires too (once, coalesced), and the bot may restart again: nothing more.
    service = restart(uow_factory)
    assert service.tick(clock.now()).sent == 0
    assert service.reconcile(clock.now()).sent == 0
    assert restart(uow_factory).reconcile(clock.now() + timedelta(minutes=1)).sent == 0
    assert reminders_in_outbox(engine) == audited(engine, "reminder") == 100


def test_with_every_stage_each_recipient_gets_one_late_reminder_and_each_escalation_once(
        uow_factory: SqlUnitOfWorkFactory, engine: Engine, clock: ManualClock) -> None:
    """Urgent items whose acknowledgement is due 40 minutes into the downtime: the reminders before
    it, at it and two repeats are missed, and so are the escalations to the backup and coordinators."""
    down_at = clock.now()
    for i in range(1, 11):
        seed(uow_factory, i, down_at - timedelta(minutes=20), to=("th-npoc", "my-npoc"))
    restart(uow_factory, ReminderPolicy()).reconcile(down_at)
    clock.advance(DOWNTIME)
    report = restart(uow_factory, ReminderPolicy()).reconcile(clock.now())
    keys = reminder_keys(engine)
    assert len(keys) == len(set(keys)) == report.sent
    recipient_stages = [k for k in keys if k.count(":") == 4]  # to the recipient themselves
    assert sorted({k.split(":")[2] for k in recipient_stages}) == ["my-npoc", "th-npoc"]
    assert len(recipient_stages) == 20  # one per item and recipient: the latest repeat
    assert all(k.endswith("ack-repeat:2") for k in recipient_stages)
    assert len([k for k in keys if "ack-backup" in k]) == 10  # Thailand's backup, once per item
    assert len([k for k in keys if "ack-coordinators" in k]) == 20
    assert logged(engine, "superseded") == 20 * 3  # before, due, first repeat
    assert restart(uow_factory, ReminderPolicy()).reconcile(clock.now()).sent == 0
