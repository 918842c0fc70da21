"""Erasure: a case's content becomes unreadable everywhere, the chain still verifies, the erasure is
recorded without content; retention erases expired cases."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest

from sqlalchemy import Engine, select

from alerts.audit import AuditAction
from alerts.clock import ManualClock
from storage.audit import erase, erase_expired, export, read_entries, show, verify
from storage.audit.log import SqlAuditLog
from storage.audit.tables import audit_entries
from storage.keyring import Keyring
from storage.case_keys import case_keys
from storage.sealing import CaseKeySealer, ContentErased
from tests.audit.support import append, event, fill


def test_erasure_makes_content_unreadable_everywhere_and_keeps_the_disclosure_record(
        audit_engine: Engine, keyring: Keyring, clock: ManualClock, witness_path) -> None:  # noqa: ANN001
    fill(audit_engine, keyring, clock, 6)  # cases A-2026-0000 and A-2026-0001, three entries each
    with audit_engine.begin() as connection:
        item_blob = CaseKeySealer(connection, keyring).seal(b"the item", aad=b"items|A-2026-0001", case="A-2026-0001")

    assert erase(audit_engine, keyring, "A-2026-0001", reason="data subject request", actor="console:admin").key_destroyed

    with audit_engine.begin() as connection:
        with pytest.raises(ContentErased):
            CaseKeySealer(connection, keyring).open(item_blob, aad=b"items|A-2026-0001", case="A-2026-0001")
        entries = list(read_entries(connection, keyring, reference="A-2026-0001"))
    assert [e.content for e in entries] == ["erased"] * 3 + ["present"]
    assert all(e.detail is None for e in entries[:3])
    assert all(e.actor == "console:th-officer" and e.recipients == ["my-npoc"] for e in entries[:3])
    erasure = entries[3]
    assert erasure.action == AuditAction.ERASURE.value and erasure.purpose == "data subject request"
    assert erasure.detail == {"case_key": "destroyed", "item": "none", "outbox_cancelled": "0"}
    assert erasure.actor == "console:admin"
    with audit_engine.connect() as connection:
        row = connection.execute(select(audit_entries).where(audit_entries.c.seq == 7)).one()
    assert row.case_ref is None  # sealed under the master key: it holds no case content

    report = verify(audit_engine, keyring)
    assert report.ok and report.erased == 3 and report.entries == 7

    out = io.StringIO()
    show(audit_engine, keyring, "A-2026-0001", out, actor="console:auditor")
    assert "[content erased]" in out.getvalue() and "message 3" not in out.getvalue()
    out = io.StringIO()
    export(audit_engine, keyring, out, reference="A-2026-0000", actor="console:auditor")
    assert "message 0" in out.getvalue()  # the other case is untouched


def test_content_arriving_after_erasure_is_not_stored(audit_engine: Engine, keyring: Keyring,
                                                      clock: ManualClock) -> None:
    fill(audit_engine, keyring, clock, 3)
    erase(audit_engine, keyring, "A-2026-0000", reason="r", actor="console:admin")
    append(audit_engine, keyring, clock, [event(clock, 0, detail={"body": "late content"})])
    with audit_engine.begin() as connection:
        late = list(read_entries(connection, keyring, reference="A-2026-0000"))[-1]
        row = connection.execute(select(audit_entries).order_by(audit_entries.c.seq.desc())).first()
    assert row.sealed_detail is None and row.case_ref == "A-2026-0000"
    assert late.content == "erased" and late.actor == "console:th-officer"
    assert verify(audit_engine, keyring).ok


def test_erase_expired_erases_cases_older_than_the_retention(audit_engine: Engine, keyring: Keyring,
                                                             clock: ManualClock) -> None:
    fill(audit_engine, keyring, clock, 3)                 # A-2026-0000, key made now
    clock.advance(timedelta(days=10))
    fill(audit_engine, keyring, clock, 3, start=3)        # A-2026-0001, ten days later
    clock.advance(timedelta(days=25))
    with audit_engine.begin() as connection:
        erased = erase_expired(connection, keyring, clock.now(), timedelta(days=30))
    assert erased == ["A-2026-0000"]
    with audit_engine.begin() as connection:
        assert erase_expired(connection, keyring, clock.now(), timedelta(days=30)) == []
    clock.advance(timedelta(days=6))
    with audit_engine.begin() as connection:
        assert erase_expired(connection, keyring, clock.now(), timedelta(days=30)) == ["A-2026-0001"]
        keys = {r.reference: r.erased_at for r in connection.execute(select(case_keys))}
        erasures = connection.execute(select(audit_entries).where(audit_entries.c.action == "erasure")).all()
    assert all(keys.values())
    assert [e.reference for e in erasures] == ["A-2026-0000", "A-2026-0001"]
    with audit_engine.begin() as connection:
        entry = [e for e in read_entries(connection, keyring) if e.action == "erasure"][0]
    assert entry.actor == "system:retention" and "30 days" in entry.purpose
    assert verify(audit_engine, keyring).ok


def test_the_erasure_entry_holds_no_content(audit_engine: Engine, keyring: Keyring, clock: ManualClock) -> None:
    append(audit_engine, keyring, clock, [event(clock, 0, detail={"body": "CANARY-ERASED-BODY"})])
    erase(audit_engine, keyring, "A-2026-0000", reason="retention", actor="console:admin")
    with audit_engine.begin() as connection:
        entries = list(read_entries(connection, keyring))
        SqlAuditLog(connection, keyring, clock)  # the log stays usable after erasure
    assert "CANARY-ERASED-BODY" not in json.dumps([e.to_dict() for e in entries])
