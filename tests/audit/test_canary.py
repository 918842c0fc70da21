"""No content in plaintext anywhere: canaries sealed through the audit log and the case sealer are
not found in the SQLite file, its WAL, the witness, or anything logged or printed."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import Column, Engine, Integer, LargeBinary, MetaData, Table, insert

from alerts.audit import AuditAction, AuditEvent
from alerts.clock import ManualClock
from storage.audit import Checkpointer, SqlAuditLog, erase, verify
from storage.keyring import Keyring
from storage.sealing import CaseKeySealer

CANARIES = {
    "actor": "console:CANARY-ACTOR-Zx81",
    "recipient": "CANARY-RECIPIENT-Qp3",
    "channel": "direct:matrix:@CANARY-CHANNEL-Rr4:example.org",
    "purpose": "identity check of CANARY-PURPOSE-Lm9",
    "body": "Two travellers, CANARY-BODY-Vt7, passport N1234567",
    "name": "Somchai CANARY-NAME-Kd2",
    "item": "CANARY-ITEM-CONTENT-Hh5",
}
MARKERS = [value.split("CANARY-")[1].split()[0].rstrip(",:") for value in CANARIES.values()]


def _seed(engine: Engine, keyring: Keyring, clock: ManualClock, witness: Path) -> None:
    items = Table("canary_items", MetaData(), Column("id", Integer, primary_key=True), Column("sealed", LargeBinary))
    items.create(engine)
    for batch in range(2):  # the erasure empties the WAL; the second batch is there to be found in it
        with engine.begin() as connection:
            log = SqlAuditLog(connection, keyring, clock)
            for i, reference in enumerate(["A-2026-0001", "A-2026-0002", None]):
                log.record(AuditEvent(
                    action=AuditAction.DELIVERY if reference else AuditAction.ADMIN, at=clock.now(),
                    actor=CANARIES["actor"], recipients=(CANARIES["recipient"], CANARIES["name"]),
                    channel=CANARIES["channel"], reference=reference, caveat="TLP:RED", purpose=CANARIES["purpose"],
                    detail={"body": CANARIES["body"], "about": CANARIES["name"], "n": str(i)},
                ))
            sealer = CaseKeySealer(connection, keyring, clock)
            for case in ("A-2026-0001", None):
                blob = sealer.seal(CANARIES["item"].encode(), aad=b"canary_items|1", case=case)
                connection.execute(insert(items).values(sealed=blob))
        Checkpointer(keyring, witness, every_entries=1).run(engine, clock.now())
        if batch == 0:
            erase(engine, keyring, "A-2026-0002", reason="retention", actor=CANARIES["actor"])
    print(verify(engine, keyring, witness).summary())


def _files(engine: Engine, witness: Path) -> list[Path]:
    database = Path(engine.url.database)
    return [p for p in (database, database.with_name(database.name + "-wal"), witness) if p.exists()]


def test_no_canary_in_the_database_its_wal_the_witness_or_the_logs(
        sqlite_engine: Engine, keyring: Keyring, clock: ManualClock, witness_path: Path,
        caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]) -> None:
    caplog.set_level(logging.DEBUG)
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)  # statements and their parameters
    try:
        _seed(sqlite_engine, keyring, clock, witness_path)
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    files = _files(sqlite_engine, witness_path)
    assert any(f.name.endswith("-wal") and f.stat().st_size for f in files), "the WAL is scanned while it exists"
    printed = capsys.readouterr()
    assert "audit log OK" in printed.out
    haystacks = {f.name: f.read_bytes() for f in files}
    haystacks["logs"] = caplog.text.encode()
    haystacks["printed"] = (printed.out + printed.err).encode()
    assert "INSERT" in caplog.text or "SELECT" in caplog.text, "SQL logging was captured"
    for marker in MARKERS:
        for where, data in haystacks.items():
            assert marker.encode() not in data, f"canary {marker} found in {where}"
            assert marker.encode("utf-16-le") not in data, f"canary {marker} found in {where} (UTF-16)"


def test_the_scan_would_find_a_canary_written_in_clear(sqlite_engine: Engine, witness_path: Path) -> None:
    table = Table("clear", MetaData(), Column("id", Integer, primary_key=True), Column("text", LargeBinary))
    table.create(sqlite_engine)
    with sqlite_engine.begin() as connection:
        connection.execute(insert(table).values(text=b"CANARY-CONTROL-Uu1"))
    found = [f for f in _files(sqlite_engine, witness_path) if b"CONTROL-Uu1" in f.read_bytes()]
    assert found, "the scan must be able to see plaintext in the database files"
