"""Write-behind (storage.write_behind): INSERTs held back in a transaction are seen by everything
that runs after them, kept by the commit, dropped by a rollback, and checked where the writer
counted on a new row. On SQLite and, where a server answers, on PostgreSQL (whose foreign keys
check that an item's rows go before its deliveries')."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from alerts.clock import ManualClock
from alerts.items import ItemKind
from storage import keyring as keyfile
from storage.keys.case_keys import _INSERT_KEY, _KEY_ROW, CaseKeys, case_keys
from storage.keys.driver import execute, insert_many, together
from storage.sealing import CaseKeySealer
from storage.tables import deliveries, items, outbox, reference_counters
from storage.uow import SqlUnitOfWorkFactory
from storage.write_behind import HeldWriteConflict, hold_writes, held_writes
from tests.storage.builders import RecordingAudit, make_item, make_message, make_route


def count(connection, table) -> int:  # noqa: ANN001
    return connection.execute(select(func.count()).select_from(table)).scalar_one()


def add_three(uow) -> None:  # noqa: ANN001
    """Three items, each with its deliveries and outbox rows, interleaved as commands write them."""
    for n in (1, 2, 3):
        reference = uow.items.next_reference(ItemKind.ALERT, 2026)
        assert reference.number == n
        uow.items.add(make_item(n), make_route("th-npoc", "my-imm"), {"th-npoc": f"k{n}a", "my-imm": f"k{n}b"})
        uow.outbox.enqueue_many([make_message(f"k{n}a"), make_message(f"k{n}b")])


def test_held_rows_wait_are_seen_by_the_next_read_and_kept_by_the_commit(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.hold_writes()
        add_three(uow)
        held = held_writes(uow.connection)
        assert held  # nothing sent yet
        assert count(uow.connection, deliveries) == 6  # a read sends them first
        assert not held
        uow.items.add(make_item(4), make_route("th-npoc"), {"th-npoc": "k4"})
        uow.commit()
    with uow_factory(read_only=True) as uow:
        assert [count(uow.connection, t) for t in (items, deliveries, outbox)] == [4, 7, 6]
        record = uow.items.get(make_item(2).reference)
        assert [d.outbox_key for d in record.deliveries] == ["k2a", "k2b"]  # one table's rows keep their order
    assert _next_number(uow_factory) == 4  # the counter was set to the last number held


def test_a_rollback_drops_what_is_held_and_no_later_transaction_sends_it(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.hold_writes()
        add_three(uow)
    for _ in range(3):  # the pool hands the same connection back: nothing stale may ride along
        with uow_factory() as uow:
            uow.outbox.enqueue(make_message("later"))
            uow.commit()
            uow.outbox.enqueue(make_message("later-" + str(id(uow))))
    with uow_factory(read_only=True) as uow:
        assert [count(uow.connection, t) for t in (items, deliveries, outbox)] == [0, 0, 1]
    assert _next_number(uow_factory) == 1  # the numbers held were never used


def test_a_savepoint_rolled_back_undoes_its_held_rows_and_its_numbers(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.hold_writes()
        assert uow.items.next_reference(ItemKind.ALERT, 2026).number == 1
        uow.items.add(make_item(1), make_route("th-npoc"), {"th-npoc": "k1"})
        with pytest.raises(RuntimeError), uow.savepoint():
            assert uow.items.next_reference(ItemKind.ALERT, 2026).number == 2
            uow.items.add(make_item(2), make_route("th-npoc"), {"th-npoc": "k2"})
            raise RuntimeError("undone")
        assert uow.items.next_reference(ItemKind.ALERT, 2026).number == 2  # handed out again
        uow.commit()
    with uow_factory(read_only=True) as uow:
        assert [r for (r,) in uow.connection.execute(select(items.c.reference))] == ["A-2026-0001"]
    assert _next_number(uow_factory) == 3


def test_a_held_case_key_that_meets_a_row_already_there_fails_the_commit(
        engine: Engine, clock: ManualClock, tmp_path: Path) -> None:
    path = tmp_path / "liaison.keys"
    keyfile.generate(path)
    keyring = keyfile.load(path)
    factory = SqlUnitOfWorkFactory(engine, lambda connection: CaseKeySealer(connection, keyring), RecordingAudit, clock)
    with engine.begin() as connection:
        CaseKeys(connection, keyring).erase("A-2026-0001")  # a tombstone for a case not yet numbered
    with factory() as uow:
        uow.hold_writes()
        reference = str(uow.items.next_reference(ItemKind.ALERT, 2026))
        uow.items.add(make_item(1), make_route("th-npoc"), {"th-npoc": "k1"})  # makes its case key, held
        with pytest.raises(HeldWriteConflict):
            uow.commit()
    assert reference == "A-2026-0001"
    with engine.connect() as connection:
        assert count(connection, items) == 0
        assert connection.execute(select(case_keys.c.erased_at)).scalar_one() is not None  # the tombstone stands


def test_a_plain_commit_that_cannot_send_what_is_held_leaves_nothing_behind(engine: Engine) -> None:
    # SQLAlchemy takes a failed commit for the end of the transaction and returns the connection
    # to the pool without a rollback: the database's transaction must have been rolled back.
    at = datetime(2026, 12, 5, 10, tzinfo=timezone.utc)
    tombstone = ("A-2026-0009", "ck-1", None, "m1", at, at)
    with engine.begin() as connection:
        insert_many(connection, _INSERT_KEY, [_KEY_ROW(connection, tombstone)])
    with engine.connect() as connection:
        hold_writes(connection)
        connection.execute(insert(reference_counters).values(kind="A", year=2026, last_number=5))  # not held
        insert_many(connection, _INSERT_KEY, [_KEY_ROW(connection, tombstone)], all_new=True)
        with pytest.raises(HeldWriteConflict):
            connection.commit()
    with engine.connect() as connection:
        assert count(connection, reference_counters) == 0
        assert count(connection, case_keys) == 1


@pytest.mark.parametrize("there_already", [False, True])
def test_held_rows_sent_inside_a_callers_together_are_checked_on_their_results(engine: Engine,
                                                                               there_already: bool) -> None:
    # On PostgreSQL the caller's pipeline is still open when the held rows are sent: their row
    # counts are known only once its results are in.
    at = datetime(2026, 12, 5, 10, tzinfo=timezone.utc)
    row = ("A-2026-0009", "ck-1", b"wrapped", "m1", at, None)
    if there_already:
        with engine.begin() as connection:
            insert_many(connection, _INSERT_KEY, [_KEY_ROW(connection, row)])
    with engine.connect() as connection:
        hold_writes(connection)
        insert_many(connection, _INSERT_KEY, [_KEY_ROW(connection, row)], all_new=True)
        if there_already:
            with pytest.raises(HeldWriteConflict), together(connection):
                execute(connection, "UPDATE reference_counters SET last_number = 2 WHERE kind = 'R'")
            return
        with together(connection):
            execute(connection, "UPDATE reference_counters SET last_number = 2 WHERE kind = 'R'")
        connection.commit()
    with engine.connect() as connection:
        assert count(connection, case_keys) == 1


def _next_number(factory: SqlUnitOfWorkFactory) -> int:
    with factory() as uow:
        number = uow.items.next_reference(ItemKind.ALERT, 2026).number
    return number
