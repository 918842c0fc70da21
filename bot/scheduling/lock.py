"""Only one scheduler per database: a file lock beside a SQLite file, an advisory lock on PostgreSQL.

    lock = scheduler_lock_for(engine)
    if not lock.try_acquire():
        raise SchedulerLocked(lock.refusal())

Both locks belong to the process and go with it: a crash (even kill -9) frees them, so a stale lock
never blocks a restart. The file lock is flock(2) on `<database>.scheduler.lock`, holding the
owner's pid for the message. The PostgreSQL lock is a session advisory lock on a connection kept
open for it alone; if that connection is lost, so is the lock, and `held()` says so.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import Connection, Engine, text

log = logging.getLogger(__name__)

# An arbitrary constant naming "the reminder scheduler" among advisory locks ("lsn-schd"); the
# migration lock (storage.migrate) uses another.
SCHEDULER_LOCK_ID = 0x6C73_6E2D_7363_6864


class SchedulerLocked(RuntimeError):
    """Another instance runs the scheduler against this database."""


class SchedulerLock(Protocol):
    def try_acquire(self) -> bool: ...

    def held(self) -> bool: ...

    def release(self) -> None: ...

    def refusal(self) -> str: ...


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing drops the flock

    def refusal(self) -> str:
        try:
            owner = self.path.read_text().strip() or "unknown"
        except OSError:
            owner = "unknown"
        return (f"Another liaison-bot (process {owner}) runs the reminder scheduler on this database: it holds "
                f"{self.path}. Only one may, or reminders would go twice. Stop the other one, or set "
                '[reminders] second_instance = "standby" to wait and take over when it stops.')


class AdvisoryLock:
    def __init__(self, engine: Engine, lock_id: int = SCHEDULER_LOCK_ID) -> None:
        self._engine = engine
        self._lock_id = lock_id
        self._conn: Connection | None = None

    def try_acquire(self) -> bool:
        if self._conn is not None:
            return True
        # Autocommit: the lock is the session's, and the connection must not sit in a transaction
        # for the life of the process.
        conn = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": self._lock_id}).scalar()
        except BaseException:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def held(self) -> bool:
        if self._conn is None:
            return False
        # A bigint key shows in pg_locks as its high and low 32 bits (classid, objid), objsubid 1.
        key = self._lock_id & 0xFFFF_FFFF_FFFF_FFFF
        try:
            return bool(self._conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted "
                "AND classid::bigint = :high AND objid::bigint = :low AND objsubid = 1"),
                {"high": key >> 32, "low": key & 0xFFFF_FFFF}).scalar())
        except Exception:  # the connection is gone, and the lock with it
            log.exception("the lock's connection failed")
            return False

    def release(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": self._lock_id})
        except Exception:
            log.warning("could not unlock cleanly; closing its connection frees it")
        finally:
            conn.close()

    def refusal(self) -> str:
        return (f"Another liaison-bot runs the reminder scheduler on this PostgreSQL database: it holds advisory "
                f"lock {self._lock_id:#x}. Only one may, or reminders would go twice. Stop the other one, or set "
                '[reminders] second_instance = "standby" to wait and take over when it stops.')


def scheduler_lock_for(engine: Engine) -> SchedulerLock:
    """The lock that fits the engine's database: beside the SQLite file, or in PostgreSQL."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database:
        raise ValueError(f"no database lock for {engine.dialect.name} databases")
    path = Path(database)
    return FileLock(path.with_name(path.name + ".scheduler.lock"))
