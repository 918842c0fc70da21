"""Hypothesis state machine: appends, checkpoints, erasures and tampering, with verify's verdict checked
after every step against a model of what was done."""

from __future__ import annotations

import shutil
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from alerts.clock import ManualClock
from storage import keyring as keyfile
from storage.audit import Checkpointer, TamperDetected, erase, verify
from storage.audit.log import AuditHeadCorrupt
from storage.db import sqlite_url
from tests.audit.support import execute, fill, make_engine, rehash_from


class AuditLogMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="audit-sm-"))
        self.keyring = keyfile.generate(self.directory / "liaison.keys")
        self.engine = make_engine(sqlite_url(self.directory / "audit.sqlite"))
        self.witness = self.directory / "witness.log"
        self.checkpointer = Checkpointer(self.keyring, self.witness, every_entries=1_000_000)
        self.clock = ManualClock()
        self.size = 0              # rows the log holds
        self.appended = 0          # events made, for distinct contents
        self.witnessed = 0         # largest tree size in the witness
        self.tampered: set[int] = set()   # seqs whose row was altered, moved or deleted
        self.truncated = False     # a truncation that a witnessed checkpoint exposes
        self.forged_head = False   # a head rewound without the key: its MAC no longer verifies

    def teardown(self) -> None:
        self.engine.dispose()
        shutil.rmtree(self.directory, ignore_errors=True)

    def _raw(self) -> sqlite3.Connection:
        return sqlite3.connect(self.directory / "audit.sqlite", isolation_level=None)

    @rule(n=st.integers(1, 4))
    def append(self, n: int) -> None:
        if self.forged_head:
            with pytest.raises(AuditHeadCorrupt):
                fill(self.engine, self.keyring, self.clock, n, start=self.appended)
            return
        fill(self.engine, self.keyring, self.clock, n, start=self.appended)
        self.appended += n
        self.size += n

    @rule()
    def checkpoint(self) -> None:
        try:
            checkpoint = self.checkpointer.run(self.engine, self.clock.now(), force=True)
        except TamperDetected:
            assert self.truncated, "a checkpoint was refused on an untampered log"
            return
        except AuditHeadCorrupt:
            assert self.forged_head, "a checkpoint was refused on a head made with the key"
            return
        assert not self.forged_head, "a head forged without the key was signed"
        if checkpoint is not None:
            self.witnessed = max(self.witnessed, checkpoint.tree_size)

    def _intact(self) -> list[int]:
        """Entries not tampered with yet: each is tampered with at most once, so the model stays exact."""
        return [seq for seq in range(1, self.size + 1) if seq not in self.tampered]

    @precondition(lambda self: self._intact())
    @rule(data=st.data(), column=st.sampled_from(["sealed_meta", "entry_hash", "prev_hash", "recorded_at_us"]))
    def flip_a_bit(self, data: st.DataObject, column: str) -> None:
        seq = data.draw(st.sampled_from(self._intact()), label="seq")
        with self._raw() as raw:
            value = raw.execute(f"SELECT {column} FROM audit_entries WHERE seq = ?", (seq,)).fetchone()[0]
            if isinstance(value, int):
                value ^= 1 << data.draw(st.integers(0, 40), label="bit")
            else:
                flipped = bytearray(value)
                bit = data.draw(st.integers(0, len(flipped) * 8 - 1), label="bit")
                flipped[bit // 8] ^= 1 << (bit % 8)
                value = bytes(flipped)
            raw.execute(f"UPDATE audit_entries SET {column} = ? WHERE seq = ?", (value, seq))
        self.tampered.add(seq)

    @precondition(lambda self: self._intact())
    @rule(data=st.data())
    def delete_an_entry(self, data: st.DataObject) -> None:
        seq = data.draw(st.sampled_from(self._intact()), label="seq")
        execute(self.engine, "DELETE FROM audit_entries WHERE seq = :s", s=seq)
        self.tampered.add(seq)

    @precondition(lambda self: len(self._intact()) > 1)
    @rule(data=st.data())
    def swap_two_entries(self, data: st.DataObject) -> None:
        a, b = sorted(data.draw(st.lists(st.sampled_from(self._intact()), min_size=2, max_size=2, unique=True),
                                label="a, b"))
        for sql in ("UPDATE audit_entries SET seq = -1 WHERE seq = :a", "UPDATE audit_entries SET seq = :a "
                    "WHERE seq = :b", "UPDATE audit_entries SET seq = :b WHERE seq = -1"):
            execute(self.engine, sql, a=a, b=b)
        self.tampered |= {a, b}

    @precondition(lambda self: self.size > 0 and not self.tampered and not self.forged_head)
    @rule(data=st.data(), with_key=st.booleans())
    def truncate_and_cover_up(self, data: st.DataObject, with_key: bool) -> None:
        """Delete the tail, its checkpoint rows, and rewind the head. Without the key file the head's
        MAC gives it away; with it (and keep > 0, so there is a head to MAC), only the witness remembers."""
        keep = data.draw(st.integers(0, self.size - 1), label="keep")
        execute(self.engine, "DELETE FROM audit_entries WHERE seq > :k", k=keep)
        execute(self.engine, "DELETE FROM audit_checkpoints WHERE tree_size > :k", k=keep)
        rehash_from(self.engine, keep + 1, self.keyring if with_key else None)
        self.size = keep
        if not with_key:
            self.forged_head = True
        if self.witnessed > keep:
            self.truncated = True

    @precondition(lambda self: self.appended > 0)
    @rule(data=st.data())
    def erase_a_case(self, data: st.DataObject) -> None:
        case = data.draw(st.integers(0, (self.appended - 1) // 3), label="case")
        if self.forged_head:
            with pytest.raises(AuditHeadCorrupt):
                erase(self.engine, self.keyring, f"A-2026-{case:04d}", reason="test", actor="console:admin")
            return
        erase(self.engine, self.keyring, f"A-2026-{case:04d}", reason="test", actor="console:admin")
        self.size += 1  # the erasure is an entry itself

    @invariant()
    def verify_agrees_with_the_model(self) -> None:
        report = verify(self.engine, self.keyring, self.witness)
        if not self.tampered and not self.truncated and not self.forged_head:
            assert report.ok, report.summary()
            assert report.entries == self.size
            return
        assert not report.ok, "tampering went unnoticed"
        if self.tampered and not self.truncated:
            assert report.first_bad_seq == min(self.tampered), report.summary()
        elif self.truncated:
            assert report.first_bad_seq is not None
        else:
            assert "MAC" in (report.reason or ""), report.summary()


AuditLogMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=25, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestAuditLog = AuditLogMachine.TestCase
