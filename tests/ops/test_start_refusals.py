"""What an operator meets at the command line when something expected is wrong: one line naming it,
a non-zero exit, no traceback; a database with content never gets a new key file; and the files
that hold data are made 0600."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.cli.main import main
from bot.config.settings import load_settings
from storage import keyring as keyfile
from storage.audit import verify
from storage.db import create_engine_for
from tests.ops.conftest import bot_runtime
from tests.ops.failover_pair import write_config
from tests.ops.test_health_endpoint import alert


def used(config: Path) -> None:
    """A bot started on `config` that handled an alert: sealed entries, case keys, a checkpoint."""
    async def go() -> None:
        runtime, _ = bot_runtime(config)
        try:
            await runtime.submit(alert(1))
        finally:
            await runtime.close()

    asyncio.run(go())


def cli(*argv: str) -> int:
    handlers, level = logging.root.handlers[:], logging.root.level
    try:
        return main(list(argv))
    finally:  # main() points logging at this test's captured stderr: leave none of it to the next
        logging.root.handlers[:], logging.root.level = handlers, level


def one_line_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Runs the CLI; returns its one error line after checking the exit code and that no traceback came."""
    code = cli(*argv)
    err = capsys.readouterr().err
    assert code != 0, err
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, None)


def keys_of(config: Path) -> Path:
    return load_settings(config).keys.path


@pytest.mark.parametrize("command", ["run", "console"])
def test_a_missing_key_file_on_a_database_with_content_refuses_the_start_naming_the_key(
        config: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    used(config)
    keys = keys_of(config)
    fingerprint = keyfile.load(keys).fingerprint
    keys.unlink()
    line = one_line_error(capsys, "--config", str(config), command)
    assert "does not exist" in line and fingerprint in line and "docs/operations.md" in line
    assert not keys.exists()  # no new key file was made to sign over the old entries


def test_keys_generate_refuses_a_database_with_content(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    used(config)
    keys = keys_of(config)
    fingerprint = keyfile.load(keys).fingerprint
    keys.unlink()
    line = one_line_error(capsys, "--config", str(config), "keys", "generate")
    assert fingerprint in line and not keys.exists()


def test_a_wrong_key_file_refuses_the_start_naming_the_right_one(config: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    used(config)
    keys = keys_of(config)
    fingerprint = keyfile.load(keys).fingerprint
    other = keyfile.generate(keys, force=True)
    line = one_line_error(capsys, "--config", str(config), "console")
    assert "not this database's" in line and fingerprint in line and other.fingerprint in line
    line = one_line_error(capsys, "--config", str(config), "audit", "verify")
    assert fingerprint in line


@pytest.mark.parametrize("command", ["run", "console"])
def test_a_key_file_with_wide_permissions_stops_the_start_in_one_line(
        config: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    used(config)
    keys_of(config).chmod(0o644)
    line = one_line_error(capsys, "--config", str(config), command)
    assert "wider than 0600" in line and "chmod 600" in line


def test_a_database_folder_that_cannot_be_made_is_one_line(tmp_path: Path, config: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a-file").write_text("")
    text = config.read_text().replace('url = "sqlite:///var/liaison.sqlite"',
                                      f'url = "sqlite:///{tmp_path}/a-file/db/liaison.sqlite"')
    config.write_text(text)
    line = one_line_error(capsys, "--config", str(config), "console")
    assert "cannot be created" in line and "a-file" in line


def test_a_locked_database_is_one_line(config: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    used(config)
    monkeypatch.setattr("storage.db.BUSY_TIMEOUT_MS", 50)  # no need to wait the full five seconds
    database = Path(load_settings(config).storage.url.removeprefix("sqlite:///"))
    holder = sqlite3.connect(database, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        for command in (["console"], ["audit", "verify"]):
            line = one_line_error(capsys, "--config", str(config), *command)
            assert "database is locked" in line
    finally:
        holder.close()


def test_the_database_its_wal_and_shm_files_and_the_witness_are_made_0600(config: Path) -> None:
    settings = load_settings(config)
    database = Path(settings.storage.url.removeprefix("sqlite:///"))

    async def go() -> dict[str, int]:
        runtime, _ = bot_runtime(config)
        try:
            await runtime.submit(alert(1))
            # While the bot runs, SQLite keeps the write-ahead log and its shared-memory index.
            return {path.name: stat.S_IMODE(path.stat().st_mode)
                    for path in (database, Path(f"{database}-wal"), Path(f"{database}-shm"))}
        finally:
            await runtime.close()

    modes = asyncio.run(go())
    assert modes == {database.name: 0o600, f"{database.name}-wal": 0o600, f"{database.name}-shm": 0o600}
    assert settings.audit.witness_path is not None
    assert stat.S_IMODE(settings.audit.witness_path.stat().st_mode) == 0o600
    # Their folders, made by the bot here, are its own too.
    assert stat.S_IMODE(database.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(settings.audit.witness_path.parent.stat().st_mode) == 0o700
    engine = create_engine_for(settings.storage.url)
    try:
        assert verify(engine, keyfile.load(settings.keys.path), settings.audit.witness_path).ok
    finally:
        engine.dispose()


def test_an_unreachable_database_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, "postgresql://nobody@127.0.0.1:9/none")  # nothing listens on port 9
    for command in (["console"], ["db", "upgrade"], ["audit", "verify"]):
        line = one_line_error(capsys, "--config", str(config), *command)
        assert line.startswith("error: the database cannot be used:") and "SELECT" not in line


def test_a_log_from_before_keyed_heads_stops_the_start_until_db_upgrade_verifies_and_keys_it(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    used(config)
    settings = load_settings(config)
    database = Path(settings.storage.url.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as db:
        db.execute("UPDATE audit_head SET mac = NULL")  # as migration 0006 leaves an older log
    line = one_line_error(capsys, "--config", str(config), "console")
    assert "carries no MAC" in line and "liaison-bot db upgrade" in line
    assert cli("--config", str(config), "db", "upgrade") == 0
    assert "head keyed" in capsys.readouterr().out
    engine = create_engine_for(settings.storage.url)
    try:
        report = verify(engine, keyfile.load(settings.keys.path), settings.audit.witness_path)
        assert report.ok, report.summary()
    finally:
        engine.dispose()
