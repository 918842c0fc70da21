"""The console end to end (a real process, a script on standard input): a command sent without its
text waits for the next line, and the wait survives a restart (it is kept in the SQLite database)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.test_console import ROOT, console


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "config.example.toml", tmp_path / "config.toml")
    return tmp_path


def test_the_next_line_is_the_text_of_an_alert_sent_without_one(workdir: Path) -> None:
    run = console(workdir, "/alert to:TH tlp:amber\n\nTwo travellers with altered passports\nthanks\n")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Send the text of your alert now, or /cancel." in out
    assert out.count(" accepted (TLP:AMBER") == 1
    assert "Two travellers with altered passports" in out.split("(Thailand), direct chat", 1)[1]


def test_the_wait_survives_a_restart(workdir: Path) -> None:
    first = console(workdir, "/alert to:TH tlp:amber\n\n")
    assert "Send the text of your alert now, or /cancel." in first.stdout, first.stdout + first.stderr
    assert " accepted (" not in first.stdout
    second = console(workdir, "Two travellers with altered passports\n")
    assert second.stdout.count(" accepted (TLP:AMBER") == 1, second.stdout + second.stderr
    assert "Two travellers with altered passports" in second.stdout.split("(Thailand), direct chat", 1)[1]


def test_cancel_ends_the_wait(workdir: Path) -> None:
    run = console(workdir, "/alert to:TH\n\n/cancel\nTwo travellers\n")
    assert "Cancelled: your alert was not sent." in run.stdout
    assert " accepted (" not in run.stdout


def test_the_wait_is_set_in_the_config(workdir: Path) -> None:
    config = workdir / "config.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("body_wait_minutes = 5", "body_wait_minutes = 2"),
                      encoding="utf-8")
    run = console(workdir, "/alert to:TH\n\n")
    assert "Send the text of your alert now, or /cancel. I wait 2 minutes for it." in run.stdout, run.stdout
