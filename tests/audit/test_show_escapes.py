"""`audit show` records the consultation before it prints anything, and what anyone wrote (bodies,
purposes, names) reaches a terminal or an export with its control characters escaped."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine

from alerts.audit import AuditAction
from alerts.clock import ManualClock
from storage.audit import export, read_entries, show
from storage.keyring import Keyring
from tests.audit.support import append, event

# Clears the screen, returns the cursor, and then prints what looks like an entry of the trail.
BODY = ("ok\x1b[2J\x1b[H\r2026-11-23 09:00:00Z  #99  delivery  by console:admin  to th-npoc\n"
        "    body: nothing to see\x9b31m\u202egnp.exe\u2028end\\n")
RAW = ("\x1b", "\r", "\x9b", "\u202e", "\u2028")


def _nasty(engine: Engine, keyring: Keyring, clock: ManualClock) -> None:
    append(engine, keyring, clock, [
        event(clock, 0, reference="A-2026-0001", detail={"body": BODY}, purpose="why\rwho", actor="console:x\x1b[8m"),
        event(clock, 1, reference="A-2026-0001"),
    ])


def _consultations(engine: Engine, keyring: Keyring) -> list:
    with engine.connect() as connection:
        return [e for e in read_entries(connection, keyring) if e.action == AuditAction.CONSULTATION.value]


def test_show_escapes_control_characters_so_a_body_cannot_draw_on_the_terminal(
        audit_engine: Engine, keyring: Keyring, clock: ManualClock) -> None:
    _nasty(audit_engine, keyring, clock)
    out = io.StringIO()
    show(audit_engine, keyring, "A-2026-0001", out, actor="cli:auditor")
    text = out.getvalue()
    assert not any(char in text for char in RAW)
    lines = text.split("\n")[:-1]
    # The header, then per entry its line and one line per detail: nothing a body wrote starts a line.
    assert len(lines) == 1 + 2 + 2 and all(line.startswith(("Trail of", "2026-", "    ")) for line in lines)
    assert "\\x1b[2J\\x1b[H\\r2026-11-23 09:00:00Z  #99" in text and "\\x9b31m\\u202egnp.exe\\u2028end\\\\n" in text
    assert "why: why\\rwho" in text and "by console:x\\x1b[8m" in text


def test_exports_escape_control_characters_and_jsonl_still_reads_back_exactly(
        audit_engine: Engine, keyring: Keyring, clock: ManualClock) -> None:
    _nasty(audit_engine, keyring, clock)
    jsonl = io.StringIO()
    export(audit_engine, keyring, jsonl, "jsonl", actor="cli:auditor", reference="A-2026-0001")
    assert not any(char in jsonl.getvalue() for char in RAW)
    rows = [json.loads(line) for line in jsonl.getvalue().splitlines()]
    assert rows[0]["detail"]["body"] == BODY and rows[0]["purpose"] == "why\rwho"
    table = io.StringIO()
    export(audit_engine, keyring, table, "csv", actor="cli:auditor", reference="A-2026-0001")
    lines = table.getvalue().replace("\r\n", "\n")  # CSV ends its records with \r\n
    assert not any(char in lines for char in RAW)
    cells = list(csv.DictReader(io.StringIO(table.getvalue())))
    assert lines.count("\n") == 1 + len(cells) == 4  # the header and one line per entry (the first export's too)
    assert "\\u001b[2J" in cells[0]["detail"] and json.loads(cells[0]["detail"])["body"] == BODY
    assert cells[0]["purpose"] == "why\\rwho" and cells[0]["actor"] == "console:x\\x1b[8m"


class _ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_the_consultation_is_recorded_before_anything_is_printed(
        audit_engine: Engine, keyring: Keyring, clock: ManualClock) -> None:
    _nasty(audit_engine, keyring, clock)
    with pytest.raises(BrokenPipeError):
        show(audit_engine, keyring, "A-2026-0001", _ClosedPipe(), actor="cli:auditor", purpose="review")
    [consultation] = _consultations(audit_engine, keyring)
    assert consultation.reference == "A-2026-0001" and consultation.actor == "cli:auditor"
    assert consultation.purpose == "review" and consultation.detail["entries"] == "2"


def test_audit_show_into_a_pipe_closed_early_still_leaves_the_record_and_no_traceback(
        tmp_path: Path, keyring_path: Path, keyring: Keyring, clock: ManualClock) -> None:
    from storage.db import create_engine_for, sqlite_url
    from storage.migrate import upgrade

    database = tmp_path / "bot.sqlite"
    engine = create_engine_for(sqlite_url(database))
    try:
        upgrade(engine)
        _nasty(engine, keyring, clock)
        config = tmp_path / "config.toml"
        example = (Path(__file__).resolve().parents[2] / "config.example.toml").read_text()
        config.write_text(example.replace('url = "sqlite:///var/liaison.sqlite"', f'url = "sqlite:///{database}"')
                          .replace('path = "var/keys/liaison.keys"', f'path = "{keyring_path}"'))
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader is gone before the first byte, as `| head -0` would leave it
        try:
            done = subprocess.run([sys.executable, "-m", "bot.cli.main", "--config", str(config), "audit", "show",
                                   "A-2026-0001"], stdout=write_end, stderr=subprocess.PIPE, timeout=120,
                                  cwd=Path(__file__).resolve().parents[2])
        finally:
            os.close(write_end)
        assert "Traceback" not in done.stderr.decode(), done.stderr.decode()
        [consultation] = _consultations(engine, keyring)
        assert consultation.reference == "A-2026-0001" and consultation.detail["via"] == "audit show"
    finally:
        engine.dispose()
