"""APScheduler's side of the reminders: the jobs, an executor that runs them, and their reconciliation.

Three jobs live in the job store (APScheduler's SQLAlchemyJobStore, in the bot's own database):
`reminders.tick` every minute or so, `reminders.digest` daily at a local time, and
`reminders.bulletin` monthly. The store holds only their timers: everything a job does is
decided from the items when it runs, so the store can be lost and rebuilt at any start.

The job store pickles a job as a reference to an importable function, so a job cannot hold the
database or the clock. The store names `bound_job` instead, and `BoundJobsExecutor` runs, by job
id, the coroutine that the running bot bound at start: no module global, no service locator.
Missed runs (the bot was down) are coalesced into one run, as late as it comes, never dropped:
`coalesce=True`, `misfire_grace_time=None` (APScheduler: None runs a job however late it is).
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.executors.base import BaseExecutor
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

TICK, DIGEST, BULLETIN = "reminders.tick", "reminders.digest", "reminders.bulletin"
STORE = "default"  # the job store alias the jobs are added to

JobHandler = Callable[[datetime], Awaitable[object]]  # called with the run time the job was due at


def bound_job(*_: object) -> None:
    """What the job store names; BoundJobsExecutor runs the handler bound to the job's id instead."""
    raise RuntimeError("reminder jobs run only through BoundJobsExecutor")


class BoundJobsExecutor(BaseExecutor):
    """Runs each job by its id, through the coroutine bound to that id, on the scheduler's event loop.

    The misfire check and the events are those of APScheduler's own executors, so listeners see
    EVENT_JOB_EXECUTED, EVENT_JOB_MISSED and EVENT_JOB_ERROR as usual. `loop` is the one the
    scheduler is given (AsyncIOScheduler(event_loop=...)), and the jobs live in its "default" store.
    """

    def __init__(self, handlers: Mapping[str, JobHandler], loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._handlers = dict(handlers)
        self._tasks: set[asyncio.Task[list[JobExecutionEvent]]] = set()
        self._loop = loop

    def shutdown(self, wait: bool = True) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        task = self._loop.create_task(self._run(job, run_times))
        self._tasks.add(task)

        def done(finished: asyncio.Task[list[JobExecutionEvent]]) -> None:
            self._tasks.discard(finished)
            if finished.cancelled():
                self._run_job_error(job.id, asyncio.CancelledError())
            elif finished.exception() is not None:
                self._run_job_error(job.id, finished.exception())
            else:
                self._run_job_success(job.id, finished.result())

        task.add_done_callback(done)

    async def _run(self, job: Any, run_times: list[datetime]) -> list[JobExecutionEvent]:
        events = []
        handler = self._handlers.get(job.id)
        for run_time in run_times:
            late = datetime.now(timezone.utc) - run_time
            if job.misfire_grace_time is not None and late > timedelta(seconds=job.misfire_grace_time):
                log.warning("job %s missed its run at %s by %s", job.id, run_time, late)
                events.append(JobExecutionEvent(EVENT_JOB_MISSED, job.id, STORE, run_time))
                continue
            try:
                if handler is None:
                    raise LookupError(f"no handler is bound to job {job.id}")
                value = await handler(run_time)
            except Exception as exc:
                log.exception("job %s failed", job.id)
                events.append(JobExecutionEvent(EVENT_JOB_ERROR, job.id, STORE, run_time,
                                                exception=exc, traceback=traceback.format_exc()))
            else:
                events.append(JobExecutionEvent(EVENT_JOB_EXECUTED, job.id, STORE, run_time,
                                                retval=value))
        return events


@dataclass(frozen=True)
class JobSpec:
    id: str
    trigger: BaseTrigger
    describes: str  # what the trigger means, kept as the job's name: a change of it reschedules the job
    grace: int | None = None  # misfire grace in seconds; None: run however late (once, coalesced)


def job_specs(tick: timedelta, at: time, zone: str, *, digest: bool, bulletin_day: int | None) -> list[JobSpec]:
    """The tick; the digest daily at `at` in `zone` if wanted; the bulletin on `bulletin_day` at `at`."""
    specs = [JobSpec(TICK, IntervalTrigger(seconds=int(tick.total_seconds()), timezone=timezone.utc),
                     f"every {int(tick.total_seconds())}s")]
    if digest:
        specs.append(JobSpec(DIGEST, CronTrigger(hour=at.hour, minute=at.minute, timezone=zone),
                             f"daily at {at:%H:%M} {zone}"))
    if bulletin_day is not None:
        specs.append(JobSpec(BULLETIN, CronTrigger(day=bulletin_day, hour=at.hour, minute=at.minute, timezone=zone),
                             f"monthly on day {bulletin_day} at {at:%H:%M} {zone}"))
    return specs


def reconcile_jobs(scheduler: BaseScheduler, specs: Sequence[JobSpec]) -> dict[str, str]:
    """Make the job store hold exactly `specs`; what happened to each job, by id.

    A job whose timer is unchanged is kept as it is, with its next run time: when that lies in the
    past (the bot was down), the scheduler runs it once, late. Adding it again would compute the
    next run from now and silently drop the run that was missed.
    """
    wanted = {spec.id: spec for spec in specs}
    done: dict[str, str] = {}
    for job in scheduler.get_jobs():
        spec = wanted.get(job.id)
        if spec is not None and job.name == spec.describes and job.misfire_grace_time == spec.grace:
            done[job.id] = "kept"
            continue
        scheduler.remove_job(job.id)
        done[job.id] = "removed" if spec is None else "rescheduled"
    for spec in specs:
        if done.get(spec.id) == "kept":
            continue
        scheduler.add_job(bound_job, spec.trigger, id=spec.id, name=spec.describes, jobstore=STORE,
                          replace_existing=True, coalesce=True, misfire_grace_time=spec.grace, max_instances=1)
        done.setdefault(spec.id, "added")
    return done
