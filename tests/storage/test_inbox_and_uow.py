"""The inbox with its cursors, and the unit of work that commits everything together or nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

import storage.db

from alerts.audit import AuditAction, AuditEvent
from alerts.clock import ManualClock
from alerts.identity import ChatRef, MessageRef, Platform, UserRef
from alerts.items import ItemKind
from alerts.messages import InboundMessage
from storage.db import create_engine_for
from storage.tables import CORE_TABLES
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.builders import RecordingAudit, make_item, make_message, make_route

ALICE = UserRef.parse("telegram:user:42")
GROUP = ChatRef.parse("telegram:-100123")


def _event(event_id: str, clock: ManualClock, text: str = "/status A-2026-0001", **fields) -> InboundMessage:  # noqa: ANN003
    return InboundMessage(event_id, ALICE, GROUP, text, clock.now(), **fields)


def test_an_event_read_twice_is_recorded_once(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    with uow_factory() as uow:
        assert uow.inbox.record(_event("1001", clock))
        uow.commit()
    with uow_factory() as uow:
        assert not uow.inbox.record(_event("1001", clock, text="changed"))
        assert uow.inbox.record(InboundMessage("1001", UserRef.parse("console:bob"), ChatRef.parse("console:@bob"), "x", clock.now()))
        uow.commit()
    with uow_factory() as uow:
        assert [(m.event_id, m.text) for m in uow.inbox.pending(10)] == [("1001", "/status A-2026-0001"), ("1001", "x")]


def test_pending_is_oldest_first_and_round_trips(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    reply = MessageRef(GROUP, "77")
    with uow_factory() as uow:
        first = _event("e1", clock, reply_to=reply)
        clock.advance(timedelta(seconds=1))
        assert uow.inbox.record_event(Platform.TELEGRAM, "e2", ALICE, GROUP, "second", clock.now())
        uow.inbox.record(first)
        uow.commit()
    with uow_factory() as uow:
        pending = uow.inbox.pending(10)
        assert [m.event_id for m in pending] == ["e2", "e1"]  # in the order recorded
        assert pending[1] == first
        assert [m.event_id for m in uow.inbox.pending(1)] == ["e2"]


def test_a_batch_recorded_in_one_statement_skips_events_seen_before(uow_factory: SqlUnitOfWorkFactory,
                                                                    clock: ManualClock) -> None:
    with uow_factory() as uow:
        uow.inbox.record(_event("e2", clock, text="first"))
        uow.commit()
    with uow_factory() as uow:
        uow.inbox.record_many([_event("e1", clock), _event("e2", clock, text="again"), _event("e3", clock)])
        uow.commit()
    with uow_factory() as uow:
        assert [(m.event_id, m.text) for m in uow.inbox.pending(10)] == [
            ("e2", "first"), ("e1", "/status A-2026-0001"), ("e3", "/status A-2026-0001")]


def test_done_and_failed_events_leave_pending(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    with uow_factory() as uow:
        for event_id in ("e1", "e2", "e3"):
            uow.inbox.record(_event(event_id, clock))
        uow.commit()
    with uow_factory() as uow:
        e1, e2, _ = uow.inbox.pending(10)
        uow.inbox.mark_all_done([e1])
        uow.inbox.mark_failed(e2, "ERR-7F3A")
        with pytest.raises(KeyError):
            uow.inbox.mark_failed(_event("never-recorded", clock), "ERR-0000")
        uow.commit()
    with uow_factory() as uow:
        assert [m.event_id for m in uow.inbox.pending(10)] == ["e3"]


def test_cursor_and_inbox_rows_commit_together_or_not_at_all(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    with uow_factory() as uow:
        assert uow.cursors.get("telegram.offset") is None
        uow.inbox.record(_event("e1", clock))
        uow.cursors.set("telegram.offset", "1001")
        uow.commit()
    with uow_factory() as uow:
        uow.inbox.record(_event("e2", clock))
        uow.cursors.set("telegram.offset", "1002")
        # no commit: the connector crashed before the batch was durable
    with uow_factory() as uow:
        assert uow.cursors.get("telegram.offset") == "1001"
        assert [m.event_id for m in uow.inbox.pending(10)] == ["e1"]


def _row_counts(uow_factory: SqlUnitOfWorkFactory) -> dict[str, int]:
    with uow_factory() as uow:
        return {t.name: uow.connection.execute(select(func.count()).select_from(t)).scalar_one() for t in CORE_TABLES}


def _write_everything(uow, clock: ManualClock) -> None:  # noqa: ANN001
    reference = uow.items.next_reference(ItemKind.ALERT, 2026)
    uow.items.add(make_item(reference.number), make_route("th-npoc"), {"th-npoc": "k1"})
    uow.outbox.enqueue(make_message("k1"))
    uow.inbox.record(_event("e1", clock))
    uow.cursors.set("matrix.since", "s1")
    uow.audit.record(AuditEvent(AuditAction.ITEM_CREATED, clock.now(), "th-lo", reference=str(reference)))


def test_leaving_without_commit_leaves_nothing(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    before = _row_counts(uow_factory)
    with uow_factory() as uow:
        _write_everything(uow, clock)
    with pytest.raises(RuntimeError), uow_factory() as uow:
        _write_everything(uow, clock)
        raise RuntimeError("handler failed")
    assert _row_counts(uow_factory) == before


def test_commit_keeps_everything_and_later_work_needs_its_own_commit(
    uow_factory: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    with uow_factory() as uow:
        _write_everything(uow, clock)
        uow.commit()
        uow.outbox.enqueue(make_message("after-commit"))
    counts = _row_counts(uow_factory)
    assert counts == {"reference_counters": 1, "items": 1, "deliveries": 1, "inbox": 1, "outbox": 1, "cursors": 1}


def test_the_audit_log_writes_on_the_unit_of_works_connection(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.audit.connection is uow.connection  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError):
        uow.connection  # noqa: B018 - outside `with` there is no connection


def test_the_sealing_factory_gets_the_unit_of_works_connection(engine, sealer, clock: ManualClock) -> None:  # noqa: ANN001
    """One sealer per unit of work, shared with its audit log: case keys read for the item are not
    read again for its audit entries."""
    given = []

    def sealing_on(connection):  # noqa: ANN001, ANN202
        given.append(connection)
        return sealer, RecordingAudit(connection)

    factory = SqlUnitOfWorkFactory(engine, sealing_on, clock)
    with factory() as uow:
        uow.inbox.record(_event("e1", clock))
        assert given == [uow.connection]
        assert uow.audit.connection is uow.connection  # type: ignore[attr-defined]
        uow.commit()
    with factory() as uow:
        assert uow.inbox.pending(1)[0].text == "/status A-2026-0001"


def test_a_sqlite_writer_that_cannot_get_the_lock_gets_sqlalchemys_operational_error(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """BEGIN IMMEDIATE is emitted by the engine's `begin` event; InboxProcessor still sees "database is
    locked" as sqlalchemy.exc.OperationalError, and leaves the message pending."""
    monkeypatch.setattr(storage.db, "BUSY_TIMEOUT_MS", 50)
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    holder, waiter = create_engine_for(url), create_engine_for(url)
    try:
        with holder.begin():
            with waiter.connect() as connection, pytest.raises(OperationalError, match="locked"):
                connection.begin()
        with waiter.begin() as connection:  # free again
            assert connection.exec_driver_sql("SELECT 1").scalar_one() == 1
    finally:
        holder.dispose()
        waiter.dispose()
