"""verify scans in aligned chunks, in one process or several; small chunks exercise the joins."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from alerts.clock import ManualClock
from storage.audit import Checkpointer, verify
from storage.audit.merkle import root
from storage.audit.tables import audit_entries
from storage.keyring import Keyring
from tests.audit.support import execute, fill

# The package exports the function verify under the module's name; the module itself holds CHUNK.
verify_module = importlib.import_module("storage.audit.verify")


@pytest.fixture
def log37(audit_engine: Engine, keyring: Keyring, clock: ManualClock, witness_path: Path) -> Engine:
    checkpointer = Checkpointer(keyring, witness_path, every_entries=5)
    for i in range(37):
        fill(audit_engine, keyring, clock, 1, start=i)
        checkpointer.run(audit_engine, clock.now())
    return audit_engine


@pytest.mark.parametrize("chunk", [4, 8, 16])
@pytest.mark.parametrize("workers", [1, 2])
def test_chunked_scans_agree_with_the_whole(log37: Engine, keyring: Keyring, witness_path: Path,
                                            monkeypatch: pytest.MonkeyPatch, chunk: int, workers: int) -> None:
    monkeypatch.setattr(verify_module, "CHUNK", chunk)
    report = verify(log37, keyring, witness_path, workers=workers)
    assert report.ok, report.summary()
    with log37.connect() as connection:
        hashes = [bytes(h) for h in connection.execute(select(audit_entries.c.entry_hash).order_by("seq")).scalars()]
    assert report.entries == 37 and report.root == root(hashes) and report.checkpoints == 7


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("seq", [8, 9, 37])
@pytest.mark.parametrize("tamper", ["delete", "prev_hash", "meta"])
def test_tampering_at_chunk_edges_names_the_entry(log37: Engine, keyring: Keyring, witness_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch, workers: int, seq: int,
                                                  tamper: str) -> None:
    monkeypatch.setattr(verify_module, "CHUNK", 8)
    if tamper == "delete":
        execute(log37, "DELETE FROM audit_entries WHERE seq = :s", s=seq)
    else:
        column = "prev_hash" if tamper == "prev_hash" else "sealed_meta"
        with log37.begin() as connection:
            value = bytearray(connection.execute(select(audit_entries.c[column]).where(
                audit_entries.c.seq == seq)).scalar())
        value[-1] ^= 0x01
        execute(log37, f"UPDATE audit_entries SET {column} = :v WHERE seq = :s", v=bytes(value), s=seq)
    report = verify(log37, keyring, witness_path, workers=workers)
    assert not report.ok and report.first_bad_seq == seq, report.summary()
