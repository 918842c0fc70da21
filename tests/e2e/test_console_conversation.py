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


def test_the_guided_form_on_the_console(workdir: Path) -> None:
    script = ("/alert\n\nTH\n3\nurgent\n-\nB2\n1\nTwo travellers with altered passports\n1\n")
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "New alert · step 1 of 7" in out and "1. All members" in out and "3. AMBER" in out
    assert "Ready to send this alert:" in out and "1. Send" in out
    assert out.count(" accepted (TLP:AMBER") == 1, out
    to_thailand = out.split("(Thailand), direct chat", 1)[1]
    assert "URGENT" in to_thailand and "Two travellers with altered passports" in to_thailand
    assert "Traceback" not in out + run.stderr


def test_an_open_form_keeps_its_text_sealed_and_survives_a_restart(workdir: Path) -> None:
    console(workdir, "/alert\n\nTH\n3\nurgent\n-\nB2\n1\nCANARY-5e1d passport N7654321\n")
    for path in (workdir / "var").rglob("*"):
        if path.is_file():
            assert b"CANARY-5e1d" not in path.read_bytes(), path
    run = console(workdir, "send\n")
    assert run.stdout.count(" accepted (TLP:AMBER") == 1, run.stdout + run.stderr
