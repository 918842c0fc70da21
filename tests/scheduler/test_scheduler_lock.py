"""Only one scheduler per database: a second instance is refused with a clear message, or waits as standby."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from alerts.clock import ManualClock
from bot.config.reminders import ReminderSettings, SecondInstance
from bot.scheduling.scheduler import SchedulerLocked, start_scheduler
from bot.scheduling.lock import AdvisoryLock, FileLock, scheduler_lock_for
from storage.uow import SqlUnitOfWorkFactory
from tests.scheduler.support import runtime_like

ROOT = Path(__file__).resolve().parents[2]
HOLDER = """
import sys
from pathlib import Path
from bot.scheduling.lock import FileLock
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


def test_a_second_process_is_refused_beside_the_sqlite_file_and_told_who_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "bot.db.scheduler.lock"
    child = _holder(path)
    try:
        mine = FileLock(path)
        assert not mine.try_acquire()
        message = mine.refusal()
        assert f"process {child.pid}" in message and str(path) in message and 'second_instance = "standby"' in message
    finally:
        child.communicate("stop\n", timeout=30)
    assert mine.try_acquire() and mine.held()
    mine.release()


def test_a_crashed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    path = tmp_path / "bot.db.scheduler.lock"
    child = _holder(path)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    mine = FileLock(path)
    assert mine.try_acquire()
    mine.release()


@pytest.mark.postgres
def test_the_postgresql_advisory_lock_admits_one_session(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("the advisory lock is PostgreSQL's")
    first, second = AdvisoryLock(engine), AdvisoryLock(engine)
    assert first.try_acquire() and first.held()
    assert not second.try_acquire() and not second.held()
    assert "advisory lock 0x6c736e2d73636864" in second.refusal()
    first.release()
    assert second.try_acquire()
    second._conn.invalidate()  # type: ignore[union-attr] - the connection is lost: so is the lock
    assert not second.held()
    assert first.try_acquire()
    first.release()


def test_the_lock_fits_the_database(engine: Engine) -> None:
    lock = scheduler_lock_for(engine)
    if engine.dialect.name == "postgresql":
        assert isinstance(lock, AdvisoryLock)
    else:
        assert isinstance(lock, FileLock) and lock.path == Path(engine.url.database + ".scheduler.lock")


async def test_a_second_bot_on_the_same_database_refuses_or_stands_by(
        engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    first_rt = runtime_like(engine, uow_factory, clock, ReminderSettings())
    second_rt = runtime_like(engine, uow_factory, clock, ReminderSettings(second_instance=SecondInstance.STANDBY))
    refusing_rt = runtime_like(engine, uow_factory, clock, ReminderSettings())
    first = await start_scheduler(first_rt)
    try:
        assert first is not None and first.active
        with pytest.raises(SchedulerLocked, match="runs the reminder scheduler on this"):
            await start_scheduler(refusing_rt)
        standby = await start_scheduler(second_rt, standby_poll_seconds=3600)
        assert standby is not None and not standby.active
    finally:
        await first.stop()  # type: ignore[union-attr]
    try:
        assert await standby.start() and standby.active  # what its poll does: the lock is free now
        assert standby.reconciled == {"reminders.tick": "kept"}
    finally:
        await standby.stop()
        for rt in (first_rt, second_rt, refusing_rt):
            rt.db.close()
