"""`audit show` and `audit export` check the chain first, with `audit verify`'s own verifier: over a
log that does not verify they once printed and exported entries without a word. Now they say so on
standard error, in one line before anything else, and exit 1; what was asked is still written (an
auditor looking into the tampering needs the entries as stored), and their own entry records that
the log did not verify."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from storage import keyring as keyfile
from storage.audit import Checkpointer, read_entries
from tests.audit.support import execute, fill
from tests.audit.test_cli import run  # noqa: F401 - the fixture


def _tampered(run) -> None:  # noqa: ANN001
    context = run.context
    run("keys", "generate")
    keyring = keyfile.load(context.keyring_path)
    fill(context.engine, keyring, context.clock, 9)
    Checkpointer(keyring, context.witness_path, every_entries=1).run(context.engine, context.clock.now())
    execute(context.engine, "DELETE FROM audit_entries WHERE seq = 4")  # an entry of A-2026-0002


def _errors(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("error:")]


def _recorded(run, action: str):  # noqa: ANN001, ANN202
    context = run.context
    with context.engine.begin() as connection:
        return [e for e in read_entries(connection, keyfile.load(context.keyring_path)) if e.action == action]


def test_show_of_a_log_that_does_not_verify_says_so_first_in_one_line_and_exits_1(run) -> None:  # noqa: ANN001
    _tampered(run)
    code, out, err = run("audit", "show", "A-2026-0001")
    assert code == 1
    [line] = _errors(err)
    assert err.splitlines()[0] == line  # before anything else on standard error
    assert line.startswith("error: audit log FAILED verification: first bad entry: 4: ")
    assert "the entries shown are as stored" in line and "liaison-bot audit verify" in line
    assert out.startswith("Trail of A-2026-0001: 3 entries\n") and "message 3" in out  # still shown
    [consultation] = _recorded(run, "consultation")
    assert consultation.detail["verified"] == "no"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_of_a_log_that_does_not_verify_says_so_in_one_line_and_exits_1(run, fmt: str,  # noqa: ANN001
                                                                              tmp_path: Path) -> None:
    _tampered(run)
    target = tmp_path / f"export.{fmt}"
    code, out, err = run("audit", "export", "--format", fmt, "--output", str(target))
    assert code == 1 and out == ""
    [line] = _errors(err)
    assert err.splitlines()[0] == line
    assert line.startswith("error: audit log FAILED verification: first bad entry: 4: ")
    assert "the entries exported are as stored" in line
    text = target.read_text()
    rows = (list(csv.DictReader(io.StringIO(text))) if fmt == "csv"
            else [json.loads(row) for row in text.splitlines()])
    assert [int(r["seq"]) for r in rows] == [1, 2, 3, 5, 6, 7, 8, 9, 10]  # what is there, as asked
    [export] = _recorded(run, "export")
    assert export.detail["verified"] == "no"


def test_show_and_export_of_a_log_that_verifies_say_nothing_and_record_it(run) -> None:  # noqa: ANN001
    context = run.context
    run("keys", "generate")
    fill(context.engine, keyfile.load(context.keyring_path), context.clock, 6)
    code, out, err = run("audit", "show", "A-2026-0001")
    assert code == 0 and err == "" and "Trail of A-2026-0001: 3 entries" in out
    code, out, err = run("audit", "export")
    assert code == 0 and err == "exported 8 entries; the export is recorded in the audit log\n"  # the key, 6, the show
    assert [e.detail["verified"] for e in _recorded(run, "consultation") + _recorded(run, "export")] == ["yes", "yes"]


def test_show_prints_only_what_the_verification_covered(run, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """An entry the bot appends between the check and the reading is left for the next reading: what is
    shown is what was verified."""
    from bot.cli import audit as cli_audit
    from tests.audit.support import append, event

    context = run.context
    run("keys", "generate")
    keyring = keyfile.load(context.keyring_path)
    fill(context.engine, keyring, context.clock, 6)
    checked = cli_audit.verify

    def verify_then_the_bot_appends(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        report = checked(*args, **kwargs)
        append(context.engine, keyring, context.clock,
               [event(context.clock, 99, reference="A-2026-0001", detail={"body": "appended meanwhile"})])
        return report

    monkeypatch.setattr(cli_audit, "verify", verify_then_the_bot_appends)
    code, out, err = run("audit", "show", "A-2026-0001")
    assert code == 0 and err == "" and "Trail of A-2026-0001: 3 entries" in out and "appended meanwhile" not in out
    monkeypatch.setattr(cli_audit, "verify", checked)
    code, out, _ = run("audit", "show", "A-2026-0001")
    assert code == 0 and "appended meanwhile" in out


def test_a_head_that_fails_its_mac_is_said_and_the_reading_that_cannot_be_recorded_too(run) -> None:  # noqa: ANN001
    """The log is never extended past a head whose MAC fails, so the reading cannot be recorded: a second
    line says so; `audit show` prints nothing (it records before it prints), `audit export` wrote first."""
    from tests.audit.support import rehash_from

    context = run.context
    run("keys", "generate")
    fill(context.engine, keyfile.load(context.keyring_path), context.clock, 6)
    execute(context.engine, "DELETE FROM audit_entries WHERE seq = 7")
    rehash_from(context.engine, 1)  # hashes and head recomputed, as anyone can; the MAC needs the key file
    code, out, err = run("audit", "show", "A-2026-0001")
    first, second = _errors(err)
    assert code == 1 and out == ""
    assert first.startswith("error: audit log FAILED verification: the head's MAC does not verify")
    assert second.startswith("error: the audit log's head does not verify under the key file")
    code, out, err = run("audit", "export", "--reference", "A-2026-0001")
    first, second = _errors(err)
    assert code == 1 and [json.loads(row)["seq"] for row in out.splitlines()] == [5, 6]
    assert first.startswith("error: audit log FAILED verification:") and "entries exported are as stored" in first
    assert second.startswith("error: the audit log's head does not verify under the key file")
