"""Export (JSON lines, CSV, filters) and show decrypt for an auditor, and are recorded themselves."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta, timezone

from sqlalchemy import Engine

from alerts.audit import AuditAction
from alerts.clock import ManualClock
from storage.audit import export, read_entries, show, verify
from storage.keyring import Keyring
from tests.audit.support import append, event


def _log(engine: Engine, keyring: Keyring, clock: ManualClock) -> None:
    append(engine, keyring, clock, [
        event(clock, 0, reference="A-2026-0001", action=AuditAction.ITEM_CREATED, recipients=("th-npoc", "my-npoc"),
              detail={"body": "=HYPERLINK(\"http://x\")", "to": "TH, MY"}),
        event(clock, 1, reference="A-2026-0001", recipients=("th-npoc",)),
        event(clock, 2, reference="A-2026-0001", recipients=("my-npoc",)),
        event(clock, 3, reference="R-2026-0002", action=AuditAction.REFUSAL, recipients=("AU",),
              detail={"reason": "TLP:RED needs named people"}),
    ])
    clock.advance(timedelta(days=1))
    append(engine, keyring, clock, [event(clock, 4, reference="A-2026-0003", recipients=("au-npoc",))])


def _jsonl(engine: Engine, keyring: Keyring, **filters: object) -> list[dict]:
    out = io.StringIO()
    count = export(engine, keyring, out, "jsonl", actor="console:auditor", **filters)
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == count
    return rows


def test_export_filters(audit_engine: Engine, keyring: Keyring, clock: ManualClock) -> None:
    _log(audit_engine, keyring, clock)
    assert [r["seq"] for r in _jsonl(audit_engine, keyring)] == [1, 2, 3, 4, 5]
    assert [r["seq"] for r in _jsonl(audit_engine, keyring, reference="A-2026-0001")] == [1, 2, 3]
    day_two = clock.now() - timedelta(hours=1)
    assert [r["seq"] for r in _jsonl(audit_engine, keyring, since=day_two, until=clock.now() + timedelta(1))] == [5]
    assert [r["seq"] for r in _jsonl(audit_engine, keyring, until=day_two)][:4] == [1, 2, 3, 4]
    assert [r["seq"] for r in _jsonl(audit_engine, keyring, recipient="my-npoc")] == [1, 3]
    # Country by selector ("AU"), by the directory's organisation of a contact, or by detail["to"].
    orgs = {"th-npoc": "TH", "my-npoc": "MY", "au-npoc": "AU"}
    assert [r["seq"] for r in _jsonl(audit_engine, keyring, country="au", organisation_of=orgs.get)] == [4, 5]
    assert [r["seq"] for r in _jsonl(audit_engine, keyring, country="TH", organisation_of=orgs.get)] == [1, 2]
    first = _jsonl(audit_engine, keyring, reference="A-2026-0001")[0]
    assert first["actor"] == "console:th-officer" and first["caveat"] == "TLP:AMBER"
    assert first["purpose"] == "identity check" and first["content"] == "present"
    assert first["detail"]["to"] == "TH, MY" and first["recipients"] == ["th-npoc", "my-npoc"]


def test_each_export_is_recorded_with_its_filter(audit_engine: Engine, keyring: Keyring, clock: ManualClock) -> None:
    _log(audit_engine, keyring, clock)
    export(audit_engine, keyring, io.StringIO(), "csv", reference="A-2026-0001", country="TH",
           actor="console:auditor", purpose="annual audit", clock=clock)
    with audit_engine.begin() as connection:
        recorded = list(read_entries(connection, keyring))[-1]
    assert recorded.action == "export" and recorded.actor == "console:auditor"
    assert recorded.reference == "A-2026-0001" and recorded.purpose == "annual audit"
    assert recorded.detail == {"format": "csv", "reference": "A-2026-0001", "country": "TH", "entries": "1",
                               "completed": "yes"}
    assert verify(audit_engine, keyring).ok


def test_csv_export_is_safe_to_open_in_a_spreadsheet(audit_engine: Engine, keyring: Keyring,
                                                     clock: ManualClock) -> None:
    _log(audit_engine, keyring, clock)
    out = io.StringIO()
    export(audit_engine, keyring, out, "csv", reference="A-2026-0001", actor="console:auditor")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 3 and rows[0]["recipients"] == "th-npoc; my-npoc"
    assert json.loads(rows[0]["detail"])["body"].startswith("=HYPERLINK")  # inside JSON: inert
    out = io.StringIO()
    append(audit_engine, keyring, clock, [event(clock, 9, purpose="=cmd|' /C calc'!A0")])
    export(audit_engine, keyring, out, "csv", actor="console:auditor")
    purposes = [r["purpose"] for r in csv.DictReader(io.StringIO(out.getvalue()))]
    assert "'=cmd|' /C calc'!A0" in purposes


def test_show_prints_who_received_what_when_how_and_why_and_records_the_consultation(
        audit_engine: Engine, keyring: Keyring, clock: ManualClock) -> None:
    _log(audit_engine, keyring, clock)
    out = io.StringIO()
    entries = show(audit_engine, keyring, "A-2026-0001", out, actor="console:auditor", purpose="complaint")
    text = out.getvalue()
    assert len(entries) == 3 and "Trail of A-2026-0001: 3 entries" in text
    assert "to th-npoc, my-npoc" in text and "via direct:console:my-npoc" in text
    assert "[TLP:AMBER]" in text and "why: identity check" in text and "message 1" in text
    assert f"{entries[0].recorded_at.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}Z  #" in text  # the audit log: UTC
    with audit_engine.begin() as connection:
        consulted = list(read_entries(connection, keyring))[-1]
    assert consulted.action == "consultation" and consulted.reference == "A-2026-0001"
    assert consulted.actor == "console:auditor" and consulted.purpose == "complaint"
