"""The health and metrics endpoint, served by aiohttp.web (as the Telegram webhook is).

    health = await start_health_server(runtime, settings.health, leader=leader)   # None when disabled
    health.state.scheduler = scheduler          # once the scheduler runs (optional)
    ...
    await health.close()

GET /healthz answers JSON, 200 when this instance does its job in its role, 503 otherwise:
    {"status": "ok", "role": "active", "database": "ok", "connectors": {"matrix": true},
     "scheduler": "running", "outbox_oldest_age_seconds": 0.4, "problems": []}
The active one is healthy when the database answers, every connector is connected, the scheduler
runs (where reminders are enabled) and the oldest unsent message is younger than max_outbox_age.
A standby is healthy when the database answers: it is ready to take over. A demoted one is not.
GET /metrics answers what prometheus_client renders, in the format the scraper's Accept header asks
for (bot.ops.metrics_gather says what each metric means).

Both endpoints are off by default and bind to 127.0.0.1: they carry no secrets nor content, but
they have no authentication either. Database reads run on threads of their own, never on the bot's
database thread, so a slow scrape never delays a delivery and a busy bot never stalls a probe.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy import func, select

from bot.config.ops import HealthSettings
from bot.ops.metrics_gather import DatabaseMetrics, render_metrics
from storage.db import READ_ONLY
from storage.tables import outbox

if TYPE_CHECKING:  # bot.runtime.app and the scheduler import what the health server does not need
    from bot.runtime.app import Runtime
    from bot.ops.leadership import Leadership
    from bot.scheduling.scheduler import ReminderScheduler

log = logging.getLogger(__name__)

DATABASE_TIMEOUT = 5.0  # seconds a probe waits for the database before calling it down


class InstanceState:
    """What this process knows of itself: its role, its connectors, its scheduler."""

    def __init__(self, runtime: Runtime, leader: Leadership | None = None,
                 scheduler: ReminderScheduler | None = None) -> None:
        self.runtime = runtime
        self.leader = leader        # bot.ops.leadership.Leadership, or None (always active)
        self.scheduler = scheduler  # bot.scheduling.scheduler.ReminderScheduler once started, or None

    def role(self) -> str:
        return self.leader.role.value if self.leader is not None else "active"

    def connectors(self) -> dict[str, bool]:
        # The console connector has no connection to lose: it counts as connected.
        return {platform.value: bool(getattr(connector, "connected", True))
                for platform, connector in self.runtime.connectors.items()}

    def scheduler_state(self) -> str:
        if not self.runtime.settings.reminders.enabled:
            return "disabled"
        if self.role() != "active":
            return "standby"
        running = getattr(self.scheduler, "active", getattr(self.scheduler, "running", False))
        return "running" if self.scheduler is not None and running else "stopped"


@dataclass
class Probe:
    database: str
    oldest_age: float | None


def _probe(runtime: Any) -> Probe:
    """One light query: the database answers, and how old the oldest unsent message is."""
    c = outbox.c
    with runtime.engine.connect() as conn:
        conn.execution_options(**READ_ONLY)
        with conn.begin():
            oldest = conn.execute(select(func.min(c.created_at)).where(c.state.in_(("pending", "sending")))).scalar()
    age = None if oldest is None else max(0.0, (runtime.clock.now() - oldest).total_seconds())
    return Probe("ok", age)


def health_report(state: InstanceState, probe: Probe, settings: HealthSettings) -> tuple[int, dict[str, Any]]:
    role, connectors, scheduler = state.role(), state.connectors(), state.scheduler_state()
    problems = []
    if probe.database != "ok":
        problems.append("the database does not answer")
    if role == "demoted":
        problems.append("this instance lost the instance lock and is stopping")
    if role == "active":
        problems += [f"{platform} is not connected" for platform, ok in sorted(connectors.items()) if not ok]
        if scheduler == "stopped":
            problems.append("the reminder scheduler is not running")
        limit = settings.max_outbox_age.total_seconds()
        if probe.oldest_age is not None and probe.oldest_age > limit:
            problems.append(f"the oldest unsent message is older than {limit:.0f} s")
    body = {"status": "fail" if problems else "ok", "role": role, "database": probe.database,
            "connectors": connectors, "scheduler": scheduler,
            "outbox_oldest_age_seconds": None if probe.oldest_age is None else round(probe.oldest_age, 3),
            "problems": problems}
    return (503 if problems else 200), body


class HealthServer:
    def __init__(self, state: InstanceState, settings: HealthSettings) -> None:
        self.state = state
        self.settings = settings
        self.database_metrics = DatabaseMetrics(state.runtime.engine, state.runtime.clock, state.runtime.directory)
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    async def start(self) -> None:
        app = web.Application(middlewares=[_no_store])
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)  # probes every few seconds would drown the log
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        self.port = self._runner.addresses[0][1]  # the port really bound, when the settings asked for 0
        log.info("health endpoint listening on %s:%d (/healthz, /metrics)", self.settings.host, self.port)

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def healthz(self) -> tuple[int, dict[str, Any]]:
        try:
            probe = await asyncio.wait_for(asyncio.to_thread(_probe, self.state.runtime), DATABASE_TIMEOUT)
        except Exception as exc:
            log.warning("health probe: the database did not answer (%s)", type(exc).__name__)
            probe = Probe("error", None)
        return health_report(self.state, probe, self.settings)

    async def metrics(self, accept: str | None = None) -> tuple[bytes, str]:
        started = time.perf_counter()
        try:
            snap = await asyncio.wait_for(asyncio.to_thread(self.database_metrics.snapshot), DATABASE_TIMEOUT * 2)
        except Exception as exc:
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            snap = None
        return render_metrics(snap, self.state.role(), self.state.connectors(),
                              self.state.scheduler_state() == "running", time.perf_counter() - started, accept)

    async def _healthz(self, request: web.Request) -> web.Response:
        status, report = await self.healthz()
        return web.json_response(report, status=status, dumps=_sorted_json)

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = await self.metrics(request.headers.get("Accept"))
        response = web.Response(body=body)
        response.headers["Content-Type"] = content_type
        return response


@web.middleware
async def _no_store(request: web.Request, handler: Any) -> web.StreamResponse:
    response: web.StreamResponse = await handler(request)
    response.headers["Cache-Control"] = "no-store"
    return response


def _sorted_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True) + "\n"


async def start_health_server(runtime: Runtime, settings: HealthSettings, *, leader: Leadership | None = None,
                              scheduler: ReminderScheduler | None = None) -> HealthServer | None:
    """Start the endpoint when [health] enabled; None otherwise."""
    if not settings.enabled:
        return None
    server = HealthServer(InstanceState(runtime, leader, scheduler), settings)
    await server.start()
    return server
