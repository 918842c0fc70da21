"""`liaison-bot member add|remove` as an operator types them (bot.cli.main), on the sample network:
the README's own examples work, and a refusal is an exit status a script can see."""

from __future__ import annotations

from pathlib import Path

import asyncio
import io

import pytest

from bot.cli import main as cli
from bot.config.settings import load_settings
from bot.runtime.app import build_runtime
from tests.ops.failover_pair import write_config


MATRIX_OFF = "[matrix]\nenabled = false\n"
MATRIX_ON = """[matrix]
enabled = true
homeserver = "https://matrix.example.org"
user_id = "@liaison-bot:example.org"
password = { env = "LIAISON_TEST_MATRIX_PASSWORD" }
pickle_key = { env = "LIAISON_TEST_MATRIX_PICKLE_KEY" }
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example (SQLite and keys under tmp_path/var) with Matrix enabled: the README's examples
    name Matrix accounts, which the command line refuses on a platform the bot does not run."""
    path = write_config(tmp_path, None)
    text = path.read_text()
    assert MATRIX_OFF in text, "config.example.toml's [matrix] moved"
    path.write_text(text.replace(MATRIX_OFF, MATRIX_ON, 1))
    monkeypatch.setenv("LIAISON_TEST_MATRIX_PASSWORD", "not-used")
    monkeypatch.setenv("LIAISON_TEST_MATRIX_PICKLE_KEY", "not-used-either")
    return path


def member(config: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["--config", str(config), "member", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def in_directory(config: Path, contact_id: str) -> bool:
    runtime = build_runtime(load_settings(config), out=io.StringIO(), notice=io.StringIO())
    try:
        return runtime.directory.current().contact(contact_id) is not None
    finally:
        asyncio.run(runtime.close())


def test_the_readme_add_then_remove_by_the_same_matrix_account(config: Path, capsys) -> None:  # noqa: ANN001
    """`member remove @somchai:example.org` once answered "Nobody in the directory is …" (exit 0)
    for the person `member add @somchai:example.org` had just added."""
    code, out, _ = member(config, capsys, "add", "@somchai:example.org", "--country", "TH", "--role", "contact",
                          "--desk", "immigration")
    assert code == 0 and out.startswith("Added somchai (@somchai, Thailand, immigration desk)")
    code, out, _ = member(config, capsys, "add", "console:alice", "--country", "TH", "--role", "officer")
    assert code == 0 and "invite alice (console:alice) to Network room" in out
    assert "I will say here" not in out and "The running bot carries these out" in out  # no chat to say it in
    code, out, err = member(config, capsys, "remove", "@somchai:example.org", "--reason", "posted elsewhere")
    assert code == 0 and out.startswith("Removed somchai") and "Nobody" not in err
    assert not in_directory(config, "somchai")


@pytest.mark.parametrize("argv, said", [
    (("remove", "@nobody:example.org"), "Nobody in the directory is matrix:@nobody:example.org"),
    (("remove", "no-such-id", "--dry-run"), "Nobody in the directory is no-such-id"),
    (("add", "console:bob", "--country", "ZZ", "--role", "contact"), "ZZ is not in the network"),
    (("add", "console:bob", "--country", "TH", "--role", "contact", "--desk", "nodesk"),
     "Thailand has no desk 'nodesk'"),
])
def test_a_refusal_exits_1_on_standard_error_and_changes_nothing(config: Path, capsys, argv, said) -> None:  # noqa: ANN001
    code, out, err = member(config, capsys, *argv)
    assert code == 1 and not out and said in err
    assert not in_directory(config, "bob")


def test_member_export_writes_a_new_file_0600_and_never_over_one(config: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """The export lists people's names and accounts: readable by its owner only (it was 0644 under
    the usual umask), never over an existing file, and a folder that is not there is one error line."""
    import os
    import stat

    previous = os.umask(0o022)
    try:
        target = tmp_path / "people.csv"
        code, out, _ = member(config, capsys, "export", "--output", str(target))
        assert code == 0 and f"Wrote {target}" in out
        assert stat.S_IMODE(target.stat().st_mode) == 0o600 and "th-npoc" in target.read_text()
        target.write_text("kept")
        code, _, err = member(config, capsys, "export", "--output", str(target))
        assert code == 1 and f"error: {target} exists: choose a new name" in err and target.read_text() == "kept"
        code, _, err = member(config, capsys, "export", "--output", str(tmp_path / "nowhere" / "people.csv"))
        assert code == 1 and "error: cannot write" in err and "Traceback" not in err
    finally:
        os.umask(previous)


def test_import_of_a_file_that_is_not_there_is_one_error_line_naming_it_and_what_is_accepted(
        config: Path, capsys, tmp_path: Path) -> None:  # noqa: ANN001
    """`member import nofile.csv` once printed Python's raw `[Errno 2] No such file or directory`."""
    for missing, why in ((tmp_path / "nofile.csv", "no such file"), (tmp_path, "a folder, not a file")):
        code, out, err = member(config, capsys, "import", str(missing))
        assert code == 1 and not out
        assert err.count("\n") == 1 and "Errno" not in err and "Traceback" not in err
        assert err.startswith(f"error: {missing}: {why}") and ".csv or .toml" in err and "member export" in err
        assert "e.g. liaison-bot member import people.csv" in err


def test_remove_dry_run_says_first_what_would_be_done_and_does_nothing(config: Path, capsys) -> None:  # noqa: ANN001
    """`member remove X --dry-run` once opened with "Removed … from the directory." and only then said
    "Dry run: nothing was changed."."""
    assert member(config, capsys, "export")[0] == 0  # the database made, its migrations logged
    code, out, err = member(config, capsys, "remove", "console:th-npoc", "--dry-run")
    assert code == 0 and not err
    first, *rest = out.splitlines()
    assert first.startswith("Dry run: nothing was changed.") and "would" in first
    assert rest[0] == "  Removed National point of contact (Thailand) (@th-npoc) from the directory."
    assert all(line.startswith("  ") for line in rest)  # each line is what the command would answer
    assert in_directory(config, "th-npoc")


def test_add_takes_a_name_a_backup_and_a_time_zone_as_the_chat_command_does(config: Path, capsys) -> None:  # noqa: ANN001
    code, out, err = member(config, capsys, "add", "@somchai:example.org", "--country", "TH", "--role", "contact",
                            "--name", "Somchai P.", "--backup", "th-npoc", "--tz", "Asia/Bangkok")
    assert code == 0, err
    assert out.startswith("Added Somchai P. (@somchai, Thailand) with roles contact; time zone Asia/Bangkok; "
                          "backup National point of contact (Thailand).")
    runtime = build_runtime(load_settings(config), out=io.StringIO(), notice=io.StringIO())
    try:
        somchai = runtime.directory.current().contact("somchai")
    finally:
        asyncio.run(runtime.close())
    assert somchai is not None and (somchai.name, somchai.backup, somchai.timezone) == (
        "Somchai P.", "th-npoc", "Asia/Bangkok")


@pytest.mark.parametrize("extra, code, said", [
    (("--tz", "Mars/Olympus"), 2, "Time zone 'Mars/Olympus' is not valid: use an IANA zone such as Asia/Bangkok or "
                                  "UTC, or default for the network's. Example: liaison-bot member add "
                                  "@somchai:example.org --country TH"),
    (("--name", "x" * 101), 2, "A name is one line of up to 100 characters. Example: liaison-bot member add"),
    (("--backup", "nobody-here"), 1, "Backup nobody-here is not someone else in the directory"),
])
def test_add_refuses_a_bad_zone_name_or_backup_as_the_chat_command_does_and_changes_nothing(
        config: Path, capsys, extra, code, said) -> None:  # noqa: ANN001
    got, out, err = member(config, capsys, "add", "console:bob", "--country", "TH", "--role", "contact", *extra)
    assert got == code and not out and said in err and "Traceback" not in err
    assert not in_directory(config, "bob")


def test_every_option_of_member_add_and_remove_has_help_text(config: Path, capsys) -> None:  # noqa: ANN001
    import argparse

    def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices

    member_parser = subparsers(cli.build_parser())["member"]
    for action in ("add", "remove"):
        options = [a for a in subparsers(member_parser)[action]._actions if a.dest not in ("help", "config")]
        assert {a.dest for a in options} >= ({"user", "organisation", "role", "desk", "name", "backup", "tz", "admin"}
                                             if action == "add" else {"user", "reason", "dry_run", "admin"})
        with pytest.raises(SystemExit) as done:
            cli.main(["--config", str(config), "member", action, "--help"])
        assert done.value.code == 0
        shown = " ".join(capsys.readouterr().out.split())
        for option in options:
            assert option.help, (action, option.dest)
            assert " ".join(option.help.split()) in shown, (action, option.dest)


def test_add_with_tz_default_gives_someone_back_the_network_default(config: Path, capsys) -> None:  # noqa: ANN001
    code, _, err = member(config, capsys, "add", "@somchai:example.org", "--country", "TH", "--role", "contact",
                          "--tz", "UTC")
    assert code == 0, err
    code, out, err = member(config, capsys, "add", "@somchai:example.org", "--country", "TH", "--role", "contact",
                            "--tz", "default")
    assert code == 0, err
    assert "time zone Asia/Bangkok (the network's default)" in out
    runtime = build_runtime(load_settings(config), out=io.StringIO(), notice=io.StringIO())
    try:
        somchai = runtime.directory.current().contact("somchai")
    finally:
        asyncio.run(runtime.close())
    assert somchai is not None and somchai.timezone == ""
