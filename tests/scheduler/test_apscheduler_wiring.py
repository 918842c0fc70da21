"""The APScheduler wiring, with APScheduler's own (real) clock: the job store lives in the bot's database,
each start reconciles the jobs with the settings, and a run missed while the bot was down happens once.

"Downtime" is made by moving a stored job's next run two hours (or days) into the past while the
scheduler is stopped, which is exactly what the job store holds after the bot was down that long.
Waiting is on APScheduler's job events, bounded by a guard; nothing sleeps and no time is asserted.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from apscheduler.events import EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from sqlalchemy import Engine, text

from alerts.clock import ManualClock
from alerts.identity import ChatRef
from alerts.priority import Priority
from bot.config.reminders import ReminderSettings
from bot.scheduling.scheduler import ReminderScheduler, start_scheduler
from bot.scheduling.jobs import DIGEST, TICK, job_specs
from handlers.followup_reminders import ReminderService
from storage.uow import SqlUnitOfWorkFactory
from tests.scheduler.support import DUE_ONLY, reminders_in_outbox, runtime_like, seed

WITH_DIGEST = ReminderSettings(digest_room=ChatRef.parse("console:#coordination"),
                               bulletin_room=ChatRef.parse("console:#network"), digest_timezone="Asia/Bangkok")


async def _stopped_after_downtime(scheduler: ReminderScheduler, job_id: str, missed: timedelta) -> None:
    """Stop the scheduler as if it had not run `job_id` for `missed`: its next run lies that far back."""
    assert scheduler.scheduler is not None
    scheduler.scheduler.pause()
    scheduler.scheduler.modify_job(job_id, next_run_time=datetime.now(timezone.utc) - missed)
    await scheduler.stop()


async def _events_of(scheduler: ReminderScheduler, job_id: str, mask: int) -> list[JobExecutionEvent]:
    """The events of `job_id` from now on, once the first has come (a guard bounds the wait)."""
    events: list[JobExecutionEvent] = []
    first = asyncio.Event()

    def listener(event: JobExecutionEvent) -> None:
        if event.job_id == job_id:
            events.append(event)
            first.set()

    assert scheduler.scheduler is not None
    scheduler.scheduler.add_listener(listener, mask)
    await asyncio.wait_for(first.wait(), timeout=60)
    for _ in range(50):  # let anything else already due run too: it would show in `events`
        await asyncio.sleep(0)
    return events


async def test_the_jobs_live_in_the_bots_database_and_each_start_reconciles_them(
        engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    rt = runtime_like(engine, uow_factory, clock, WITH_DIGEST)
    try:
        first = await start_scheduler(rt)
        assert first is not None and first.reconciled == {
            "reminders.tick": "added", "reminders.digest": "added", "reminders.bulletin": "added"}
        jobs = first.scheduler.get_jobs()  # type: ignore[union-attr]
        assert {(j.coalesce, j.misfire_grace_time, j.max_instances) for j in jobs} == {(True, None, 1)}
        await first.stop()
        with engine.connect() as conn:  # APScheduler's table, in the bot's own database
            assert sorted(conn.execute(text("SELECT id FROM apscheduler_jobs")).scalars()) == [
                "reminders.bulletin", "reminders.digest", "reminders.tick"]
        again = await start_scheduler(rt)
        assert again is not None and set(again.reconciled.values()) == {"kept"}
        await again.stop()
        rt.settings.reminders = replace(WITH_DIGEST, tick=timedelta(minutes=2), bulletin_room=None)
        changed = await start_scheduler(rt)
        assert changed is not None and changed.reconciled == {
            "reminders.tick": "rescheduled", "reminders.digest": "kept", "reminders.bulletin": "removed"}
        await changed.stop()
    finally:
        rt.db.close()


async def test_a_tick_missed_for_two_hours_runs_once_and_each_due_reminder_goes_once(
        engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    for i in range(1, 101):  # due one by one during the two hours the bot will be down
        seed(uow_factory, i, clock.now() - timedelta(hours=1) + i * timedelta(seconds=72))
    due_only = ReminderSettings(**{p.value: DUE_ONLY.stages[p] for p in Priority}, quiet_hours=None)
    rt = runtime_like(engine, uow_factory, clock, due_only)
    try:
        before = await start_scheduler(rt)
        assert before is not None and before.catch_up is not None and before.catch_up.sent == 0
        await _stopped_after_downtime(before, TICK, timedelta(hours=2))  # 120 one-minute ticks missed
        clock.advance(timedelta(hours=2))
        after = await start_scheduler(rt)
        assert after is not None and after.reconciled["reminders.tick"] == "kept"
        assert after.catch_up is not None and after.catch_up.sent == 100  # planned again from the items
        ticks = await _events_of(after, TICK, EVENT_JOB_EXECUTED)
        assert len(ticks) == 1 and ticks[0].retval.sent == 0  # coalesced into one late run: nothing new
        job = after.scheduler.get_job(TICK)  # type: ignore[union-attr]
        assert job.next_run_time > datetime.now(timezone.utc)
        await after.stop()
        assert reminders_in_outbox(engine) == 100 and rt.worker.wakes
    finally:
        rt.db.close()


async def test_a_digest_missed_for_two_days_is_posted_once_for_the_latest_day(
        engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    rt = runtime_like(engine, uow_factory, clock, WITH_DIGEST)
    try:
        first = await start_scheduler(rt)
        assert first is not None
        await _stopped_after_downtime(first, DIGEST, timedelta(days=2, hours=1))
        second = await start_scheduler(rt)
        assert second is not None
        [run] = await _events_of(second, DIGEST, EVENT_JOB_EXECUTED)
        assert run.retval is True
        await second.stop()
        with engine.connect() as conn:
            days = list(conn.execute(text("SELECT key FROM scheduled_runs")).scalars())
            posted = conn.execute(text("SELECT count(*) FROM outbox WHERE destination = 'chat:console:#coordination'"))
            assert posted.scalar() == 1
        assert len(days) == 1 and days[0].startswith("digest:")
    finally:
        rt.db.close()


async def test_with_a_short_misfire_grace_the_missed_run_would_be_dropped(
        engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    """Why the jobs have no grace: with one second of it, a digest a day late is skipped as missed."""
    url = engine.url.render_as_string(hide_password=False)
    specs = [replace(spec, grace=1) for spec in job_specs(timedelta(minutes=1), WITH_DIGEST.digest_time, "UTC",
                                                         digest=True, bulletin_day=None)]

    def make() -> ReminderScheduler:
        service = ReminderService(uow_factory, rt.directory, DUE_ONLY, digest_room=WITH_DIGEST.digest_room)
        return ReminderScheduler(service, run_on_db=rt.db.run, clock=clock, job_store_url=url, specs=specs)

    rt = runtime_like(engine, uow_factory, clock, ReminderSettings())
    try:
        first = make()
        await first.start()
        assert first.active
        await _stopped_after_downtime(first, DIGEST, timedelta(days=2, hours=1))
        second = make()
        await second.start()
        assert second.active
        [missed] = await _events_of(second, DIGEST, EVENT_JOB_MISSED | EVENT_JOB_EXECUTED)
        assert missed.code == EVENT_JOB_MISSED
        await second.stop()
        assert reminders_in_outbox(engine) == 0
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM scheduled_runs")).scalar() == 0  # no digest
    finally:
        rt.db.close()
