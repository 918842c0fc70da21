"""No text a person wrote is stored in clear: not in any column, not in the SQLite file or its WAL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from alerts.clock import ManualClock
from alerts.identity import ChatRef, UserRef
from alerts.items import ItemKind
from alerts.messages import InboundMessage
from storage.sealing import SealError
from storage.tables import CORE_TABLES, items
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.builders import make_item, make_message, make_route

CANARY = "CANARY-passport-N1234567"


def _write_canaries(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    with uow_factory() as uow:
        reference = uow.items.next_reference(ItemKind.ALERT, 2026)
        item = make_item(reference.number, body=f"body {CANARY}", purpose=f"purpose {CANARY}", outside_ref=CANARY)
        uow.items.add(item, make_route("th-npoc"), {"th-npoc": "key-th-npoc"})
        uow.outbox.enqueue(make_message("key-th-npoc", text=f"delivery {CANARY}", reference=str(reference)))
        uow.inbox.record(
            InboundMessage("evt-1", UserRef.parse("console:th-lo"), ChatRef.parse("console:#network"), f"/alert {CANARY}", clock.now())
        )
        uow.commit()


def test_no_column_holds_the_text_in_clear(engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _write_canaries(uow_factory, clock)
    with engine.connect() as conn:
        for table in CORE_TABLES:
            for row in conn.execute(select(table)):
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    assert CANARY.encode() not in raw, table.name
    with uow_factory() as uow:  # ...and it all opens again
        (record,) = uow.items.for_contact("th-npoc")
        assert CANARY in record.item.draft.body
        assert CANARY in uow.inbox.pending(1)[0].text


@pytest.mark.parametrize("migrated_url", ["sqlite"], indirect=True)
def test_the_sqlite_file_and_its_wal_hold_no_clear_text(
    migrated_url: str, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    _write_canaries(uow_factory, clock)
    database = Path(migrated_url.removeprefix("sqlite:///"))
    files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
    assert any(p.name.endswith("-wal") for p in files)
    data = b"".join(p.read_bytes() for p in files)
    assert b"key-th-npoc" in data  # the scan does see what is stored in clear
    assert CANARY.encode() not in data


def test_content_moved_to_another_row_does_not_open(engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    with uow_factory() as uow:
        uow.items.add(make_item(1, body="first"), make_route("a"), {"a": "k1"})
        uow.items.add(make_item(2, body="second"), make_route("b"), {"b": "k2"})
        uow.commit()
    with engine.begin() as conn:
        blob = conn.execute(select(items.c.content).where(items.c.reference == "A-2026-0001")).scalar_one()
        conn.execute(update(items).where(items.c.reference == "A-2026-0002").values(content=blob))
    with uow_factory() as uow, pytest.raises(SealError):
        uow.items.get(make_item(2).reference)


def test_the_harmonised_fields_are_sealed_with_the_body_and_open_again(
        engine: Engine, uow_factory: SqlUnitOfWorkFactory) -> None:
    from alerts.incident import DocumentType, Incident, Method

    incident = Incident(98765, ("MM", "BD"), ("MM", "TH", "MY"), Method.SEA, DocumentType.PASSPORT, "MM")
    with uow_factory() as uow:
        reference = uow.items.next_reference(ItemKind.ALERT, 2026)
        uow.items.add(make_item(reference.number, incident=incident), make_route("th-npoc"), {"th-npoc": "k1"})
        uow.commit()
    with engine.connect() as conn:
        for table in CORE_TABLES:
            for row in conn.execute(select(table)):
                for value in row:
                    raw = value if isinstance(value, bytes) else str(value).encode()
                    assert b"98765" not in raw and b"nationalities" not in raw, table.name
    with uow_factory() as uow:
        assert uow.items.get(reference).item.draft.incident == incident  # type: ignore[union-attr]
