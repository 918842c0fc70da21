"""Engines: SQLite at a path by default (WAL, full sync, foreign keys), PostgreSQL by URL.

SQLite write transactions start with BEGIN IMMEDIATE, emitted as SQLAlchemy's pysqlite recipe
does (the `connect` event sets isolation_level=None, the `begin` event emits BEGIN), which is also
what makes SAVEPOINT work on SQLite. Python 3.11's sqlite3 driver would otherwise begin lazily at
the first write, so two transactions that both read first and then write each hold a read snapshot and ask to upgrade it: one of them gets SQLITE_BUSY at once,
whatever the busy timeout. Taking the write lock at BEGIN makes the second writer wait its turn.
A connection that will only read can ask for a plain deferred BEGIN with `READ_ONLY`.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, exc, inspect, text
from sqlalchemy.engine import make_url

# Execution option naming how a SQLite transaction begins; ignored by other databases.
SQLITE_BEGIN = "liaison_sqlite_begin"
READ_ONLY: dict[str, Any] = {SQLITE_BEGIN: "DEFERRED"}


class DatabaseUnavailable(Exception):
    """The database file cannot be made or opened where the configuration puts it (one line)."""


class NoDatabase(DatabaseUnavailable):
    """open_existing: no database at the URL, or one that holds none of the bot's tables (one line,
    naming it without its password). Nothing was created or changed."""

BUSY_TIMEOUT_MS = 5000
# PostgreSQL pool: see _postgres_engine.
PING_AFTER_IDLE_SECONDS = 10.0
POOL_RECYCLE_SECONDS = 1800
_IDLE_SINCE = "liaison_idle_since"


def sqlite_url(path: str | Path) -> str:
    """The URL of a SQLite database file at `path` (made absolute, so the cwd does not matter)."""
    return f"sqlite:///{Path(path).expanduser().resolve()}"


def create_engine_for(url: str, **kwargs: Any) -> Engine:
    """An engine for `url`: `sqlite:///path` or `postgresql://...` (driven by psycopg 3)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, **kwargs)
    if backend == "postgresql":
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        return _postgres_engine(parsed, **kwargs)
    raise ValueError(f"unsupported database backend {backend!r}: use sqlite:///path or postgresql://")


def shown_url(url: Any) -> str:
    """`url` as it may be printed: its password, if any, as ***."""
    return make_url(url).render_as_string(hide_password=True)


# The table Alembic keeps the schema's revision in: a database the bot ever migrated has it, with a row.
_REVISION_TABLE = "alembic_version"


def open_existing(url: str, **kwargs: Any) -> Engine:
    """An engine for the database at `url` only when it is there and holds the bot's tables (migrated,
    perhaps by an older version); NoDatabase otherwise, having created and changed nothing: for the
    commands that read what is there. create_engine_for would make a missing SQLite file and its
    folder, and its connections switch a file to WAL, so a SQLite file is looked at read-only first."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        _require_sqlite_schema(Path(parsed.database or ""), shown_url(parsed))
        return create_engine_for(url, **kwargs)
    engine = create_engine_for(url, **kwargs)
    try:
        with engine.connect() as connection:
            migrated = inspect(connection).has_table(_REVISION_TABLE) and connection.execute(
                text(f"SELECT count(*) FROM {_REVISION_TABLE}")).scalar_one() > 0
    except BaseException:
        engine.dispose()
        raise
    if not migrated:
        engine.dispose()
        raise NoDatabase(_no_tables(shown_url(parsed)))
    return engine


def _no_tables(shown: str) -> str:
    return f"the database {shown} holds none of liaison-bot's tables (a new or empty database, or another program's)"


def _require_sqlite_schema(path: Path, shown: str) -> None:
    if not path.is_file():
        raise NoDatabase(f"no database at {shown} (no such file)")
    if path.stat().st_size == 0:  # what SQLite makes of a path it is given: an empty database
        raise NoDatabase(_no_tables(shown))
    try:
        # Read-only, by URI: nothing is written to the file, and a file that vanished meanwhile is not made.
        with closing(sqlite3.connect(f"{path.resolve().as_uri().replace('file://', 'file:', 1)}?mode=ro",
                                     uri=True)) as db:
            tables = db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
                                (_REVISION_TABLE,)).fetchone()[0]
            migrated = bool(tables) and db.execute(f"SELECT count(*) FROM {_REVISION_TABLE}").fetchone()[0] > 0
    except sqlite3.DatabaseError as error:  # not a database file, or one that cannot be read
        raise NoDatabase(f"the database {shown} cannot be read: {error}") from None
    if not migrated:
        raise NoDatabase(_no_tables(shown))


def _postgres_engine(url: Any, **kwargs: Any) -> Engine:
    """Pooled connections are checked before use only after they sat idle (PING_AFTER_IDLE_SECONDS),
    not on every checkout as pool_pre_ping does: that ping is a round trip per transaction, and a
    connection used a moment ago is alive but for a server restart, which the next statement
    reports as an OperationalError that empties the pool (as a failed ping would). Connections are
    replaced after POOL_RECYCLE_SECONDS, before a server or proxy idle limit ends them. Passing
    pool_pre_ping=True restores SQLAlchemy's ping on every checkout."""
    kwargs.setdefault("pool_recycle", POOL_RECYCLE_SECONDS)
    engine = create_engine(url, **kwargs)
    if kwargs.get("pool_pre_ping"):
        return engine
    dialect = engine.dialect

    def note_idle_since(_dbapi_connection: Any, connection_record: Any) -> None:
        if connection_record is not None:
            connection_record.info[_IDLE_SINCE] = time.monotonic()

    def ping_after_idle(dbapi_connection: Any, connection_record: Any, _connection_proxy: Any) -> None:
        idle_since = connection_record.info.pop(_IDLE_SINCE, None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return  # new, or used a moment ago
        try:
            dialect.do_ping(dbapi_connection)
            dbapi_connection.rollback()  # psycopg began a transaction for the ping
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                # As a failed pre-ping: this and every older pooled connection is replaced.
                raise exc.InvalidatePoolError() from error
            raise

    event.listen(engine, "checkin", note_idle_since)
    event.listen(engine, "checkout", ping_after_idle)
    return engine


def _sqlite_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        raise ValueError("SQLite needs a file path: sqlite:///path/to/bot.db")
    _create_private(Path(database))
    # The driver's own timeout is its busy handler; keep it in step with the PRAGMA.
    connect_args = {"timeout": BUSY_TIMEOUT_MS / 1000, **kwargs.pop("connect_args", {})}
    engine = create_engine(parsed, connect_args=connect_args, **kwargs)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _create_private(path: Path) -> None:
    """Make the database file 0600 (and its folder 0700) before SQLite does: SQLite would make it
    0644, and it gives the WAL and shared-memory files the database file's mode."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except FileExistsError:
        return  # an empty file is an empty database to SQLite; an existing one keeps its mode
    except OSError as exc:
        raise DatabaseUnavailable(f"the database file {path} cannot be created: {exc.strerror} "
                                  f"({exc.filename})") from None
    os.close(fd)


def _configure_sqlite_connection(dbapi_connection: Any, _connection_record: Any) -> None:
    # isolation_level=None stops the driver from emitting BEGIN itself; _begin does it instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        _ensure_wal(cursor)
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _ensure_wal(cursor: Any) -> None:
    """Switch the file to WAL (a setting it keeps), waiting out other connections.

    The switch needs the file to itself and SQLite does not apply the busy timeout to it, so two
    processes opening a new database together would otherwise fail with "database is locked".
    """
    if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            # SQLite answers with the old mode, rather than an error, when it could not switch.
            if cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower() == "wal":
                return
        except sqlite3.OperationalError:
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise sqlite3.OperationalError("cannot switch the database to WAL journal mode")
        time.sleep(0.01)


_BEGIN = {mode: f"BEGIN {mode}" for mode in ("IMMEDIATE", "DEFERRED", "EXCLUSIVE")}


def _begin_sqlite_transaction(connection: Any) -> None:
    mode = connection.get_execution_options().get(SQLITE_BEGIN, "IMMEDIATE")
    statement = _BEGIN.get(mode)
    if statement is None:
        raise ValueError(f"{SQLITE_BEGIN} must be IMMEDIATE, DEFERRED or EXCLUSIVE")
    connection.exec_driver_sql(statement)


def insert_for(connection: Any, table: Any) -> Any:
    """An INSERT on `table` that knows ON CONFLICT for this connection's database."""
    return _dialect_insert(connection.dialect.name)(table)


def _dialect_insert(name: str) -> Callable[[Any], Any]:
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql
        return postgresql.insert
    if name == "sqlite":
        from sqlalchemy.dialects import sqlite
        return sqlite.insert
    raise ValueError(f"unsupported database {name!r}")


class InsertFor:
    """An INSERT … ON CONFLICT built once per database and reused, its values passed as parameters:
    building a statement costs several times what executing a built one does (its cache key is kept).

        _RECORD = InsertFor(lambda insert: insert(inbox).on_conflict_do_nothing(index_elements=["id"]))
        connection.execute(_RECORD(connection), row)
    """

    def __init__(self, build: Callable[[Callable[[Any], Any]], Any]) -> None:
        self._build = build
        self._built: dict[str, Any] = {}

    def __call__(self, connection: Any) -> Any:
        name = connection.dialect.name
        statement = self._built.get(name)
        if statement is None:
            statement = self._built[name] = self._build(_dialect_insert(name))
        return statement
