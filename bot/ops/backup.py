"""Copies of the database: `liaison-bot backup PATH` and `restore PATH`, while the bot runs (backup)
or with every instance stopped (restore). The key file is never in a backup: see docs/operations.md.

SQLite: the online backup API copies the database in one read transaction, a consistent snapshot
that does not stop the bot writing (WAL), into a standalone file checked with integrity_check.
PostgreSQL: pg_dump's custom format (a consistent snapshot too) and, to restore, pg_restore's SQL
run by psql in ONE transaction with the drop of what the database held (--force): a failed restore
leaves the database as it was. The client tools must be at least the server's major version.

Restore refuses a database that holds tables unless --force, and refuses while an instance runs on
it (it holds the instance lock). On PostgreSQL it keeps the instance lock and
the migration lock while it works, so no instance starts, or migrates, in the middle.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import make_url

from bot.ops.leadership import LEADER_LOCK_ID, FileLock
from storage.migrate import _MIGRATION_LOCK_ID

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why and what to do."""


@dataclass(frozen=True)
class Copied:
    path: Path
    kind: str   # "sqlite" or "postgresql"
    size: int   # bytes of the backup file


def backup_kind(path: Path) -> str:
    with path.open("rb") as handle:
        head = handle.read(16)
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "postgresql"
    raise BackupError(f"{path} is not a liaison-bot backup (neither a SQLite file nor a pg_dump archive)")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _private_partial(target: Path) -> Path:
    """`target`.partial, made empty with mode 0600 in the folder given (never made: a mistyped one would
    become new): a backup holds in clear who received what, and when, so it is kept as the database
    is, whatever the umask."""
    partial = target.with_name(target.name + ".partial")
    try:
        partial.unlink(missing_ok=True)
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600))
    except OSError as exc:
        # The OS says "Not a directory" of a file on the way: say what it is.
        why = next((f"{p} is a file, not a folder" for p in target.parents if p.exists() and not p.is_dir()),
                   exc.strerror or str(exc))
        raise BackupError(f"cannot write the backup to {target}: {why}; give a path in a folder "
                          "this user may write, e.g. /var/backups/liaison-bot/liaison-2026-11-23.backup") from None
    return partial


# --- SQLite ------------------------------------------------------------------------------------

def backup_sqlite(database: Path, target: Path) -> Copied:
    if not database.is_file():
        raise BackupError(f"there is no database at {database} (a backup copies a database the bot has used)")
    partial = _private_partial(target)
    try:
        source = sqlite3.connect(database, timeout=30)
        copy = sqlite3.connect(partial)
        try:
            source.backup(copy)  # one step: one read snapshot, so writers going on never restart it
            copy.execute("PRAGMA journal_mode=DELETE")  # a standalone file, no -wal beside it
            if copy.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError("the copy failed its integrity check; the database file may be damaged")
        finally:
            copy.close()
            source.close()
    except sqlite3.Error as exc:  # a full disk, a database locked for longer than the timeout
        partial.unlink(missing_ok=True)
        raise BackupError(f"cannot write the backup to {target}: {exc}") from None
    except BackupError:
        partial.unlink(missing_ok=True)
        raise
    _fsync(partial)
    os.replace(partial, target)
    return Copied(target, "sqlite", target.stat().st_size)


def sqlite_has_tables(database: Path) -> bool:
    if not database.exists() or database.stat().st_size == 0:
        return False
    with contextlib_closing(sqlite3.connect(database, timeout=30)) as db:
        return db.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] > 0


def restore_sqlite(source: Path, database: Path) -> None:
    with contextlib_closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)) as backup:
        if backup.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError(f"{source} failed its integrity check: it is damaged")
        database.parent.mkdir(parents=True, exist_ok=True)
        with contextlib_closing(sqlite3.connect(database, timeout=30)) as live:
            backup.backup(live)  # replaces every page, in one transaction of the destination


@contextmanager
def contextlib_closing(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    try:
        yield db
    finally:
        db.close()


@contextmanager
def sqlite_instances_stopped(database: Path) -> Iterator[None]:
    """Hold the instance lock: no instance may run, or start, while this holds."""
    lock = FileLock(database.with_name(database.name + ".leader.lock"))
    if not lock.try_acquire():
        raise BackupError(f"a liaison-bot instance runs on {database} (it holds {lock.path}): stop every "
                          "instance before restoring")
    try:
        yield
    finally:
        lock.release()


# --- PostgreSQL --------------------------------------------------------------------------------

def tool_major(tool: str) -> int:
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not on PATH: install the PostgreSQL client tools (Debian: postgresql-client)")
    out = subprocess.run([tool, "--version"], capture_output=True, text=True, check=True).stdout
    found = re.search(r"\)\s*(\d+)", out) or re.search(r"(\d+)", out)
    if found is None:
        raise BackupError(f"cannot tell the version of {tool} from {out.strip()!r}")
    return int(found.group(1))


def server_major(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SHOW server_version_num")).scalar_one()) // 10000


def check_tools(engine: Engine, *tools: str) -> None:
    server = server_major(engine)
    for tool in tools:
        major = tool_major(tool)
        if major < server:
            raise BackupError(f"{tool} is version {major} but the server is {server}: install the client tools of "
                              f"version {server} or later (they read and write older servers too)")


def libpq_url(engine: Engine) -> str:
    """The database URL for the client tools: no driver suffix and never a password (that is PGPASSWORD)."""
    url = make_url(engine.url.render_as_string(hide_password=False)).set(drivername="postgresql", password=None)
    return url.render_as_string(hide_password=False)


def tool_env(password: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password  # the environment, not argv: argv shows in `ps`
    return env


def _run(args: list[str], env: dict[str, str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    done = subprocess.run(args, env=env, capture_output=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").strip().splitlines()[-5:]
        raise BackupError(f"{Path(args[0]).name} failed ({done.returncode}): " + " / ".join(detail))
    return done


def backup_postgres(engine: Engine, target: Path, password: str | None) -> Copied:
    check_tools(engine, "pg_dump")
    partial = _private_partial(target)  # pg_dump writes into it and keeps its mode
    _run(["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={partial}",
          f"--dbname={libpq_url(engine)}"], tool_env(password))
    _fsync(partial)
    os.replace(partial, target)
    return Copied(target, "postgresql", target.stat().st_size)


def postgres_tables(engine: Engine) -> list[str]:
    return inspect(engine).get_table_names()


@contextmanager
def postgres_instances_stopped(engine: Engine) -> Iterator[None]:
    """Hold the instance and migration locks on one session for the whole restore."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for lock_id, what in ((LEADER_LOCK_ID, "an instance is active"), (_MIGRATION_LOCK_ID, "a migration runs")):
            if not conn.execute(text("SELECT pg_try_advisory_lock(:id)"), {"id": lock_id}).scalar():
                raise BackupError(f"{what} on this database: stop every liaison-bot instance before restoring")
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock_all()"))


def restore_postgres(engine: Engine, source: Path, password: str | None, drop: list[str]) -> None:
    """pg_restore's SQL, after dropping `drop`, through psql in a single transaction."""
    check_tools(engine, "pg_restore", "psql")
    env = tool_env(password)
    script = _run(["pg_restore", "--no-owner", "--no-privileges", "--file=-", str(source)], env).stdout
    if server_major(engine) < 17:
        # pg_restore 17 writes this setting into scripts; older servers do not know it. Connected to a
        # server it would leave it out itself, but a script cannot know where it will run.
        script = script.replace(b"SET transaction_timeout = 0;\n", b"")
    preamble = "".join(f'DROP TABLE IF EXISTS "{name}" CASCADE;\n' for name in drop).encode()
    _run(["psql", "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
          f"--dbname={libpq_url(engine)}"], env, input=preamble + script)
