"""One active/standby mechanism: the instance lock (bot.ops.leadership). Whoever holds it is the only
instance that runs the reminder scheduler; a second instance on the database never runs rounds
beside it, and takes the scheduler over only with the lock."""

from __future__ import annotations

import asyncio
import io
import logging
import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

import pytest

from bot.config.ops import FailoverSettings
from bot.config.settings import load_settings
from bot.ops.leadership import AdvisoryLock, FileLock, InstanceActive, leadership_for
from bot.runtime.app import Runtime, build_runtime
from bot.runtime.serve import serve
from bot.scheduling.scheduler import ReminderScheduler
from handlers.followup_reminders import ReminderService
from storage.db import create_engine_for
from tests.ops.failover_pair import write_config

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys
from pathlib import Path
from bot.ops.leadership import FileLock
lock = FileLock(Path(sys.argv[1]))
print("locked" if lock.try_acquire() else "refused", flush=True)
sys.stdin.readline()
"""


def _holder(path: Path) -> subprocess.Popen[str]:
    """Another process holding the lock until told to go (a line on its stdin)."""
    child = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout is not None and child.stdout.readline().strip() == "locked"
    return child


def test_a_second_process_is_refused_beside_the_sqlite_file_and_the_file_says_who_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "bot.db.leader.lock"
    child = _holder(path)
    try:
        mine = FileLock(path)
        assert not mine.try_acquire() and not mine.held()
        assert path.read_text().strip() == str(child.pid)
    finally:
        child.communicate("stop\n", timeout=30)
    assert mine.try_acquire() and mine.held()
    mine.release()


def test_a_crashed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "bot.db.leader.lock"
    child = _holder(path)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    mine = FileLock(path)
    assert mine.try_acquire()
    mine.release()


@pytest.mark.postgres
def test_the_postgresql_advisory_lock_admits_one_session(postgres_url: str) -> None:
    engine = create_engine_for(postgres_url)
    first, second = AdvisoryLock(engine), AdvisoryLock(engine)
    try:
        assert first.try_acquire() and first.held()
        assert not second.try_acquire() and not second.held()
        first.release()
        assert second.try_acquire()
        second._conn.invalidate()  # type: ignore[union-attr] - the connection is lost: so is the lock
        assert not second.held()
        assert first.try_acquire()
        first.release()
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def config(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return write_config(tmp_path, url)


@pytest.mark.parametrize("failover", [True, False])
async def test_the_lock_fits_the_database(config: Path, failover: bool) -> None:
    settings = replace(load_settings(config), failover=FailoverSettings(enabled=failover))
    engine = create_engine_for(settings.storage.url)
    leader = leadership_for(settings, engine)
    try:
        lock: Any = leader._lock
        if engine.dialect.name == "postgresql":
            assert isinstance(lock, AdvisoryLock)
        else:
            assert isinstance(lock, FileLock) and lock.path == Path(engine.url.database + ".leader.lock")
    finally:
        await leader.release()
        engine.dispose()


class Session:
    """A console session that lasts until told to end; serve() returns then."""

    def __init__(self) -> None:
        self.ended = asyncio.Event()

    async def run(self) -> None:
        await self.ended.wait()


async def _until(condition: Callable[[], bool]) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.02)
    await asyncio.wait_for(poll(), timeout=60)  # a guard, not a timing


@pytest.mark.parametrize("failover", [True, False], ids=["failover", "no-failover"])
async def test_two_instances_on_one_database_never_both_run_reminder_rounds(
        config: Path, failover: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    settings = replace(load_settings(config), failover=FailoverSettings(
        enabled=failover, poll=timedelta(seconds=1), keepalive=timedelta(seconds=1)))
    names: dict[int, str] = {}
    running: set[str] = set()  # the instances whose scheduler is started
    rounds: list[tuple[str, frozenset[str]]] = []  # who ran a round, and whose schedulers ran meanwhile

    def name_of(service: ReminderService) -> str:
        return names[id(service._uow_factory)]

    def recorded(method: Callable[..., Any]) -> Callable[..., Any]:
        def round_(self: ReminderService, *args: Any, **kwargs: Any) -> Any:
            rounds.append((name_of(self), frozenset(running)))
            return method(self, *args, **kwargs)
        return round_

    for method in ("reconcile", "tick", "digest", "bulletin"):
        monkeypatch.setattr(ReminderService, method, recorded(getattr(ReminderService, method)))
    real_start, real_stop = ReminderScheduler.start, ReminderScheduler.stop

    async def start(self: ReminderScheduler) -> None:
        running.add(name_of(self.service))
        await real_start(self)

    async def stop(self: ReminderScheduler) -> None:
        await real_stop(self)
        running.discard(name_of(self.service))

    monkeypatch.setattr(ReminderScheduler, "start", start)
    monkeypatch.setattr(ReminderScheduler, "stop", stop)

    def instance(name: str) -> tuple[Runtime, Session, asyncio.Task[bool]]:
        runtime = build_runtime(settings, out=io.StringIO(), notice=io.StringIO())
        names[id(runtime.uow_factory)] = name
        session = Session()
        return runtime, session, asyncio.create_task(serve(runtime, session))

    with caplog.at_level(logging.INFO, logger="bot.ops.leadership"):
        _, first, served_first = instance("first")
        await _until(lambda: any(who == "first" for who, _ in rounds))
        second_runtime, second, served_second = instance("second")
        if failover:
            await _until(lambda: any("standing by" in r.getMessage() for r in caplog.records))
        else:  # two instances would both poll the platforms: the second refuses to start
            with pytest.raises(InstanceActive, match="another liaison-bot instance is active"):
                await served_second
        first.ended.set()
        assert await served_first is False
        if failover:  # the standby takes the lock, and the scheduler with it
            await _until(lambda: any(who == "second" for who, _ in rounds))
            second.ended.set()
            assert await served_second is False
    assert rounds and all(meanwhile == {who} for who, meanwhile in rounds), rounds
    assert {who for who, _ in rounds} == ({"first", "second"} if failover else {"first"})
    assert not running
