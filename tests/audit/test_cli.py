"""`liaison-bot audit ...` and `liaison-bot keys ...` through argparse, with a stand-in context."""

from __future__ import annotations

import argparse
import base64
import csv
import json
import stat
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from alerts.clock import ManualClock
from bot.cli import audit as cli_audit
from bot.cli import keys as cli_keys
from storage import keyring as keyfile
from storage.audit import Checkpointer, read_entries
from tests.audit.support import execute, fill, scalar


@dataclass
class Context:
    engine: Engine
    keyring_path: Path
    witness_path: Path | None
    clock: ManualClock
    actor: str = "cli:auditor"


@pytest.fixture
def run(sqlite_engine: Engine, tmp_path: Path, clock: ManualClock, capsys: pytest.CaptureFixture[str]):  # noqa: ANN201
    context = Context(sqlite_engine, tmp_path / "keys" / "liaison.keys", tmp_path / "witness.log", clock)
    parser = argparse.ArgumentParser(prog="liaison-bot")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=None)
    commands = parser.add_subparsers(dest="command", required=True)
    cli_keys.register(commands, lambda args: context, common)
    cli_audit.register(commands, lambda args: context, common)

    def run(*argv: str) -> tuple[int, str, str]:
        args = parser.parse_args(argv)
        code = args.handler(args)
        out = capsys.readouterr()
        return code, out.out, out.err

    run.context = context  # type: ignore[attr-defined]
    return run


def _secrets(path: Path) -> list[str]:
    document = json.loads(path.read_text())
    return [k["key"] for k in document["master_keys"]] + [document["signing_key"]["private"]]


def test_keys_generate_and_rotate_are_recorded_and_print_no_secret(run) -> None:  # noqa: ANN001
    context = run.context
    code, out, _ = run("keys", "generate")
    assert code == 0 and "mode 0600" in out
    assert stat.S_IMODE(context.keyring_path.stat().st_mode) == 0o600
    code, _, err = run("keys", "generate")
    assert code == 1 and "already exists" in err
    fill(context.engine, keyfile.load(context.keyring_path), context.clock, 3)
    code, out2, _ = run("keys", "rotate", "--rewrap")
    assert code == 0 and "Re-wrapped 1 case key" in out2
    keyring = keyfile.load(context.keyring_path)
    for secret in _secrets(context.keyring_path):
        assert secret not in out + out2
        assert base64.b64decode(secret).hex() not in out + out2
    with context.engine.begin() as connection:
        key_entries = [e for e in read_entries(connection, keyring) if e.action == "key"]
    assert [e.detail["operation"] for e in key_entries] == ["generate", "rotate"]
    assert key_entries[1].detail["master_key"] == keyring.current_id and key_entries[1].actor == "cli:auditor"


def test_audit_verify_exits_zero_with_counts_and_root_and_one_naming_the_bad_entry(run) -> None:  # noqa: ANN001
    context = run.context
    run("keys", "generate")
    keyring = keyfile.load(context.keyring_path)
    fill(context.engine, keyring, context.clock, 9)
    Checkpointer(keyring, context.witness_path, every_entries=1).run(context.engine, context.clock.now())
    code, out, _ = run("audit", "verify")
    assert code == 0 and "audit log OK: 10 entries, 1 checkpoints, 1 witnessed" in out and "root " in out
    execute(context.engine, "DELETE FROM audit_entries WHERE seq = 4")
    code, out, _ = run("audit", "verify", "--workers", "1")
    assert code == 1 and "first bad entry: 4" in out


def test_audit_export_show_and_erase(run, tmp_path: Path) -> None:  # noqa: ANN001
    context = run.context
    run("keys", "generate")
    keyring = keyfile.load(context.keyring_path)
    fill(context.engine, keyring, context.clock, 6)
    target = tmp_path / "export.csv"
    code, _, err = run("audit", "export", "--format", "csv", "--reference", "A-2026-0001", "--output", str(target),
                       "--since", "2026-01-01", "--purpose", "annual audit")
    assert code == 0 and "exported 3 entries" in err
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [r["seq"] for r in csv.DictReader(target.open())] == ["5", "6", "7"]  # seq 1 is the KEY entry
    code, _, err = run("audit", "export", "--output", str(target))
    assert code == 1 and err == f"error: {target} exists: choose a new name (an export never overwrites a file)\n"
    code, _, err = run("audit", "export", "--output", str(tmp_path / "nowhere" / "x.jsonl"))
    assert code == 1 and err.startswith(f"error: cannot write {tmp_path / 'nowhere' / 'x.jsonl'}: No such file")
    code, out, _ = run("audit", "show", "A-2026-0001")
    assert code == 0 and "message 4" in out
    code, out, _ = run("audit", "erase", "A-2026-0001", "--reason", "retention")
    assert code == 0 and "destroyed" in out
    code, out, _ = run("audit", "show", "A-2026-0001")
    assert "[content erased]" in out and "message 4" not in out
    code, out, _ = run("audit", "verify")
    assert code == 0
    with context.engine.begin() as connection:
        actions = [e.action for e in read_entries(connection, keyring)]
    assert actions == ["key"] + ["delivery"] * 6 + ["export", "consultation", "erasure", "consultation"]


def test_erase_needs_a_reason(run) -> None:  # noqa: ANN001
    with pytest.raises(SystemExit):
        run("audit", "erase", "A-2026-0001")


def test_erase_and_show_read_a_reference_in_any_case_as_the_chat_does(run) -> None:  # noqa: ANN001
    """`audit erase a-2026-0001` erases A-2026-0001: a lower-case reference once left the case intact
    while the command said "no live key was left" and exited 0."""
    context = run.context
    run("keys", "generate")
    fill(context.engine, keyfile.load(context.keyring_path), context.clock, 6)
    code, out, _ = run("audit", "show", "a-2026-0001")
    assert code == 0 and "Trail of A-2026-0001: 3 entries" in out and "message 3" in out
    code, out, _ = run("audit", "erase", " a-2026-0001", "--reason", "retention")
    assert code == 0 and "A-2026-0001: its key is destroyed" in out
    code, out, _ = run("audit", "show", "A-2026-0001")
    assert "[content erased]" in out and "message 3" not in out


def test_erase_refuses_what_names_no_case_and_changes_nothing(run, capsys) -> None:  # noqa: ANN001
    """A typo in the reference, or a blank reason, destroys nothing and records nothing: it once
    "erased" a reference that named no case, recorded the erasure and exited 0."""
    context = run.context
    run("keys", "generate")
    fill(context.engine, keyfile.load(context.keyring_path), context.clock, 6)
    before = scalar(context.engine, "SELECT count(*) FROM audit_entries")
    code, out, err = run("audit", "erase", "A-2026-9999", "--reason", "retention")
    assert code == 1 and not out
    assert err.startswith("error: A-2026-9999: no item or case of that reference here; nothing was erased")
    with pytest.raises(SystemExit) as exited:
        run("audit", "erase", "A-2026-0001", "--reason", "  ")
    assert exited.value.code == 2 and "--reason" in capsys.readouterr().err
    assert scalar(context.engine, "SELECT count(*) FROM audit_entries") == before
    assert scalar(context.engine, "SELECT count(*) FROM case_keys WHERE erased_at IS NOT NULL") == 0


def test_a_malformed_reference_is_refused_with_the_form_and_an_example(run, capsys) -> None:  # noqa: ANN001
    run("keys", "generate")
    for argv in (("audit", "show", "A-26-1"), ("audit", "export", "--reference", "nonsense"),
                 ("audit", "erase", "nonsense", "--reason", "retention")):
        with pytest.raises(SystemExit) as exited:
            run(*argv)
        assert exited.value.code == 2
        err = capsys.readouterr().err
        assert "not an item reference" in err and "A-YYYY-NNNN or R-YYYY-NNNN" in err and "A-2026-0042" in err


@pytest.mark.parametrize("workers", ["0", "-3"])
def test_verify_refuses_no_workers_in_one_line(run, workers: str) -> None:  # noqa: ANN001
    """`audit verify --workers 0` (or -3) was once taken silently."""
    run("keys", "generate")
    code, out, err = run("audit", "verify", "--workers", workers)
    assert code == 1 and not out
    assert err == (f"error: --workers {workers}: give a number of processes, 1 or more (or leave it out for one "
                   "per CPU), e.g. --workers 4\n")


@pytest.mark.parametrize("since, until", [("2026-12-01", "2026-11-01"), ("2026-11-01", "2026-11-01")])
def test_export_refuses_a_period_that_ends_before_it_starts_and_records_nothing(run, since, until) -> None:  # noqa: ANN001
    """`audit export --since` after `--until` once exported nothing and recorded an export."""
    context = run.context
    run("keys", "generate")
    fill(context.engine, keyfile.load(context.keyring_path), context.clock, 3)
    before = scalar(context.engine, "SELECT count(*) FROM audit_entries")
    code, out, err = run("audit", "export", "--since", since, "--until", until)
    assert code == 1 and not out and err.count("\n") == 1
    assert err.startswith(f"error: --since {since} is not before --until {until}")
    assert "e.g. --since 2026-11-01 --until 2026-12-01" in err
    assert scalar(context.engine, "SELECT count(*) FROM audit_entries") == before


def test_verify_prints_one_line_per_finding_each_saying_what_and_where(run) -> None:  # noqa: ANN001
    """A text value that is not UTF-8 written over a sealed part stopped verify with "the database cannot
    be used", naming no entry; and the first finding alone was printed, so a missing witness file hid it."""
    context = run.context
    run("keys", "generate")
    keyring = keyfile.load(context.keyring_path)
    fill(context.engine, keyring, context.clock, 9)
    Checkpointer(keyring, context.witness_path, every_entries=1).run(context.engine, context.clock.now())
    execute(context.engine, "UPDATE audit_entries SET sealed_detail = CAST(X'FF00' AS TEXT) WHERE seq = 6")
    context.witness_path.unlink()
    code, out, err = run("audit", "verify", "--workers", "1")
    assert code == 1 and err == "" and "Traceback" not in out
    assert out.splitlines() == [
        "audit log FAILED verification: first bad entry: 6: entry hash does not match its columns: entry altered "
        "(5 entries read)",
        f"also: witness file {context.witness_path} is missing or empty, but the table holds 1 checkpoints"]
