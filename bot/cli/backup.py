"""`liaison-bot backup PATH` and `liaison-bot restore PATH [--force]`.

Registered by bot.cli.main like the other operator tools:

    from bot.cli import backup as cli_ops
    cli_ops.register(commands, settings_from_args, common)

Backup runs beside a running bot. Restore wants every instance stopped, and a database holding no
tables unless --force; it then verifies the audit log with the key file (which a backup never
holds) and prints what the bot will send at its next start. Exit status: 0 done and verified,
1 refused or failed, 2 restored but not verified (the key file, or the log, needs attention).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any, Callable

from bot.ops import backup as copies
from bot.ops.backup_checks import after_restore, record_backup
from bot.runtime.clock import SystemClock
from bot.config.settings import Settings
from bot.runtime.engine import engine_for

SettingsFromArgs = Callable[[argparse.Namespace], Settings]


def register(subparsers: Any, settings_from_args: SettingsFromArgs, common: argparse.ArgumentParser | None = None
             ) -> None:
    parents = [common] if common is not None else []
    p = subparsers.add_parser("backup", parents=parents, help="copy the database to PATH, while the bot runs "
                                                              "(the key file is not included: back it up apart)")
    p.add_argument("path", type=Path, help="the backup file to write (refused when it exists)")
    p.set_defaults(handler=lambda args: cmd_backup(args, settings_from_args(args)))
    p = subparsers.add_parser("restore", parents=parents, help="replace the database by a backup, then verify "
                                                               "the audit log (stop every instance first)")
    p.add_argument("path", type=Path, help="a file made by `liaison-bot backup`")
    p.add_argument("--force", action="store_true",
                   help="replace a database that holds tables: what it holds now is lost")
    p.add_argument("--new-witness", action="store_true",
                   help="no witness file came with the backup: start one from the restored checkpoints")
    p.set_defaults(handler=lambda args: cmd_restore(args, settings_from_args(args)))


def _password(settings: Settings) -> str | None:
    return settings.storage.password.read() if settings.storage.password is not None else None


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    target: Path = args.path.expanduser().resolve()
    if target.exists():
        print(f"error: {target} exists: choose a new name (a backup never overwrites one)", file=sys.stderr)
        return 1
    if not target.parent.exists():
        # Never made: a mistyped folder would become a new one, and the backup be looked for elsewhere.
        print(f"error: the folder {target.parent} does not exist (a backup makes none: a mistyped folder would hide "
              f"it); make it first (install -d -m 0700 {target.parent}) or give a path in a folder that exists, e.g. "
              "/var/backups/liaison-bot/liaison-2026-11-23.backup", file=sys.stderr)
        return 1
    engine = engine_for(settings)
    try:
        if settings.storage.sqlite_path is not None:
            copied = copies.backup_sqlite(settings.storage.sqlite_path, target)
        else:
            copied = copies.backup_postgres(engine, target, _password(settings))
        recorded = record_backup(engine, settings.keys.path, SystemClock(), _actor(), target, copied.kind)
    except copies.BackupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"Backed up the {copied.kind} database to {target} ({copied.size} bytes).")
    print(f"The key file {settings.keys.path} is NOT in the backup: keep a copy of it apart (without it the "
          "backup's content and checkpoints can be neither read nor verified).")
    if not recorded:
        print("warning: no key file here, so the backup is not recorded in the audit log", file=sys.stderr)
    return 0


def cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    source: Path = args.path.expanduser().resolve()
    if not source.is_file():
        what = "is a folder" if source.is_dir() else "does not exist"
        print(f"error: {source} {what}: give a backup file made by `liaison-bot backup`, e.g. "
              "/var/backups/liaison-bot/liaison-2026-11-23.backup", file=sys.stderr)
        return 1
    engine = engine_for(settings)
    try:
        kind = copies.backup_kind(source)
        database = settings.storage.sqlite_path
        if (database is not None) != (kind == "sqlite"):
            where = "SQLite" if database is not None else "PostgreSQL"
            raise copies.BackupError(f"{source} is a {kind} backup but the configured database is {where}; "
                                     "restore it into a database of its own kind")
        if database is not None:
            with copies.sqlite_instances_stopped(database):
                _refuse_unless_forced(copies.sqlite_has_tables(database), args.force, str(database))
                engine.dispose()  # no pooled connection may keep a page of the old file
                copies.restore_sqlite(source, database)
        else:
            with copies.postgres_instances_stopped(engine):
                tables = copies.postgres_tables(engine)
                _refuse_unless_forced(bool(tables), args.force, "the PostgreSQL database")
                copies.restore_postgres(engine, source, _password(settings), tables)
        result = after_restore(engine, settings.keys.path, settings.audit.witness_path, SystemClock(), _actor(),
                               source, new_witness=args.new_witness)
    except copies.BackupError as exc:
        print(f"error: restore refused: {exc}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    return _report(source, result)


def _refuse_unless_forced(has_tables: bool, force: bool, where: str) -> None:
    if has_tables and not force:
        raise copies.BackupError(f"{where} already holds tables; restoring would replace them. Pass --force to "
                                 "replace everything it holds (back it up first)")


def _report(source: Path, result: Any) -> int:
    print(f"Restored {source.name}: {result.audit_entries} audit entries.")
    if result.witness_moved_to is not None:
        print(f"The witness had signed {result.witness_size} entries, more than the backup holds: the entries made "
              f"after the backup are gone. The old witness is kept as {result.witness_moved_to}; a new one starts.")
    if result.witness_new:
        print("A new witness file starts from the restored checkpoints (recorded in the audit log).")
    waiting = result.outbox.get("pending", 0) + result.outbox.get("sending", 0)
    print(f"Outbox: {result.outbox.get('sent', 0)} sent (never sent again), {waiting} unsent (sent at start, under "
          f"their own keys; any that went out after the backup may arrive twice on Telegram).")
    for problem in (result.key_problem, result.witness_problem):
        if problem:
            print(f"NOT VERIFIED: {problem}", file=sys.stderr)
            return 2
    if not result.report.ok:
        for line in result.report.lines():
            print(f"NOT VERIFIED: {line}", file=sys.stderr)
        return 2
    print(result.report.summary())
    return 0
