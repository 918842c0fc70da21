"""The audit commands only read (and record what they read) a database that is there: pointed by
--config at one that does not exist, or that holds none of the bot's tables, they once created an
empty database and then said the log was truncated. They now refuse in one line naming the
database (never its password) and pointing at `[storage]`, and create nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from bot.config.settings import load_settings
from storage import keyring as keyfile
from tests.ops.failover_pair import write_config
from tests.ops.test_start_refusals import one_line_error

AUDIT_COMMANDS = [["audit", "verify"], ["audit", "show", "A-2026-0001"], ["audit", "export"],
                  ["audit", "erase", "A-2026-0001", "--reason", "retention"]]


def config_on(tmp_path: Path, url: str, password_env: str | None = None) -> Path:
    """The example configuration on `url`, with an auditor's key file in place (from another database)."""
    config = write_config(tmp_path, None)
    storage = f'url = "{url}"' + (f'\npassword = {{ env = "{password_env}" }}' if password_env else "")
    config.write_text(config.read_text().replace('url = "sqlite:///var/liaison.sqlite"', storage))
    keyfile.generate(load_settings(config).keys.path)
    return config


def files_under(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


@pytest.mark.parametrize("command", AUDIT_COMMANDS)
def test_a_database_file_that_does_not_exist_is_refused_and_nothing_is_created(
        tmp_path: Path, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "nowhere" / "liaison.sqlite"
    config = config_on(tmp_path, f"sqlite:///{database}")
    before = files_under(tmp_path)
    line = one_line_error(capsys, "--config", str(config), *command)
    assert line == (f"error: no database at sqlite:///{database} (no such file); nothing was created: check "
                    f"[storage] url in {config}")
    assert files_under(tmp_path) == before  # no database, no folder for it


@pytest.mark.parametrize("content", ["empty", "another program's"])
def test_a_database_without_the_bots_tables_is_refused_and_left_as_it_was(
        tmp_path: Path, content: str, capsys: pytest.CaptureFixture[str]) -> None:
    database = tmp_path / "other.sqlite"
    if content == "empty":
        database.touch()
    else:
        with sqlite3.connect(database) as db:
            db.execute("CREATE TABLE notes (text TEXT)")
        sqlite3.connect(database).close()
    before = database.read_bytes()
    config = config_on(tmp_path, f"sqlite:///{database}")
    files = files_under(tmp_path)
    for command in AUDIT_COMMANDS:
        line = one_line_error(capsys, "--config", str(config), *command)
        assert line == (f"error: the database sqlite:///{database} holds none of liaison-bot's tables (a new or "
                        f"empty database, or another program's); nothing was created: check [storage] url in {config}")
    assert database.read_bytes() == before
    assert files_under(tmp_path) == files


def test_an_empty_postgresql_database_is_refused_and_gets_no_tables(
        tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    config = config_on(tmp_path, postgres_url)
    for command in AUDIT_COMMANDS:
        line = one_line_error(capsys, "--config", str(config), *command)
        assert "holds none of liaison-bot's tables" in line and "check [storage] url in" in line
    engine = create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_a_postgresql_database_that_does_not_exist_is_named_without_its_password(
        tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine import make_url

    monkeypatch.setenv("LIAISON_TEST_DB_PASSWORD", "s3cret-word")
    missing = make_url(postgres_url).set(database="liaison_no_such_database")
    config = config_on(tmp_path, missing.render_as_string(hide_password=False), "LIAISON_TEST_DB_PASSWORD")
    line = one_line_error(capsys, "--config", str(config), "audit", "verify")
    assert line.startswith("error: the database cannot be used: ") and "liaison_no_such_database" in line
    assert "s3cret-word" not in line and "check [storage] url in" in line


def test_keys_generate_still_prepares_a_new_database(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Setting up is not reading: `keys generate` on a new installation makes its database, as before."""
    from tests.ops.test_start_refusals import cli

    database = tmp_path / "new" / "liaison.sqlite"
    config = config_on(tmp_path, f"sqlite:///{database}")
    load_settings(config).keys.path.unlink()
    assert cli("--config", str(config), "keys", "generate") == 0, capsys.readouterr().err
    assert database.exists()
