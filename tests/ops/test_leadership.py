"""bot.ops.leadership in one process: the instance lock (a flock beside the SQLite file, a PostgreSQL
advisory lock on a connection of its own); two Leadership objects on separate descriptors or
connections contend for it as two processes would."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.config.settings import load_settings
from bot.config.ops import FailoverSettings
from bot.ops.leadership import InstanceActive, InstanceRole, leadership_for
from storage.db import create_engine_for
from storage.migrate import upgrade
from storage.tables import outbox
from tests.ops.conftest import bot_runtime
from tests.ops.failover_pair import write_config
from tests.ops.test_health_endpoint import alert

FAST = FailoverSettings(enabled=True, poll=timedelta(milliseconds=50), keepalive=timedelta(milliseconds=200))


def settings_for(config: Path, failover: FailoverSettings = FAST):  # noqa: ANN201
    return replace(load_settings(config), failover=failover)


async def test_one_active_the_other_stands_by_then_takes_over(bot_config: Path,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    settings = settings_for(bot_config)
    engine = create_engine_for(settings.storage.url)
    upgrade(engine)
    first, second = leadership_for(settings, engine), leadership_for(settings, engine)
    try:
        assert await asyncio.wait_for(first.wait_until_active(), 10) and first.role is InstanceRole.ACTIVE
        assert first.runs_scheduler and not second.runs_scheduler
        with caplog.at_level(logging.INFO, logger="bot.ops.leadership"):
            waiting = asyncio.create_task(second.wait_until_active())
            await asyncio.sleep(0.3)
            assert not waiting.done() and second.role is InstanceRole.STANDBY
            assert any("standing by" in r.getMessage() for r in caplog.records)
            await first.release()
            assert await asyncio.wait_for(waiting, 10) and second.role is InstanceRole.ACTIVE and second.runs_scheduler
    finally:
        await first.release()
        await second.release()
        engine.dispose()


async def test_a_standby_told_to_stop_stops(bot_config: Path) -> None:
    settings = settings_for(bot_config)
    engine = create_engine_for(settings.storage.url)
    upgrade(engine)
    first, second = leadership_for(settings, engine), leadership_for(settings, engine)
    try:
        await first.wait_until_active()
        stop = asyncio.Event()
        waiting = asyncio.create_task(second.wait_until_active(stop))
        await asyncio.sleep(0.1)
        stop.set()
        assert await asyncio.wait_for(waiting, 10) is False and second.role is InstanceRole.STANDBY
    finally:
        await first.release()
        await second.release()
        engine.dispose()


async def test_without_failover_a_second_instance_refuses_and_a_console_runs_beside(bot_config: Path) -> None:
    settings = settings_for(bot_config, FailoverSettings(enabled=False))
    engine = create_engine_for(settings.storage.url)
    one, two = leadership_for(settings, engine), leadership_for(settings, engine)
    console = leadership_for(settings, engine, enabled=False)  # a tool beside the running bot
    assert await one.wait_until_active()
    assert not one.enabled and one.role is InstanceRole.ACTIVE and one.runs_scheduler
    with pytest.raises(InstanceActive, match="set \\[failover\\] enabled = true"):
        await two.wait_until_active()  # two instances would both poll the platforms
    assert await console.wait_until_active()
    assert console.role is InstanceRole.ACTIVE and not console.runs_scheduler  # the lock, tried once, says who schedules
    await one.release()
    await two.release()
    await console.release()
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return write_config(tmp_path, url)


async def test_taking_over_frees_the_leases_the_dead_instance_left(config: Path) -> None:
    runtime, _ = bot_runtime(config)
    try:
        for n in range(3):
            await runtime.db.run(runtime.inbox.record, alert(n))
        await runtime.db.run(runtime.inbox.process_pending)
        with runtime.uow_factory() as uow:  # what a worker had in flight when it was killed
            leased = uow.outbox.lease(runtime.clock.now(), 50, timedelta(seconds=60), None)
            uow.commit()
        leader = leadership_for(settings_for(config), runtime.engine, runtime.clock)
        assert await asyncio.wait_for(leader.wait_until_active(), 30)
        await leader.release()
        with runtime.engine.connect() as conn:
            leases = conn.execute(select(outbox.c.lease_until).where(outbox.c.state == "sending")).scalars().all()
        assert len(leases) == len(leased) > 0
        assert all(lease <= runtime.clock.now() for lease in leases)  # due again now, not in a minute
        assert await runtime.worker.deliver_due() == len(leased)
    finally:
        await runtime.close()


@pytest.mark.postgres
async def test_a_lost_lock_connection_demotes_at_once(tmp_path: Path, postgres_url: str,
                                                       postgres_admin) -> None:  # noqa: ANN001
    settings = settings_for(write_config(tmp_path, postgres_url))
    engine = create_engine_for(settings.storage.url)
    upgrade(engine)
    active, standby = leadership_for(settings, engine), leadership_for(settings, engine)
    try:
        await active.wait_until_active()
        taking_over = asyncio.create_task(standby.wait_until_active())
        await asyncio.sleep(0.2)
        name = postgres_url.rsplit("/", 1)[1]
        (pid,), = postgres_admin.execute(
            "SELECT pid FROM pg_locks JOIN pg_database d ON d.oid = database WHERE locktype = 'advisory' "
            "AND granted AND d.datname = %s", (name,)).fetchall()
        postgres_admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # the server drops the lock's session
        await asyncio.wait_for(active.lost.wait(), 10)
        assert active.role is InstanceRole.DEMOTED
        assert await asyncio.wait_for(taking_over, 10) and standby.role is InstanceRole.ACTIVE
    finally:
        await active.release()
        await standby.release()
        engine.dispose()
