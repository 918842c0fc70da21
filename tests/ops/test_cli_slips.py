"""Operator slips on the command line, as an operator types them (bot.cli.main): each refusal is one
line starting `error:` on standard error with a non-zero exit and no traceback, and says what is
accepted; nothing is changed or recorded by a refused command."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.config.settings import load_settings
from bot.ops.leadership import FileLock
from storage import keyring as keyfile
from tests.ops.failover_pair import write_config
from tests.ops.test_start_refusals import cli, keys_of, one_line_error, used


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path, None)


def audit_entries(config: Path) -> int:
    database = Path(load_settings(config).storage.url.removeprefix("sqlite:///"))
    with sqlite3.connect(database) as db:
        return int(db.execute("SELECT count(*) FROM audit_entries").fetchone()[0])


@pytest.mark.parametrize("command", [
    ["audit", "verify"], ["audit", "export"], ["audit", "show", "A-2026-0001"],
    ["audit", "erase", "A-2026-0001", "--reason", "retention"], ["keys", "rotate"]])
def test_a_missing_key_file_is_named_as_the_start_names_it_never_generate_a_new_one(
        config: Path, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Without the key file these commands once said "create it with `liaison-bot keys generate`":
    a new key file cannot read what the database holds. They now give the start's line: the key the
    database needs, to be put back from its backup."""
    used(config)
    keys = keys_of(config)
    fingerprint = keyfile.load(keys).fingerprint
    keys.unlink()
    started = one_line_error(capsys, "--config", str(config), "console")
    line = one_line_error(capsys, "--config", str(config), *command)
    assert line == started
    assert fingerprint in line and "back from its backup" in line and "keys generate" not in line
    assert not keys.exists()


def test_keys_generate_force_is_refused_while_an_instance_runs_and_says_what_replacing_does(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`keys generate --force` once replaced the key file under a running bot, and its warning blamed
    AuditHeadCorrupt and `db upgrade`: the database stays bound to the old key file."""
    used(config)
    keys = keys_of(config)
    before = keys.read_bytes()
    fingerprint = keyfile.load(keys).fingerprint
    database = Path(load_settings(config).storage.url.removeprefix("sqlite:///"))
    running = FileLock(database.with_name(database.name + ".leader.lock"))  # as `run` holds it
    assert running.try_acquire()
    try:
        line = one_line_error(capsys, "--config", str(config), "keys", "generate", "--force")
    finally:
        running.release()
    assert "instance is running" in line and "stop every instance" in line
    assert keys.read_bytes() == before
    entries = audit_entries(config)
    assert cli("--config", str(config), "keys", "generate", "--force") == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "AuditHeadCorrupt" not in err and "db upgrade" not in err
    warning = next(line for line in err.splitlines() if line.startswith("warning:"))
    assert fingerprint in warning and "will not start" in warning and "put back from its backup" in warning
    assert audit_entries(config) == entries


def test_operator_commands_print_no_alembic_preamble_but_a_migration_still_shows(
        config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every operator command once printed alembic's "Context impl SQLiteImpl." and "Will assume
    non-transactional DDL." on standard error; the steps of a real migration stay in the log."""
    assert cli("--config", str(config), "db", "upgrade") == 0
    err = capsys.readouterr().err
    assert "Running upgrade" in err and "0018_heldby" in err
    assert "Context impl" not in err and "non-transactional" not in err
    used(config)
    capsys.readouterr()
    for command in (["audit", "verify"], ["db", "upgrade"], ["member", "export"], ["check-config"]):
        assert cli("--config", str(config), *command) == 0
        err = capsys.readouterr().err
        assert "alembic" not in err, (command, err)
