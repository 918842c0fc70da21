"""The reminder scheduler: APScheduler 3 (AsyncIOScheduler) with its job store in the bot's database.

    scheduler = await start_scheduler(runtime)   # None when [reminders] enabled = false
    ...
    await scheduler.stop()

Only the instance holding the instance lock starts it (bot.ops.leadership decides; bot.runtime.serve
asks): this module takes no lock of its own. At start: start APScheduler paused, make its jobs match
the settings (bot.scheduling.jobs.reconcile_jobs), plan every open item again from the items
(ReminderService.reconcile, which also sends what fell due while the bot was down), then let the
timers run. Should two ever run at once, the job store and the outbox keys still send each reminder
once.

Every job runs its work on the bot's database thread with the bot's clock, and wakes the delivery
worker when it queued anything. An item a round cannot handle is set aside (see
handlers.followup_reminders): its error reference comes from handlers.errorref, and the admins are told
where the room watch tells them (bot.runtime.admins), so one bad row stops neither the timers nor a
start. Tests drive ReminderService.tick with a manual clock; this module only adds the timers, and
its own tests check those with APScheduler's real clock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import date, datetime, timezone
from typing import Any, Protocol, Sequence

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from sqlalchemy import Engine

from alerts.clock import Clock
from alerts.identity import Platform
from alerts.reminder_policy import zone_of
from bot.portal.chat_charts import PngCharts
from bot.runtime.admins import admin_destinations
from bot.config.settings import Settings
from bot.runtime.dbthread import DatabaseThread
from bot.scheduling.jobs import BULLETIN, DIGEST, STORE, TICK, BoundJobsExecutor, JobSpec, job_specs, reconcile_jobs
from handlers.followup_reminders import ReminderService, TickReport
from handlers.ports import DirectorySource, UnitOfWorkFactory
from storage.db import READ_ONLY, create_engine_for

__all__ = ["ReminderScheduler", "ReminderService", "reminder_service", "start_scheduler"]

log = logging.getLogger(__name__)

RunOnDatabase = Callable[..., Awaitable[Any]]  # bot.runtime.dbthread.DatabaseThread.run


class Wakeable(Protocol):
    def wake(self) -> None:
        """Look for due work now rather than at the next poll."""
        ...


class RuntimeLike(Protocol):
    """What start_scheduler needs of bot.runtime.app.Runtime (read-only, so Runtime's narrower types fit)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def engine(self) -> Engine: ...

    @property
    def db(self) -> DatabaseThread: ...

    @property
    def uow_factory(self) -> UnitOfWorkFactory: ...

    @property
    def directory(self) -> DirectorySource: ...

    @property
    def worker(self) -> Wakeable: ...  # the delivery worker

    @property
    def connectors(self) -> Mapping[Platform, object]: ...  # the connected platforms, where admins can be told

    @property
    def portal_url(self) -> str | None: ...  # the web portal's address while it is served


def previous_month(day: date) -> date:
    return date(day.year - 1, 12, 1) if day.month == 1 else date(day.year, day.month - 1, 1)


class ReminderScheduler:
    def __init__(self, service: ReminderService, *, run_on_db: RunOnDatabase, clock: Clock,
                 job_store_url: str, specs: Sequence[JobSpec], zone: str = "UTC",
                 wake: Callable[[], None] = lambda: None) -> None:
        self.service = service
        self._run_on_db = run_on_db
        self._clock = clock
        self._job_store_url = job_store_url
        self._specs = list(specs)
        self._zone = zone
        self._wake = wake
        self.scheduler: AsyncIOScheduler | None = None
        self.reconciled: dict[str, str] = {}  # what start did to each job, for logs and tests
        self.catch_up: TickReport | None = None

    @property
    def active(self) -> bool:
        return self.scheduler is not None

    async def start(self) -> None:
        if self.active:
            return
        try:
            engine = create_engine_for(self._job_store_url).execution_options(**READ_ONLY)  # see _job_store_url
            loop = asyncio.get_running_loop()
            scheduler = AsyncIOScheduler(
                jobstores={STORE: SQLAlchemyJobStore(engine=engine)},
                executors={"default": BoundJobsExecutor({TICK: self._tick, DIGEST: self._digest,
                                                         BULLETIN: self._bulletin}, loop)},
                job_defaults={"coalesce": True, "misfire_grace_time": None, "max_instances": 1},
                timezone=timezone.utc, event_loop=loop,
            )
            scheduler.start(paused=True)
            self.scheduler = scheduler
            self.reconciled = reconcile_jobs(scheduler, self._specs)
            self.catch_up = await self._run_on_db(self.service.reconcile, self._clock.now())
            self._after(self.catch_up)
            scheduler.resume()
        except BaseException:
            await self.stop()
            raise
        log.info("reminder scheduler started: jobs %s; %s", self.reconciled, self.catch_up)

    async def stop(self) -> None:
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=False)
            await asyncio.sleep(0)  # AsyncIOScheduler shuts down on its loop's next turn: let it

    def _after(self, report: TickReport | None) -> None:
        if report is not None and report.sent:
            self._wake()

    async def _tick(self, run_time: datetime) -> TickReport:
        report = await self._run_on_db(self.service.tick, self._clock.now())
        self._after(report)
        return report

    async def _digest(self, run_time: datetime) -> bool:
        day = run_time.astimezone(zone_of(self._zone)).date()  # the local day it was due, even if late
        posted = await self._run_on_db(self.service.digest, self._clock.now(), day)
        if posted:
            self._wake()
        return posted

    async def _bulletin(self, run_time: datetime) -> bool:
        month = previous_month(run_time.astimezone(zone_of(self._zone)).date())
        posted = await self._run_on_db(self.service.bulletin, self._clock.now(), month)
        if posted:
            self._wake()
        return posted


def _job_store_url(engine: Engine) -> str:
    # APScheduler disposes its engine when it shuts down, so it gets one of its own on the same URL.
    # On SQLite its transactions begin DEFERRED (READ_ONLY): each is one statement, and a write lock
    # taken at BEGIN would make the event loop wait behind a reminder round.
    return engine.url.render_as_string(hide_password=False)


async def start_scheduler(runtime: RuntimeLike) -> ReminderScheduler | None:
    """Start the reminder scheduler of `runtime`; None when reminders are disabled. Call it only in the
    instance that holds the instance lock (Leadership.runs_scheduler)."""
    settings = runtime.settings.reminders
    if not settings.enabled:
        return None
    service = reminder_service(runtime)
    specs = job_specs(settings.tick, settings.digest_time, settings.digest_timezone, digest=settings.digest_room is not None,
                      bulletin_day=settings.bulletin_day if settings.bulletin_room else None)
    scheduler = ReminderScheduler(service, run_on_db=runtime.db.run, clock=runtime.clock,
                                  job_store_url=_job_store_url(runtime.engine),
                                  specs=specs, zone=settings.digest_timezone, wake=runtime.worker.wake)
    await scheduler.start()
    return scheduler


def reminder_service(runtime: RuntimeLike) -> ReminderService:
    """The rounds the scheduler's jobs run, as `runtime` is configured: its rooms, its policy, the
    portal's address while it is served, and the digest's and the bulletin's charts drawn as PNG."""
    settings = runtime.settings.reminders
    return ReminderService(runtime.uow_factory, runtime.directory, settings.policy(),
                           digest_room=settings.digest_room, bulletin_room=settings.bulletin_room,
                           admins=lambda: admin_destinations(runtime), platforms=runtime.connectors.keys(),
                           encrypted_only=runtime.settings.routing_policy().encrypted_only,
                           arrangement_notice=settings.arrangement_notice, count_minimum=settings.count_minimum,
                           digest_zone=settings.digest_timezone, release=runtime.settings.release.policy(),
                           portal_url=lambda: runtime.portal_url,
                           charts=PngCharts(runtime.uow_factory, runtime.directory))
