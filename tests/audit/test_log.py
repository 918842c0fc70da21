"""SqlAuditLog: appends in the caller's transaction, gap-free seqs under concurrent writers."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import Engine, select

from alerts.audit import AuditAction, AuditEvent
from alerts.clock import ManualClock
from handlers.ports import AuditLog
from storage.audit import SqlAuditLog, verify
from storage.audit.encoding import GENESIS_HASH, from_micros, part_aad
from storage.audit.log import lock_head
from storage.audit.merkle import root
from storage.audit.tables import audit_entries
from storage.keyring import Keyring
from storage.sealing import CaseKeySealer
from tests.audit.support import event, execute, fill, rehash_from


def test_entries_chain_from_genesis_and_the_head_follows(audit_engine: Engine, keyring: Keyring,
                                                          clock: ManualClock) -> None:
    assert fill(audit_engine, keyring, clock, 7) == list(range(1, 8))
    with audit_engine.connect() as connection:
        rows = connection.execute(select(audit_entries).order_by(audit_entries.c.seq)).all()
        head = lock_head(connection)
    assert rows[0].prev_hash == GENESIS_HASH
    for before, after in zip(rows, rows[1:]):
        assert after.prev_hash == before.entry_hash
    assert head.seq == 7 and head.entry_hash == rows[-1].entry_hash
    assert head.frontier.root() == root([bytes(r.entry_hash) for r in rows])
    assert rows[0].key_id == keyring.current_id and rows[0].schema_version == 1
    assert from_micros(rows[-1].recorded_at_us) == clock.now()


def test_an_entry_commits_or_rolls_back_with_the_change_it_records(audit_engine: Engine, keyring: Keyring,
                                                                   clock: ManualClock) -> None:
    log: AuditLog
    with audit_engine.connect() as connection:
        with connection.begin() as transaction:
            log = SqlAuditLog(connection, keyring, clock)
            log.record(event(clock, 1))
            transaction.rollback()
        with connection.begin():
            assert connection.execute(select(audit_entries)).first() is None
            SqlAuditLog(connection, keyring, clock).record(event(clock, 2))
    assert verify(audit_engine, keyring).entries == 1


def test_clear_columns_hold_no_content_and_parts_are_sealed_under_the_right_keys(
        audit_engine: Engine, keyring: Keyring, clock: ManualClock) -> None:
    with audit_engine.begin() as connection:
        log = SqlAuditLog(connection, keyring, clock)
        log.record(event(clock, 0, reference="A-2026-0001", detail={"body": "content"}))
        log.record(event(clock, 1, reference="A-2026-0001", action=AuditAction.ACKNOWLEDGEMENT, detail={}))
        log.record(event(clock, 2, reference="A-2026-0001", action=AuditAction.EXPORT, detail={"format": "csv"}))
        log.record(event(clock, 3, reference=None, action=AuditAction.ADMIN, detail={"what": "x"}))
    with audit_engine.begin() as connection:
        rows = connection.execute(select(audit_entries).order_by(audit_entries.c.seq)).all()
        sealer = CaseKeySealer(connection, keyring)
        assert [r.case_ref for r in rows] == ["A-2026-0001", None, None, None]
        assert rows[1].sealed_detail is None  # nothing to seal
        body = sealer.open(rows[0].sealed_detail, aad=part_aad(1, rows[0].key_id, 1, "detail"), case="A-2026-0001")
        assert b"content" in body
        assert rows[2].sealed_detail[0] == 1 and rows[3].sealed_detail[0] == 1  # master key blobs
        for row in rows:
            assert b"th-officer" in sealer.open(row.sealed_meta, aad=part_aad(row.seq, row.key_id, 1, "meta"))


def test_concurrent_writers_get_gap_free_seqs(audit_engine: Engine, keyring: Keyring) -> None:
    clock = ManualClock()
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        try:
            for i in range(15):
                with audit_engine.begin() as connection:
                    SqlAuditLog(connection, keyring).record(
                        AuditEvent(AuditAction.COMMAND, clock.now(), f"writer-{w}", reference=f"A-2026-{w:04d}",
                                   detail={"n": str(i)}))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with audit_engine.connect() as connection:
        seqs = connection.execute(select(audit_entries.c.seq).order_by(audit_entries.c.seq)).scalars().all()
    assert seqs == list(range(1, 61))
    report = verify(audit_engine, keyring)
    assert report.ok, report.summary()


def test_a_ciphertext_moved_to_another_entry_does_not_open_even_with_hashes_recomputed(
        audit_engine: Engine, keyring: Keyring, clock: ManualClock) -> None:
    fill(audit_engine, keyring, clock, 5)
    # An attacker without the key copies entry 2's sealed meta onto entry 4 and recomputes every hash.
    execute(audit_engine, "UPDATE audit_entries SET sealed_meta = (SELECT sealed_meta FROM audit_entries "
                          "WHERE seq = 2) WHERE seq = 4")
    rehash_from(audit_engine, 4)
    report = verify(audit_engine, keyring)
    assert not report.ok and report.first_bad_seq == 4
    assert "decrypt" in report.reason


def test_the_time_recorded_is_the_clocks_or_else_the_events(audit_engine: Engine, keyring: Keyring,
                                                             clock: ManualClock) -> None:
    e = event(clock, 0)
    with audit_engine.begin() as connection:
        SqlAuditLog(connection, keyring).record(e)
        clock.advance(timedelta(hours=1))
        SqlAuditLog(connection, keyring, clock).record(e)
    with audit_engine.connect() as connection:
        times = connection.execute(select(audit_entries.c.recorded_at_us).order_by(audit_entries.c.seq)).scalars()
        assert [from_micros(t) for t in times] == [e.at, clock.now()]


def test_appends_in_one_transaction_chain_whichever_log_object_writes_them(audit_engine: Engine, keyring: Keyring,
                                                                           clock: ManualClock) -> None:
    """The head is read once per transaction; every SqlAuditLog on the connection continues from it."""
    with audit_engine.begin() as connection:
        first, second = SqlAuditLog(connection, keyring, clock), SqlAuditLog(connection, keyring, clock)
        assert [first.append(event(clock, 0)), second.append(event(clock, 1)), first.append(event(clock, 2))] == [1, 2, 3]
        assert lock_head(connection).seq == 3
    fill(audit_engine, keyring, clock, 2, start=3)
    report = verify(audit_engine, keyring)
    assert report.ok and report.entries == 5, report.summary()


def test_a_connection_that_goes_on_after_commit_reads_the_head_again(audit_engine: Engine, keyring: Keyring,
                                                                     clock: ManualClock) -> None:
    with audit_engine.connect() as mine:
        log = SqlAuditLog(mine, keyring, clock)
        assert log.append(event(clock, 0)) == 1
        mine.commit()
        fill(audit_engine, keyring, clock, 2, start=1)  # other writers, in between
        assert log.append(event(clock, 3)) == 4  # a new transaction: the head is read afresh
        mine.commit()
    report = verify(audit_engine, keyring)
    assert report.ok and report.entries == 4, report.summary()


def test_an_append_undone_by_a_savepoint_is_not_remembered(audit_engine: Engine, keyring: Keyring,
                                                          clock: ManualClock) -> None:
    with audit_engine.begin() as connection:
        log = SqlAuditLog(connection, keyring, clock)
        assert log.append(event(clock, 0)) == 1
        savepoint = connection.begin_nested()
        assert log.append(event(clock, 1)) == 2
        savepoint.rollback()
        assert log.append(event(clock, 2)) == 2
        with connection.begin_nested():
            assert log.append(event(clock, 3)) == 3
        assert log.append(event(clock, 4)) == 4
    report = verify(audit_engine, keyring)
    assert report.ok and report.entries == 4, report.summary()
