"""The audit head's MAC: a tail cut or rewritten after the last checkpoint by someone who can write
the database but lacks the key file is detected by verify, and refused by appends and checkpoints;
someone holding the key file can still do it, and then only the witness bounds them. A log from
before heads were keyed is verified and then keyed by `db upgrade` (bot.runtime.keys.key_unkeyed_head)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import Engine

from alerts.clock import ManualClock
from bot.runtime.keys import check_audit_head, ensure_keyring, key_unkeyed_head
from storage import keyring as keyfile
from storage.audit import Checkpointer, verify
from storage.audit.log import AuditHeadCorrupt, AuditHeadUnkeyed
from storage.keyring import Keyring
from tests.audit.support import execute, fill, rehash_from, scalar


@pytest.fixture
def log12(audit_engine: Engine, keyring: Keyring, clock: ManualClock, witness_path: Path) -> Engine:
    """Twelve entries, a checkpoint at 8 (table and witness), four entries after it."""
    fill(audit_engine, keyring, clock, 8)
    Checkpointer(keyring, witness_path).run(audit_engine, clock.now(), force=True)
    fill(audit_engine, keyring, clock, 4, start=8)
    return audit_engine


def test_deleting_the_last_entries_and_recomputing_the_head_without_the_key_fails_verify(
        log12: Engine, keyring: Keyring, witness_path: Path) -> None:
    execute(log12, "DELETE FROM audit_entries WHERE seq > 10")
    rehash_from(log12, 11)  # head rewound to 10, its hash and frontier recomputed: all keyless
    report = verify(log12, keyring, witness_path)
    assert not report.ok
    assert "MAC does not verify" in report.reason and "entries 9..10" in report.reason


def test_rewriting_an_entry_after_the_last_checkpoint_and_recomputing_without_the_key_fails_verify(
        log12: Engine, keyring: Keyring, witness_path: Path) -> None:
    # Clear columns are not bound into the sealed parts: an attacker can change what was done.
    execute(log12, "UPDATE audit_entries SET action = 'ack', reference = 'A-2026-9999' WHERE seq = 10")
    rehash_from(log12, 10)
    report = verify(log12, keyring, witness_path)
    assert not report.ok and "MAC does not verify" in report.reason


def test_truncating_the_tail_with_its_checkpoints_and_no_witness_is_detected(
        log12: Engine, keyring: Keyring) -> None:
    execute(log12, "DELETE FROM audit_entries WHERE seq > 5")
    execute(log12, "DELETE FROM audit_checkpoints")
    rehash_from(log12, 6)
    report = verify(log12, keyring, None)
    assert not report.ok and "MAC does not verify" in report.reason


def test_a_forged_head_is_neither_extended_nor_signed(log12: Engine, keyring: Keyring, clock: ManualClock,
                                                      witness_path: Path) -> None:
    execute(log12, "DELETE FROM audit_entries WHERE seq = 12")
    rehash_from(log12, 12)
    with pytest.raises(AuditHeadCorrupt, match="does not verify under the key file"):
        fill(log12, keyring, clock, 1, start=20)
    with pytest.raises(AuditHeadCorrupt):
        Checkpointer(keyring, witness_path).run(log12, clock.now(), force=True)
    assert scalar(log12, "SELECT count(*) FROM audit_checkpoints") == 1
    with pytest.raises(AuditHeadCorrupt):
        check_audit_head(log12, keyring)  # and the bot does not start on it


def test_another_key_file_does_not_verify_the_head(log12: Engine, tmp_path: Path) -> None:
    other = keyfile.generate(tmp_path / "other.keys")
    with pytest.raises(AuditHeadCorrupt):
        check_audit_head(log12, other)


def test_with_the_key_file_the_tail_can_be_rewritten_and_only_the_witness_bounds_it(
        log12: Engine, keyring: Keyring, witness_path: Path) -> None:
    """What the README says remains possible for someone holding both the database and the key."""
    execute(log12, "DELETE FROM audit_entries WHERE seq > 9")
    rehash_from(log12, 10, keyring)
    assert verify(log12, keyring, witness_path).ok  # entries 10..12 were never witnessed
    execute(log12, "DELETE FROM audit_entries WHERE seq > 6")
    execute(log12, "DELETE FROM audit_checkpoints")
    rehash_from(log12, 7, keyring)
    report = verify(log12, keyring, witness_path)  # below the witnessed size 8: caught
    assert not report.ok and report.first_bad_seq == 7 and "witness" in report.reason


def _legacy(engine: Engine) -> None:
    """What migration 0006 leaves of a log written before heads were keyed: a head without a MAC."""
    execute(engine, "UPDATE audit_head SET mac = NULL")


def test_a_log_from_before_keyed_heads_is_verified_then_keyed_by_the_upgrade(
        log12: Engine, keyring: Keyring, clock: ManualClock, witness_path: Path) -> None:
    _legacy(log12)
    report = verify(log12, keyring, witness_path)
    assert not report.ok and "carries no MAC" in report.reason and "db upgrade" in report.reason
    with pytest.raises(AuditHeadUnkeyed):
        check_audit_head(log12, keyring)  # the start refuses, naming the upgrade
    with pytest.raises(AuditHeadUnkeyed):
        fill(log12, keyring, clock, 1, start=12)
    assert key_unkeyed_head(log12, keyring.path, witness_path, actor="cli:admin", clock=clock) == 12
    assert key_unkeyed_head(log12, keyring.path, witness_path, actor="cli:admin", clock=clock) is None
    check_audit_head(log12, keyring)
    fill(log12, keyring, clock, 2, start=13)
    report = verify(log12, keyring, witness_path)
    assert report.ok and report.entries == 15, report.summary()  # 12, the KEY entry that keyed it, 2 more


def test_the_upgrade_does_not_key_a_log_that_does_not_verify(log12: Engine, keyring: Keyring, clock: ManualClock,
                                                             witness_path: Path) -> None:
    _legacy(log12)
    execute(log12, "UPDATE audit_entries SET action = 'ack' WHERE seq = 3")
    with pytest.raises(AuditHeadCorrupt, match="does not verify"):
        key_unkeyed_head(log12, keyring.path, witness_path, actor="cli:admin", clock=clock)
    assert scalar(log12, "SELECT mac FROM audit_head") is None


def test_a_start_on_a_forged_head_refuses_in_ensure_keyring(log12: Engine, keyring: Keyring) -> None:
    execute(log12, "DELETE FROM audit_entries WHERE seq = 12")
    rehash_from(log12, 12)
    assert keyring.path is not None
    with pytest.raises(AuditHeadCorrupt):
        ensure_keyring(keyring.path, io.StringIO(), log12)
