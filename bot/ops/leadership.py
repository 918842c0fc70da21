"""Active/standby: of the instances on one database, the one holding the instance lock is active and
the only one that runs the reminder scheduler; with [failover] on, the others stand by and take over
when it dies.

    leader = leadership_for(settings, runtime.engine, runtime.clock)
    if await leader.wait_until_active(stop):   # a standby waits here, polling, logging "standing by"
        ...                                     # run everything, the scheduler if leader.runs_scheduler;
                                                # stop it all once leader.lost is set
    await leader.release()

The lock: on PostgreSQL a session advisory lock (LEADER_LOCK_ID) on a connection kept open for it
alone; on SQLite a flock on `<database>.leader.lock`, for instances on one machine. The kernel or
the server frees either when the process dies, even by SIGKILL, so a standby polling every `poll`
takes over within seconds. With [failover] off, and for the console (a tool beside a running bot),
an instance tries the lock once and is active either way, but runs the scheduler only if it got it.

The lock holder checks every `keepalive` that it still holds the lock; a lost (or hung) lock
connection demotes it at once: `lost` is set and the caller stops everything. The lock decides who
runs; what keeps a row from being sent by two instances during a brief overlap is the outbox lease.
When an instance takes over, rows the dead one had leased would wait out their lease (a minute)
before anyone sends them again: `take_over_leases` frees them, on PostgreSQL only after a grace
period long enough for a demoted (not dead) holder to notice its loss and stop. They are sent again
under their own keys, which the platforms de-duplicate (the at-least-once half of the contract).
"""

from __future__ import annotations

import asyncio
import enum
import fcntl
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, TypeVar

from sqlalchemy import Connection, Engine, event, func, select, text, update

from alerts.clock import Clock
from bot.runtime.clock import SystemClock
from bot.config.settings import Settings
from bot.config.ops import FailoverSettings
from storage.db import READ_ONLY, create_engine_for
from storage.tables import outbox

log = logging.getLogger(__name__)

T = TypeVar("T")

# An arbitrary constant naming "the active instance" among advisory locks ("lsn-lead"); the
# migrations' (storage.migrate) uses another.
LEADER_LOCK_ID = 0x6C73_6E2D_6C65_6164
STILL_STANDING_BY_EVERY = 600.0  # seconds between reminders in the log that this one still waits


class InstanceLock(Protocol):
    def try_acquire(self) -> bool: ...

    def held(self) -> bool: ...

    def release(self) -> None: ...


class FileLock:
    """flock(2) on a file beside the SQLite database, holding the owner's pid for people to read."""

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


class AdvisoryLock:
    """A PostgreSQL session advisory lock; lost with its connection, which `held()` then says."""

    def __init__(self, engine: Engine, lock_id: int = LEADER_LOCK_ID) -> None:
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


class InstanceRole(enum.Enum):
    STANDBY = "standby"
    ACTIVE = "active"
    DEMOTED = "demoted"  # held the lock and lost it: stopping; the service manager restarts it


class InstanceActive(RuntimeError):
    """Failover is off and another instance holds the instance lock: this one must not start."""


class Leadership:
    def __init__(self, lock: InstanceLock | None, settings: FailoverSettings, engine: Engine,
                 clock: Clock | None = None, *, stand_by: bool = True, lock_engine: Engine | None = None,
                 sole: bool = False) -> None:
        self._lock = lock
        self._sole = sole  # without failover, an instance that finds the lock held refuses to start
        self._settings = settings
        self._engine = engine
        self._lock_engine = lock_engine
        self._clock = clock or SystemClock()
        self._stand_by = stand_by and lock is not None
        self._holds_lock = False
        # One thread for the lock's calls: a hung database blocks that thread, never the loop, and
        # never piles up threads poll after poll.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="liaison-leader")
        self._keepalive: asyncio.Task[None] | None = None
        self.role = InstanceRole.STANDBY
        self.lost = asyncio.Event()

    @property
    def enabled(self) -> bool:
        """Failover is on: without the lock this instance stands by."""
        return self._stand_by

    @property
    def runs_scheduler(self) -> bool:
        """Only the lock holder schedules reminders (or the only instance there can be: no lock at all)."""
        return self.role is InstanceRole.ACTIVE and (self._lock is None or self._holds_lock)

    async def wait_until_active(self, stop: asyncio.Event | None = None) -> bool:
        """Return True once this instance is active, False when `stop` is set first. A standby is active
        once it holds the lock; without failover an instance is active at once, lock or not."""
        stop = stop or asyncio.Event()
        if not self._stand_by:
            got = None if self._lock is None else await self._try_lock(max(self._settings.poll.total_seconds(), 5.0))
            if got is False and self._sole:
                await self.release()
                raise InstanceActive("another liaison-bot instance is active on this database; stop it first, or "
                                     "set [failover] enabled = true to run this one as its standby")
            if self._lock is not None and not got:
                log.warning("this instance does not hold the instance lock (another one does, or the database did "
                            "not answer): it runs without the reminder scheduler")
            return self._activate()
        poll = self._settings.poll.total_seconds()
        said_at: float | None = None
        while not stop.is_set():
            got = await self._try_lock(max(poll, 5.0))
            if got:
                break
            if got is None:  # the database is down or slow: keep trying, as a standby does
                pass
            elif said_at is None:
                log.warning("standing by: another instance is active on this database; taking over when it "
                            "stops (polling every %.0f s)", poll)
                said_at = time.monotonic()
            elif time.monotonic() - said_at > STILL_STANDING_BY_EVERY:
                log.info("still standing by")
                said_at = time.monotonic()
            try:
                await asyncio.wait_for(stop.wait(), timeout=poll)
            except asyncio.TimeoutError:
                pass
        else:
            return False
        freed = await self.take_over_leases()
        log.warning("active: this instance holds the instance lock%s",
                    f" (freed {freed} delivery lease(s) of the previous instance)" if freed else "")
        return self._activate()

    async def take_over_leases(self) -> int:
        """Free the leases a previous active instance left, so its rows are sent now, not in a minute."""
        if not self._stand_by:  # other active instances may be sending what they leased
            return 0
        leased = await self._call(_in_flight, self._engine, self._clock.now())
        if not leased:
            return 0
        if self._engine.dialect.name == "postgresql":
            # A holder that lost its connection (rather than died) stops within one keep-alive
            # period and one check's time-out; wait that long before sending what it had leased.
            await asyncio.sleep(self.grace.total_seconds())
        return await self._call(_release_leases, self._engine, self._clock.now())

    @property
    def grace(self) -> timedelta:
        return self._settings.keepalive * 2 + timedelta(milliseconds=500)

    async def release(self) -> None:
        """Stop the keep-alive and free the lock (closing its connection, or its file)."""
        if self._keepalive is not None:
            self._keepalive.cancel()
            try:
                await self._keepalive
            except (asyncio.CancelledError, Exception):
                pass
            self._keepalive = None
        if self._lock is not None:
            try:
                await self._call(self._lock.release, timeout=5.0)
            except Exception:  # the process is ending: its connection, and the lock, go with it
                log.warning("could not release the instance lock cleanly")
        self._holds_lock = False
        self._executor.shutdown(wait=False)
        if self._lock_engine is not None:
            self._lock_engine.dispose()

    async def _try_lock(self, timeout: float) -> bool | None:
        """Whether this instance now holds the lock; None when the database did not answer."""
        assert self._lock is not None
        try:
            self._holds_lock = await self._call(self._lock.try_acquire, timeout=timeout)
        except Exception as exc:
            log.warning("cannot try the instance lock (%s)", type(exc).__name__)
            return None
        return self._holds_lock

    def _activate(self) -> bool:
        self.role = InstanceRole.ACTIVE
        if self._holds_lock:
            self._keepalive = asyncio.create_task(self._keep_alive())
        return True

    async def _keep_alive(self) -> None:
        period = self._settings.keepalive.total_seconds()
        while True:
            await asyncio.sleep(period)
            try:
                held = await self._call(self._lock.held, timeout=period)  # type: ignore[union-attr]
            except Exception as exc:  # a hung check counts as lost: another may hold the lock by now
                held = False
                log.error("the instance lock check failed (%s)", type(exc).__name__)
            if not held:
                self.role = InstanceRole.DEMOTED
                self.lost.set()
                log.error("lost the instance lock: stopping connectors, delivery and scheduler at once "
                          "(a standby takes over); this process should be restarted as a standby")
                return

    async def _call(self, fn: Callable[..., T], *args: Any, timeout: float | None = None) -> T:
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        return await asyncio.wait_for(future, timeout=timeout)


def _in_flight(engine: Engine, now: Any) -> int:
    c = outbox.c
    with engine.connect() as conn:
        conn.execution_options(**READ_ONLY)  # SQLite: no write lock for a count
        return conn.execute(select(func.count()).select_from(outbox)
                            .where(c.state == "sending", c.lease_until > now)).scalar_one()


def _release_leases(engine: Engine, now: Any) -> int:
    c = outbox.c
    with engine.begin() as conn:
        return conn.execute(update(outbox).where(c.state == "sending", c.lease_until > now)
                            .values(lease_until=now)).rowcount


def leader_lock_engine(engine: Engine, password: str | None = None) -> Engine:
    """A small engine for the PostgreSQL lock's own connection, with TCP keep-alives both ways.

    The server frees a session's advisory lock only when it notices the session is gone: a dead
    process closes its socket at once, but a vanished host does not. Per-session keep-alives make
    the server drop the lock within about 11 s of the host going silent, whatever the server's
    own defaults (hours); client keep-alives make the active one's checks fail rather than hang.
    """
    args: dict[str, Any] = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 5,
                            "keepalives_interval": 2, "keepalives_count": 3,
                            "application_name": "liaison-bot instance lock"}
    if password is not None:
        args["password"] = password
    lock_engine = create_engine_for(engine.url.render_as_string(hide_password=False), connect_args=args,
                                    pool_size=1, max_overflow=1)

    @event.listens_for(lock_engine, "connect")
    def _server_keepalives(dbapi_connection: Any, _record: Any) -> None:
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        with dbapi_connection.cursor() as cursor:
            for name, value in (("tcp_keepalives_idle", 5), ("tcp_keepalives_interval", 2),
                                ("tcp_keepalives_count", 3), ("tcp_user_timeout", 10000)):
                cursor.execute(f"SET {name} = {value}")
        dbapi_connection.autocommit = autocommit

    return lock_engine


def instance_lock_of(engine: Engine) -> InstanceLock | None:
    """The instance lock `run` takes on this database (None where no other process can share it)."""
    if engine.dialect.name == "postgresql":
        return AdvisoryLock(engine)
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        return None
    path = Path(database)
    return FileLock(path.with_name(path.name + ".leader.lock"))


@contextmanager
def instances_stopped(engine: Engine, doing: str) -> Iterator[None]:
    """Hold the instance lock for an operator command that must not run beside the bot (nor let one
    start in the middle); raises InstanceActive, naming `doing`, while an instance holds it."""
    lock = instance_lock_of(engine)
    if lock is not None and not lock.try_acquire():
        raise InstanceActive(f"a liaison-bot instance is running on this database (it holds the instance lock): "
                             f"stop every instance (both machines of a pair) before {doing}")
    try:
        yield
    finally:
        if lock is not None:
            lock.release()


def leadership_for(settings: Settings, engine: Engine, clock: Clock | None = None, *, enabled: bool = True
                   ) -> Leadership:
    """The instance lock that fits the database. With [failover] enabled = false the instance does not
    stand by: it takes the lock, and refuses to start where another instance holds it (two instances
    would both poll the platforms). With `enabled` False (the console, a tool beside a running bot)
    it tries the lock once, to learn whether it is the one to run the scheduler, and runs either way."""
    failover = settings.failover
    stand_by = failover.enabled and enabled
    sole = enabled and not failover.enabled
    if engine.dialect.name == "postgresql":
        password = settings.storage.password.read() if settings.storage.password is not None else None
        lock_engine = leader_lock_engine(engine, password)
        return Leadership(AdvisoryLock(lock_engine), failover, engine, clock, stand_by=stand_by,
                          lock_engine=lock_engine, sole=sole)
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database or database == ":memory:":
        if stand_by:
            raise ValueError(f"no instance lock for this {engine.dialect.name} database")
        return Leadership(None, failover, engine, clock, stand_by=False)  # no other instance can share it
    path = Path(database)
    return Leadership(FileLock(path.with_name(path.name + ".leader.lock")), failover, engine, clock, stand_by=stand_by,
                      sole=sole)
