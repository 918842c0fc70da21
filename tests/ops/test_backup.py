"""`liaison-bot backup` and `restore`: online on SQLite while the bot writes, into a fresh folder,
then a bot on the restored database verifies its audit log and sends nothing that was sent; the
refusals (a database holding tables, a running instance, a missing key file); the witness that is
ahead of a restored log; and PostgreSQL through pg_dump and pg_restore where both answer."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli.backup import cmd_backup, cmd_restore
from bot.config.settings import load_settings
from bot.ops.leadership import leadership_for
from storage import keyring as keyfile
from storage.audit import verify
from storage.audit.tables import audit_entries
from storage.db import create_engine_for
from tests.conftest import fresh_postgres_database
from tests.ops.conftest import bot_runtime
from tests.ops.failover_pair import write_config
from tests.ops.test_health_endpoint import alert


def args(path: Path, force: bool = False, new_witness: bool = False) -> argparse.Namespace:
    return argparse.Namespace(path=path, force=force, new_witness=new_witness)


def with_keys_of(source_config: Path, folder: Path, url: str | None = None) -> Path:
    """A fresh folder with its own config, and a copy of the key file (kept apart from backups)."""
    folder.mkdir()
    config = write_config(folder, url)
    keys = load_settings(source_config).keys.path
    target = load_settings(config).keys.path
    target.parent.mkdir(parents=True)
    shutil.copy2(keys, target)
    return config


async def use_bot(config: Path, first: int, count: int) -> None:
    runtime, _ = bot_runtime(config)
    try:
        for n in range(first, first + count):
            await runtime.submit(alert(n))
    finally:
        await runtime.close()


def sent_keys(database: Path) -> tuple[set[str], set[str]]:
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT key, state FROM outbox").fetchall()
    return {k for k, s in rows if s == "sent"}, {k for k, s in rows if s != "sent"}


async def test_backup_while_the_bot_writes_and_restore_into_a_fresh_folder(tmp_path: Path, bot_config: Path) -> None:
    runtime, _ = bot_runtime(bot_config)
    target = tmp_path / "backups" / "bot.sqlite"
    target.parent.mkdir(mode=0o700)  # as the install makes /var/backups/liaison-bot
    stop = asyncio.Event()

    async def keep_writing() -> int:
        n = 0
        while not stop.is_set():
            await runtime.submit(alert(1000 + n))
            n += 1
        return n

    writer = asyncio.create_task(keep_writing())
    try:
        await asyncio.sleep(0.5)
        assert await asyncio.to_thread(cmd_backup, args(target), load_settings(bot_config)) == 0
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        written = await writer
        await runtime.close()
    assert written > 2
    sent, unsent = sent_keys(target)
    fresh = with_keys_of(bot_config, tmp_path / "fresh")
    settings = load_settings(fresh)
    assert cmd_restore(args(target), settings) == 0
    restored, sink = bot_runtime(fresh)
    try:
        await restored.settle()
        again = {m.key for m in sink.sent}
        assert not again & sent, "a message sent before the backup was sent again"
        assert unsent <= again
    finally:
        await restored.close()
    report = verify(create_engine_for(settings.storage.url), keyfile.load(settings.keys.path),
                    settings.audit.witness_path)
    assert report.ok, report.summary()


async def test_restore_refuses_a_database_with_tables_or_a_running_instance(
        tmp_path: Path, bot_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await use_bot(bot_config, 0, 2)
    settings = load_settings(bot_config)
    target = tmp_path / "b.sqlite"
    assert cmd_backup(args(target), settings) == 0
    assert cmd_backup(args(target), settings) == 1  # never overwrites a backup
    assert cmd_restore(args(target), settings) == 1
    assert "already holds tables" in capsys.readouterr().err
    engine = create_engine_for(settings.storage.url)
    leader = leadership_for(settings, engine)
    await leader.wait_until_active()
    try:
        assert cmd_restore(args(target, force=True), settings) == 1
        assert "stop every instance" in capsys.readouterr().err
    finally:
        await leader.release()
        engine.dispose()
    assert cmd_restore(args(target, force=True), settings) == 0


async def test_a_witness_ahead_of_the_backup_is_kept_aside_and_the_restore_recorded(
        tmp_path: Path, bot_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await use_bot(bot_config, 0, 2)
    settings = load_settings(bot_config)
    target = tmp_path / "early.sqlite"
    assert cmd_backup(args(target), settings) == 0
    await use_bot(bot_config, 10, 2)  # more entries, and a checkpoint over them in the witness
    assert cmd_restore(args(target, force=True), settings) == 0
    out = capsys.readouterr().out
    assert "The old witness is kept as" in out and "audit log OK" in out
    kept = list(settings.audit.witness_path.parent.glob("witness.log.before-restore-*"))
    assert len(kept) == 1
    engine = create_engine_for(settings.storage.url)
    with engine.connect() as conn:
        admin = conn.execute(select(func.count()).select_from(audit_entries)
                             .where(audit_entries.c.action == "admin")).scalar_one()
    engine.dispose()
    assert admin == 1  # the restore itself (the backup's own entry was made after the copy)
    await use_bot(bot_config, 20, 1)  # the bot goes on: new checkpoints, a new witness
    report = verify(create_engine_for(settings.storage.url), keyfile.load(settings.keys.path),
                    settings.audit.witness_path)
    assert report.ok, report.summary()


async def test_without_the_key_file_the_restore_is_not_verified(
        tmp_path: Path, bot_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await use_bot(bot_config, 0, 1)
    target = tmp_path / "b.sqlite"
    assert cmd_backup(args(target), load_settings(bot_config)) == 0
    (tmp_path / "nokeys").mkdir()
    assert cmd_restore(args(target), load_settings(write_config(tmp_path / "nokeys", None))) == 2
    assert "is missing: restore it from its own backup" in capsys.readouterr().err


@pytest.mark.postgres
async def test_postgres_backup_and_restore(tmp_path: Path, postgres_url: str, postgres_admin,  # noqa: ANN001
                                           capsys: pytest.CaptureFixture[str]) -> None:
    if not (shutil.which("pg_dump") and shutil.which("pg_restore") and shutil.which("psql")):
        pytest.skip("the PostgreSQL client tools are not on PATH")
    (tmp_path / "a").mkdir()
    source = write_config(tmp_path / "a", postgres_url)
    await use_bot(source, 0, 3)
    target = tmp_path / "bot.dump"
    assert cmd_backup(args(target), load_settings(source)) == 0
    with fresh_postgres_database(postgres_admin) as other:
        restored = with_keys_of(source, tmp_path / "b", other)
        settings = load_settings(restored)
        assert cmd_restore(args(target), settings) == 2  # restored, but no witness came with it
        assert "witness file" in capsys.readouterr().err
        assert cmd_restore(args(target), settings) == 1  # now it holds tables
        assert cmd_restore(args(target, force=True, new_witness=True), settings) == 0, capsys.readouterr().err
        out = capsys.readouterr().out
        assert "A new witness file starts" in out and "audit log OK" in out
        runtime, sink = bot_runtime(restored)
        try:
            await runtime.settle()
            assert sink.sent == []  # everything was sent before the backup
        finally:
            await runtime.close()


async def test_a_backup_is_made_0600_whatever_the_umask_and_an_unwritable_place_is_one_error_line(
        tmp_path: Path, bot_config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The clear columns (who, to whom, when) are in a backup: it is made readable by its owner only,
    as the database is. A folder that does not exist is refused, not made (a mistyped folder once
    became a new one, the backup hidden in it). A place it cannot be written is one line starting
    `error:` and exit 1 (it was a traceback)."""
    await use_bot(bot_config, 0, 1)
    settings = load_settings(bot_config)
    previous = os.umask(0o022)
    try:
        target = tmp_path / "backups" / "nightly.backup"
        assert cmd_backup(args(target), settings) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: the folder {target.parent} does not exist") and err.count("\n") == 1
        assert "e.g. /var/backups/liaison-bot/liaison-2026-11-23.backup" in err
        assert not target.parent.exists()
        target.parent.mkdir()
        assert cmd_backup(args(target), settings) == 0
        assert stat.S_IMODE(target.stat().st_mode) == 0o600
        capsys.readouterr()
        assert cmd_backup(args(target), settings) == 1
        assert capsys.readouterr().err.startswith(f"error: {target} exists: choose a new name")
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        assert cmd_backup(args(blocker / "x.backup"), settings) == 1
        err = capsys.readouterr().err
        assert err.startswith(f"error: cannot write the backup to {blocker / 'x.backup'}: {blocker} is a file, "
                              "not a folder;") and err.count("\n") == 1
        assert "Traceback" not in err
    finally:
        os.umask(previous)
