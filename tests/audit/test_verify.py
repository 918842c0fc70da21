"""verify names the first bad entry on any bit flip, edit, deletion, reordering or truncation."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from alerts.clock import ManualClock
from storage import keyring as keyfile
from storage.audit import Checkpointer, TamperDetected, erase, verify
from storage.audit.merkle import root
from storage.audit.tables import audit_entries
from storage.keyring import Keyring
from tests.audit.support import execute, fill, rehash_from, scalar

ENTRY_COLUMNS = ["seq", "recorded_at_us", "action", "reference", "key_id", "schema_version", "case_ref",
                 "sealed_meta", "sealed_detail", "prev_hash", "entry_hash"]


def _log(engine: Engine, keyring: Keyring, clock: ManualClock, witness: Path, n: int = 20,
         every: int = 8) -> Checkpointer:
    checkpointer = Checkpointer(keyring, witness, every_entries=every)
    for i in range(n):
        fill(engine, keyring, clock, 1, start=i)
        checkpointer.run(engine, clock.now())
    return checkpointer


def test_a_clean_log_verifies_with_counts_and_root(audit_engine: Engine, keyring: Keyring, clock: ManualClock,
                                                   witness_path: Path) -> None:
    _log(audit_engine, keyring, clock, witness_path)
    report = verify(audit_engine, keyring, witness_path)
    assert report.ok, report.summary()
    assert (report.entries, report.checkpoints, report.witness_checkpoints) == (20, 2, 2)
    with audit_engine.connect() as connection:
        hashes = [bytes(h) for h in connection.execute(select(audit_entries.c.entry_hash).order_by("seq")).scalars()]
    assert report.root == root(hashes)
    assert report.by_key == {keyring.current_id: 20}
    assert report.root.hex() in report.summary() and "20 entries" in report.summary()


def test_an_empty_log_verifies(audit_engine: Engine, keyring: Keyring, witness_path: Path) -> None:
    report = verify(audit_engine, keyring, witness_path)
    assert report.ok and report.entries == 0


# --- every single-bit flip ----------------------------------------------------------------------

@pytest.fixture
def small_log(sqlite_engine: Engine, keyring: Keyring, clock: ManualClock,
              witness_path: Path) -> Iterator[tuple[Engine, sqlite3.Connection]]:
    _log(sqlite_engine, keyring, clock, witness_path)
    raw = sqlite3.connect(sqlite_engine.url.database, isolation_level=None)
    raw.execute("PRAGMA synchronous=OFF")  # tampering need not be durable
    yield sqlite_engine, raw
    raw.close()


def _flips(value: Any) -> Iterator[Any]:
    """The value with each one of its bits flipped, in its stored type where the result allows."""
    if isinstance(value, int):
        for bit in range(64):
            flipped = value ^ (1 << bit)
            yield flipped - (1 << 64) if flipped >= 1 << 63 else flipped
        return
    data = value.encode() if isinstance(value, str) else bytes(value)
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        if isinstance(value, str):
            try:
                yield flipped.decode()
                continue
            except UnicodeDecodeError:
                pass  # stored as a blob: SQLite keeps whatever it is given
        yield bytes(flipped)


@pytest.mark.parametrize("seq", [1, 10, 20])
@pytest.mark.parametrize("column", ENTRY_COLUMNS)
def test_every_bit_flip_in_an_entry_is_detected_at_that_entry(small_log: tuple[Engine, sqlite3.Connection],
                                                              keyring: Keyring, witness_path: Path,
                                                              seq: int, column: str) -> None:
    engine, raw = small_log
    original = raw.execute(f"SELECT {column} FROM audit_entries WHERE seq = ?", (seq,)).fetchone()[0]
    assert original is not None
    tried = 0
    for flipped in _flips(original):
        try:
            raw.execute(f"UPDATE audit_entries SET {column} = ? WHERE seq = ?", (flipped, seq))
        except sqlite3.IntegrityError:
            continue  # another entry already has that seq: not a state the database allows
        where = flipped if column == "seq" else seq
        report = verify(engine, keyring, witness_path)
        raw.execute(f"UPDATE audit_entries SET {column} = ? WHERE seq = ?", (original, where))
        assert not report.ok, (column, flipped)
        assert report.first_bad_seq == seq, (column, flipped, report.reason)
        tried += 1
    assert tried >= 48
    assert verify(engine, keyring, witness_path).ok


@pytest.mark.parametrize("table, column, key", [
    ("audit_head", "entry_hash", "id = 1"), ("audit_head", "frontier", "id = 1"), ("audit_head", "seq", "id = 1"),
    ("audit_head", "mac", "id = 1"),
    ("audit_checkpoints", "root_hash", "tree_size = 16"), ("audit_checkpoints", "signature", "tree_size = 8"),
    ("audit_checkpoints", "tree_size", "tree_size = 16"), ("audit_checkpoints", "created_at_us", "tree_size = 8"),
    ("case_keys", "wrapped_key", "reference = 'A-2026-0002'"),
])
def test_every_bit_flip_in_the_head_checkpoints_and_case_keys_is_detected(
        small_log: tuple[Engine, sqlite3.Connection], keyring: Keyring, witness_path: Path,
        table: str, column: str, key: str) -> None:
    engine, raw = small_log
    original = raw.execute(f"SELECT {column} FROM {table} WHERE {key}").fetchone()[0]
    tried = 0
    for flipped in _flips(original):
        try:
            raw.execute(f"UPDATE {table} SET {column} = ? WHERE {key}", (flipped,))
        except sqlite3.IntegrityError:
            continue
        where = f"{column} = ?" if column == "tree_size" else key
        report = verify(engine, keyring, witness_path)
        raw.execute(f"UPDATE {table} SET {column} = ? WHERE {where}",
                    (original, flipped) if column == "tree_size" else (original,))
        assert not report.ok, (table, column, flipped)
        tried += 1
    assert tried >= 48


def test_every_bit_flip_in_the_witness_file_is_detected(small_log: tuple[Engine, sqlite3.Connection],
                                                        keyring: Keyring, witness_path: Path) -> None:
    engine, _ = small_log
    original = witness_path.read_bytes()
    for flipped in _flips(original):
        if flipped.strip() == original.strip():
            continue  # a flip that only changes trailing whitespace leaves the lines as they were
        witness_path.write_bytes(flipped)
        report = verify(engine, keyring, witness_path)
        assert not report.ok, flipped
    witness_path.write_bytes(original)
    assert verify(engine, keyring, witness_path).ok


# --- deletion, reordering, edits, truncation (both databases) -----------------------------------

@pytest.fixture
def log20(audit_engine: Engine, keyring: Keyring, clock: ManualClock, witness_path: Path) -> Engine:
    _log(audit_engine, keyring, clock, witness_path)
    return audit_engine


def test_deleting_an_entry_names_it(log20: Engine, keyring: Keyring, witness_path: Path) -> None:
    execute(log20, "DELETE FROM audit_entries WHERE seq = 13")
    report = verify(log20, keyring, witness_path)
    assert not report.ok and report.first_bad_seq == 13 and "missing" in report.reason


def test_deleting_the_last_entry_is_seen_from_the_head(log20: Engine, keyring: Keyring, witness_path: Path) -> None:
    execute(log20, "DELETE FROM audit_entries WHERE seq = 20")
    report = verify(log20, keyring, witness_path)
    assert not report.ok and report.first_bad_seq == 20


def test_swapping_two_entries_names_the_first(log20: Engine, keyring: Keyring, witness_path: Path) -> None:
    execute(log20, "UPDATE audit_entries SET seq = -1 WHERE seq = 5")
    execute(log20, "UPDATE audit_entries SET seq = 5 WHERE seq = 9")
    execute(log20, "UPDATE audit_entries SET seq = 9 WHERE seq = -1")
    report = verify(log20, keyring, witness_path)
    assert not report.ok and report.first_bad_seq == 5


def test_editing_clear_metadata_names_the_entry(log20: Engine, keyring: Keyring, witness_path: Path) -> None:
    execute(log20, "UPDATE audit_entries SET action = 'ack' WHERE seq = 7")
    report = verify(log20, keyring, witness_path)
    assert not report.ok and report.first_bad_seq == 7


def test_truncation_below_a_witnessed_checkpoint_is_detected_even_when_the_database_is_cleaned(
        log20: Engine, keyring: Keyring, witness_path: Path, clock: ManualClock) -> None:
    # An insider holding the key file deletes entries 12..20, the checkpoint rows above 11, and
    # rewinds the head with a valid MAC: only the witness remembers.
    execute(log20, "DELETE FROM audit_entries WHERE seq >= 12")
    execute(log20, "DELETE FROM audit_checkpoints WHERE tree_size > 11")
    rehash_from(log20, 12, keyring)
    report = verify(log20, keyring, witness_path)
    assert not report.ok and report.first_bad_seq == 12
    assert "truncated" in report.reason and "witness" in report.reason
    with pytest.raises(TamperDetected, match="truncated"):
        with log20.begin() as connection:
            Checkpointer(keyring, witness_path).write_checkpoint(connection, clock.now())


def test_truncation_is_detected_from_the_checkpoint_table_without_a_witness(
        log20: Engine, keyring: Keyring) -> None:
    execute(log20, "DELETE FROM audit_entries WHERE seq >= 12")
    rehash_from(log20, 12)
    report = verify(log20, keyring, None)
    assert not report.ok and report.first_bad_seq == 12


def test_a_rewrite_with_the_key_and_recomputed_hashes_is_caught_by_the_checkpoint_root(
        log20: Engine, keyring: Keyring, witness_path: Path) -> None:
    # An insider who holds the key re-seals entry 11 with other content and recomputes everything
    # in the database; only the signed roots outside their reach tell.
    from storage.audit.encoding import part_aad
    from storage.sealing import AesGcmSealer

    forged = AesGcmSealer.from_keyring(keyring).seal(b'{"actor":"nobody"}', aad=part_aad(11, keyring.current_id, 1,
                                                                                             "meta"))
    execute(log20, "UPDATE audit_entries SET sealed_meta = :m WHERE seq = 11", m=forged)
    rehash_from(log20, 11, keyring)
    report = verify(log20, keyring, witness_path)
    assert not report.ok and report.first_bad_seq == 9  # the checkpoint at 8 still matches
    assert "Merkle root at checkpoint size 16" in report.reason


def test_a_missing_witness_file_fails_when_checkpoints_exist(log20: Engine, keyring: Keyring,
                                                             witness_path: Path) -> None:
    witness_path.unlink()
    report = verify(log20, keyring, witness_path)
    assert not report.ok and "witness" in report.reason


def test_a_forged_checkpoint_is_reported(log20: Engine, keyring: Keyring, witness_path: Path,
                                         tmp_path: Path) -> None:
    other = keyfile.generate(tmp_path / "other.keys")
    forged = other.sign(b"anything")
    execute(log20, "UPDATE audit_checkpoints SET signature = :s WHERE tree_size = 16", s=forged)
    report = verify(log20, keyring, witness_path)
    assert not report.ok and "signature" in report.reason and report.first_bad_seq is None


def test_erasure_keeps_the_log_verifying(log20: Engine, keyring: Keyring, witness_path: Path) -> None:
    erase(log20, keyring, "A-2026-0002", reason="retention", actor="console:admin")
    report = verify(log20, keyring, witness_path)
    assert report.ok, report.summary()
    assert report.erased == 3 and report.entries == 21


def test_entries_under_a_key_the_key_file_lacks_are_reported(log20: Engine, keyring_path: Path,
                                                             witness_path: Path, tmp_path: Path) -> None:
    stranger = keyfile.generate(tmp_path / "stranger.keys")
    report = verify(log20, stranger, witness_path)
    assert not report.ok and report.first_bad_seq == 1 and "not in the key file" in report.reason


def test_checkpoints_are_due_by_count_or_by_age(audit_engine: Engine, keyring: Keyring, clock: ManualClock,
                                                witness_path: Path) -> None:
    checkpointer = Checkpointer(keyring, witness_path, every_entries=5, every=timedelta(minutes=10))
    fill(audit_engine, keyring, clock, 3)
    assert checkpointer.run(audit_engine, clock.now()) is None
    clock.advance(timedelta(minutes=11))
    first = checkpointer.run(audit_engine, clock.now())
    assert first is not None and first.tree_size == 3
    fill(audit_engine, keyring, clock, 4)
    assert checkpointer.run(audit_engine, clock.now()) is None
    fill(audit_engine, keyring, clock, 1)
    assert checkpointer.run(audit_engine, clock.now()).tree_size == 8
    assert checkpointer.run(audit_engine, clock.now()) is None  # nothing new
    assert [cp.tree_size for _, cp in checkpointer.witness.lines()] == [3, 8]
    assert scalar(audit_engine, "SELECT count(*) FROM audit_checkpoints") == 2


def test_the_checkpoint_hook_gets_each_published_checkpoint(audit_engine: Engine, keyring: Keyring,
                                                            clock: ManualClock) -> None:
    seen = []
    checkpointer = Checkpointer(keyring, None, every_entries=2, hook=seen.append)
    fill(audit_engine, keyring, clock, 2)
    checkpointer.run(audit_engine, clock.now())
    assert [cp.tree_size for cp in seen] == [2]
    assert keyring.verify_signature(seen[0].key_id, seen[0].signature, seen[0].body())


@pytest.mark.parametrize("sql", ["UPDATE audit_head SET frontier = :empty", "UPDATE audit_head SET seq = 'x'",
                                 "DELETE FROM audit_head"])
def test_a_blanked_or_removed_head_is_reported(log20: Engine, keyring: Keyring, witness_path: Path, sql: str) -> None:
    try:
        execute(log20, sql, empty=b"")
    except DBAPIError:
        pytest.skip("this database refuses a value of the wrong type")
    report = verify(log20, keyring, witness_path)
    assert not report.ok and "head" in report.reason


# --- what verify blames, and every finding (an auditor acts on each line) -----------------------

@pytest.mark.parametrize("sql", ["UPDATE audit_checkpoints SET tree_size = 5 WHERE tree_size = 16",
                                 "UPDATE audit_checkpoints SET tree_size = 40 WHERE tree_size = 16",
                                 "UPDATE audit_checkpoints SET root_hash = :zero WHERE tree_size = 16"])
def test_an_altered_checkpoint_row_is_blamed_not_the_entries_it_no_longer_matches(
        log20: Engine, keyring: Keyring, witness_path: Path, sql: str) -> None:
    """A checkpoint whose signature does not verify proves nothing about the entries: verify named
    entries 1..5 rewritten, or 17..40 cut, when only the checkpoint row had been changed."""
    execute(log20, sql, zero=bytes(32))
    report = verify(log20, keyring, witness_path)
    assert not report.ok and report.first_bad_seq is None, report.findings
    assert report.findings == [f"checkpoint at size {5 if '= 5' in sql else 40 if '40' in sql else 16} (table): "
                               "signature does not verify: the checkpoint row was altered or forged"], report.findings


def test_an_edited_witness_line_is_blamed_not_the_entries(log20: Engine, keyring: Keyring, witness_path: Path) -> None:
    lines = witness_path.read_text().splitlines()
    assert '"tree_size": 16' in lines[1]
    lines[1] = lines[1].replace('"tree_size": 16', '"tree_size": 12')
    witness_path.write_text("\n".join(lines) + "\n")
    report = verify(log20, keyring, witness_path)
    assert report.findings == ["checkpoint at size 12 (witness line 2): signature does not verify: the checkpoint "
                               "was altered or forged"], report.findings


def test_every_finding_is_its_own_line_and_a_missing_witness_does_not_hide_a_deleted_entry(
        log20: Engine, keyring: Keyring, witness_path: Path) -> None:
    witness_path.unlink()
    execute(log20, "DELETE FROM audit_entries WHERE seq = 13")
    report = verify(log20, keyring, witness_path)
    assert not report.ok and report.first_bad_seq == 13
    assert len(report.findings) == 2 and "13" in report.findings[0] and "witness" in report.findings[1]
    lines = report.lines()
    assert lines[0].startswith("audit log FAILED verification: first bad entry: 13: entry is missing")
    assert lines[1] == f"also: witness file {witness_path} is missing or empty, but the table holds 2 checkpoints"
    assert report.summary() == lines[0] + " (and 1 more finding)"  # one line where one line is wanted


@pytest.mark.parametrize("table, column, key", [
    ("audit_entries", "sealed_detail", "seq = 7"), ("audit_entries", "sealed_meta", "seq = 7"),
    ("audit_entries", "prev_hash", "seq = 7"), ("audit_entries", "entry_hash", "seq = 7"),
    ("audit_entries", "reference", "seq = 7"), ("audit_entries", "action", "seq = 7"),
    ("audit_head", "entry_hash", "id = 1"), ("case_keys", "wrapped_key", "reference = 'A-2026-0002'"),
    ("audit_checkpoints", "root_hash", "tree_size = 16"),
])
def test_a_value_stored_as_text_that_is_not_utf8_is_named_where_it_is(
        small_log: tuple[Engine, sqlite3.Connection], keyring: Keyring, witness_path: Path,
        table: str, column: str, key: str) -> None:
    """SQLite keeps whatever it is given: a column of bytes overwritten as text that does not decode
    stopped verify with "the database cannot be used", naming neither entry nor table."""
    engine, raw = small_log
    raw.execute(f"UPDATE {table} SET {column} = CAST(X'FF00FE' AS TEXT) WHERE {key}")
    report = verify(engine, keyring, witness_path)
    assert not report.ok
    if table == "audit_entries":
        assert report.first_bad_seq == 7, report.findings
    elif table == "case_keys":
        assert report.first_bad_seq is not None and "data key of case A-2026-0002" in report.reason, report.findings
    else:
        assert ("head" if table == "audit_head" else "checkpoint at size 16") in report.findings[0], report.findings


def test_a_column_of_the_wrong_type_is_said_so(small_log: tuple[Engine, sqlite3.Connection], keyring: Keyring,
                                               witness_path: Path) -> None:
    engine, raw = small_log
    raw.execute("UPDATE audit_entries SET sealed_detail = 'hello' WHERE seq = 7")
    report = verify(engine, keyring, witness_path)
    assert report.first_bad_seq == 7 and report.reason == "a column holds a value of the wrong type: entry altered"


def test_a_witness_path_that_is_a_folder_is_a_finding_and_the_entries_are_still_checked(
        log20: Engine, keyring: Keyring, witness_path: Path) -> None:
    """It stopped verify with "[Errno 21] Is a directory", checking nothing else."""
    witness_path.unlink()
    witness_path.mkdir()
    execute(log20, "DELETE FROM audit_entries WHERE seq = 13")
    report = verify(log20, keyring, witness_path)
    assert report.first_bad_seq == 13
    assert report.findings[1] == (f"witness file {witness_path} cannot be read (Is a directory): [audit] witness_path "
                                  "must name the witness file itself")
