"""Follow-up in storage: closure, more deliveries for a forward, and forward requests.

Runs on SQLite and, where it answers, PostgreSQL (the `uow_factory` and `engine` fixtures).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect, select

from alerts.clock import ManualClock
from alerts.items import ItemKind, ItemState, Reference
from alerts.lifecycle import Closure, ForwardRequest, ForwardState
from alerts.routing import Route
from storage.db import create_engine_for
from storage.migrate import downgrade, upgrade
from storage.schema import metadata
from storage.tables import FOLLOWUP_TABLES, forward_requests, items
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.builders import CREATED, make_item, make_route

REF = Reference(ItemKind.ALERT, 2026, 1)
CANARY = "CANARY-source-name-Somchai"


def _stored(uow_factory: SqlUnitOfWorkFactory, *contacts: str) -> None:
    with uow_factory() as uow:
        uow.items.add(make_item(1), make_route(*contacts), {c: f"k-{c}" for c in contacts})
        uow.commit()


def _request(request_id: str = "f1", minutes: int = 0, **fields: object) -> ForwardRequest:
    values: dict[str, object] = {
        "id": request_id, "reference": str(REF), "asker": "th-npoc", "recipients": ("TH/immigration", "@th-deputy"),
        "contacts": ("th-immigration", "th-deputy"), "purpose": f"joint investigation {CANARY}",
        "requested_at": CREATED + timedelta(minutes=minutes),
    }
    values.update(fields)
    return ForwardRequest(**values)  # type: ignore[arg-type]


def test_an_item_closes_once_with_its_outcome(uow_factory: SqlUnitOfWorkFactory) -> None:
    _stored(uow_factory, "th-npoc")
    first = Closure("th-lo", CREATED + timedelta(hours=2), f"both arrested {CANARY}")
    with uow_factory() as uow:
        assert uow.items.close(REF, first)
        assert not uow.items.close(REF, Closure("rso-coord", CREATED + timedelta(hours=3), "again"))
        uow.commit()
    with uow_factory() as uow:
        record = uow.items.get(REF)
        assert record is not None
        assert (record.item.state, record.closure) == (ItemState.CLOSED, first)
        assert uow.items.for_contact("th-npoc") == []


def test_an_open_item_has_no_closure(uow_factory: SqlUnitOfWorkFactory) -> None:
    _stored(uow_factory, "th-npoc")
    with uow_factory() as uow:
        assert uow.items.get(REF).closure is None  # type: ignore[union-attr]


def test_a_forward_adds_deliveries_to_the_same_item(uow_factory: SqlUnitOfWorkFactory) -> None:
    _stored(uow_factory, "th-npoc")
    forward = Route(tuple(replace(d, reason="forward by th-npoc, consented by th-lo")
                          for d in make_route("th-immigration").deliveries))
    with uow_factory() as uow:
        uow.items.add_deliveries(REF, forward, {"th-immigration": "k-fwd"})
        uow.commit()
    with uow_factory() as uow:
        record = uow.items.get(REF)
        assert record is not None
        assert [(d.contact, d.reason) for d in record.route.deliveries] == [
            ("th-npoc", "to:th-npoc"), ("th-immigration", "forward by th-npoc, consented by th-lo")]
        assert [(d.outbox_key, d.state) for d in record.deliveries] == [("k-th-npoc", "queued"), ("k-fwd", "queued")]
        assert [str(r.item.reference) for r in uow.items.for_contact("th-immigration")] == [str(REF)]


def test_deliveries_for_an_unknown_item_or_without_keys_are_refused(uow_factory: SqlUnitOfWorkFactory) -> None:
    _stored(uow_factory, "th-npoc")
    with uow_factory() as uow, pytest.raises(ValueError):
        uow.items.add_deliveries(Reference(ItemKind.ALERT, 2026, 99), make_route("x"), {"x": "k-x"})
    with uow_factory() as uow, pytest.raises(ValueError):
        uow.items.add_deliveries(REF, make_route("x"), {})


def test_answering_records_both_times_and_never_goes_back(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _stored(uow_factory, "th-npoc")
    t = clock.now()
    with uow_factory() as uow:
        assert uow.items.mark_delivery("k-th-npoc", "acknowledged", t)
        assert uow.items.mark_delivery("k-th-npoc", "answered", t + timedelta(minutes=5))
        assert uow.items.mark_delivery("k-th-npoc", "acknowledged", t + timedelta(minutes=9))
        uow.commit()
    with uow_factory() as uow:
        [delivery] = uow.items.get(REF).deliveries  # type: ignore[union-attr]
    assert (delivery.state, delivery.acknowledged_at, delivery.answered_at) == ("answered", t, t + timedelta(minutes=5))


def test_forward_requests_round_trip_oldest_first(uow_factory: SqlUnitOfWorkFactory) -> None:
    _stored(uow_factory, "th-npoc")
    later, earlier = _request("f-later", minutes=5), _request("f-earlier", minutes=1, recipients=("IOM",),
                                                               contacts=("iom-npoc",), purpose="")
    with uow_factory() as uow:
        uow.items.add_forward(later)
        uow.items.add_forward(earlier)
        uow.commit()
    with uow_factory() as uow:
        assert uow.items.forwards(REF) == [earlier, later]
        assert uow.items.forwards(Reference(ItemKind.ALERT, 2026, 2)) == []


def test_a_forward_request_is_decided_once(uow_factory: SqlUnitOfWorkFactory) -> None:
    _stored(uow_factory, "th-npoc")
    at = CREATED + timedelta(hours=1)
    with uow_factory() as uow:
        uow.items.add_forward(_request())
        assert uow.items.decide_forward("f1", ForwardState.REFUSED, "th-lo", at, f"source at risk {CANARY}")
        assert not uow.items.decide_forward("f1", ForwardState.GRANTED, "th-lo", at, "changed my mind")
        assert not uow.items.decide_forward("no-such-request", ForwardState.GRANTED, "th-lo", at, "")
        with pytest.raises(ValueError):
            uow.items.decide_forward("f1", ForwardState.PENDING, "th-lo", at, "")
        uow.commit()
    with uow_factory() as uow:
        [decided] = uow.items.forwards(REF)
    assert decided == _request(state=ForwardState.REFUSED, decided_by="th-lo", decided_at=at,
                               reason=f"source at risk {CANARY}")


def test_purposes_reasons_and_outcomes_are_sealed(engine: Engine, uow_factory: SqlUnitOfWorkFactory) -> None:
    _stored(uow_factory, "th-npoc")
    with uow_factory() as uow:
        uow.items.add_forward(_request())
        uow.items.decide_forward("f1", ForwardState.GRANTED, "th-lo", CREATED, f"ok {CANARY}")
        uow.items.close(REF, Closure("th-lo", CREATED, f"done {CANARY}"))
        uow.commit()
    with engine.connect() as conn:
        rows = [*conn.execute(select(forward_requests)), *conn.execute(select(items))]
    for row in rows:
        for value in row:
            raw = value if isinstance(value, bytes) else str(value).encode()
            assert CANARY.encode() not in raw


def test_a_sealed_reason_does_not_open_in_another_row(engine: Engine, uow_factory: SqlUnitOfWorkFactory) -> None:
    _stored(uow_factory, "th-npoc")
    with uow_factory() as uow:
        uow.items.add_forward(_request("f1"))
        uow.items.add_forward(_request("f2"))
        uow.commit()
    with engine.begin() as conn:
        purpose = conn.execute(select(forward_requests.c.purpose).where(forward_requests.c.id == "f1")).scalar_one()
        conn.execute(forward_requests.update().where(forward_requests.c.id == "f2").values(purpose=purpose))
    with uow_factory() as uow, pytest.raises(Exception, match="cannot open"):
        uow.items.forwards(REF)


def test_follow_up_tables_are_the_ones_the_migration_makes(engine: Engine) -> None:
    ours = MetaData(naming_convention=metadata.naming_convention)
    for table in (items, *FOLLOWUP_TABLES):
        table.to_metadata(ours)
    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), ours)
    mine = {t.name for t in (items, *FOLLOWUP_TABLES)}

    def about_others(diff: object) -> bool:
        if not isinstance(diff, tuple):
            return False
        table = getattr(diff[1], "table", diff[1])
        return diff[0] in ("remove_table", "remove_index") and getattr(table, "name", None) not in mine

    assert [d for d in diffs if not about_others(d)] == []


def test_the_follow_up_revision_goes_down_and_up_again(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        upgrade(engine)
        downgrade(engine, "0002_audit")
        assert "forward_requests" not in inspect(engine).get_table_names()
        assert "closed_at" not in {c["name"] for c in inspect(engine).get_columns("items")}
        upgrade(engine)
        assert "forward_requests" in inspect(engine).get_table_names()
        assert {"closed_at", "closed_by", "outcome"} <= {c["name"] for c in inspect(engine).get_columns("items")}
    finally:
        engine.dispose()
