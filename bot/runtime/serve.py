"""Serving a runtime: the active instance's loops, the standby's wait, and an orderly shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable
from typing import TextIO

from bot.runtime.app import Runtime
from bot.connectors.console_session import ConsoleSession
from bot.ops.health import HealthServer, start_health_server
from bot.portal.server import PortalServer, start_portal
from bot.ops.leadership import Leadership, leadership_for
from bot.scheduling.scheduler import start_scheduler

log = logging.getLogger(__name__)

DIRECTORY_CHECK_SECONDS = 5.0


async def serve(runtime: Runtime, console_session: ConsoleSession | None = None, *, instance_lock: bool = True,
                outlive_console: bool = False, notice: TextIO = sys.stderr) -> bool:
    """Run until the console ends or the process is told to stop; stand by while another instance is active.

    With `outlive_console` the platforms run on after the console session ends (a service whose stdin
    is /dev/null still serves Matrix and Telegram) until a signal stops the process.

    Returns True when this instance lost the instance lock: the caller exits non-zero and the service
    manager starts it again, as a standby.
    """
    stopping = _stop_on_signals()
    leader = leadership_for(runtime.settings, runtime.engine, runtime.clock, enabled=instance_lock)
    health = await start_health_server(runtime, runtime.settings.health, leader=leader)
    portal: PortalServer | None = None
    try:
        if not await leader.wait_until_active(stopping):
            return False
        # Only the active instance serves the portal: a standby's port stays free for it.
        portal = await start_portal(runtime, runtime.settings.portal)
        if portal is not None:
            runtime.portal_url = portal.base_url
            print(f"Web portal: {portal.base_url} (ask /portal in a direct chat with the bot for a login link)",
                  file=notice, flush=True)
        await _run_active(runtime, console_session, stopping, leader, health, outlive_console)
        return leader.lost.is_set()
    finally:
        runtime.portal_url = None
        if portal is not None:
            await portal.close()
        await leader.release()
        if health is not None:
            await health.close()
        await runtime.close()


async def _run_active(runtime: Runtime, console_session: ConsoleSession | None, stopping: asyncio.Event,
                      leader: Leadership, health: HealthServer | None, outlive_console: bool) -> None:
    stop = asyncio.Event()
    # A standby may have waited for hours: what the CLI or the other instance changed meanwhile counts.
    await runtime.db.run(runtime.directory.refresh_if_changed)
    await runtime.settle()  # whatever a crash left in the inbox or outbox goes first
    # Only the instance lock's holder schedules: a second scheduler on the database would be wasted work.
    scheduler = await start_scheduler(runtime) if leader.runs_scheduler else None  # None also when disabled
    if health is not None:
        health.state.scheduler = scheduler
    tasks = [
        asyncio.create_task(runtime.worker.run(stop)),
        asyncio.create_task(runtime.run_inbox(stop)),
        asyncio.create_task(_checkpoint_regularly(runtime, stop)),
        asyncio.create_task(_follow_directory(runtime, stop)),
    ]
    try:
        for platform, receiver in runtime.receivers.items():
            cursor = await runtime.db.run(runtime.cursor, f"{platform.value}.cursor")
            await receiver.start(runtime.ingest, cursor)
            runtime.worker.wake()  # what waited for this platform to connect goes now
        if console_session is not None:
            await _first(console_session.run(), stopping.wait(), leader.lost.wait())
        if console_session is None or outlive_console:
            await _first(stopping.wait(), leader.lost.wait())
    finally:
        stop.set()
        if leader.lost.is_set():
            for task in tasks:
                task.cancel()  # demoted: another instance is sending now, so stop at once
        for receiver in runtime.receivers.values():
            await receiver.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        if scheduler is not None:
            await scheduler.stop()


async def _first(*waits: Awaitable[object]) -> None:
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def _checkpoint_regularly(runtime: Runtime, stop: asyncio.Event, every: float = 30.0) -> None:
    """The checkpointer decides whether one is due (N entries or T minutes); this only asks it often."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except asyncio.TimeoutError:
            pass
        try:
            await runtime.db.run(runtime.checkpointer.run, runtime.engine, runtime.clock.now())
            if runtime.retention is not None:
                await runtime.db.run(runtime.retention.run_if_due, runtime.clock.now())
        except Exception:
            log.exception("audit maintenance failed")


async def _follow_directory(runtime: Runtime, stop: asyncio.Event, every: float = DIRECTORY_CHECK_SECONDS) -> None:
    """Changes made by `liaison-bot member ...` or by another instance reach this one within `every`."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except asyncio.TimeoutError:
            pass
        try:
            if await runtime.db.run(runtime.directory.refresh_if_changed):
                log.info("directory reloaded: it was changed by another process")
        except Exception:
            log.exception("directory reload failed; the previous snapshot stays in use")


def _stop_on_signals() -> asyncio.Event:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    return stopping
