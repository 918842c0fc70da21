"""Items: reference numbers that never repeat, exact round trips, and delivery states."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from alerts.caveats import Caveat
from alerts.items import ALL, DueSpec, Item, ItemKind, ItemState, Reference
from alerts.priority import Priority
from storage.db import create_engine_for
from storage.uow import SqlUnitOfWorkFactory
from alerts.messages import MessageKind
from tests.storage.builders import CREATED, RecordingAudit, make_item, make_message, make_route, sealing

BANGKOK = timezone(timedelta(hours=7))


def _next(factory: SqlUnitOfWorkFactory, kind: ItemKind = ItemKind.ALERT, year: int = 2026) -> Reference:
    with factory() as uow:
        reference = uow.items.next_reference(kind, year)
        uow.commit()
    return reference


def test_references_count_up_per_kind_and_year(uow_factory: SqlUnitOfWorkFactory) -> None:
    assert [_next(uow_factory).number for _ in range(3)] == [1, 2, 3]
    assert _next(uow_factory, ItemKind.REQUEST) == Reference(ItemKind.REQUEST, 2026, 1)
    assert _next(uow_factory, year=2027) == Reference(ItemKind.ALERT, 2027, 1)
    assert str(_next(uow_factory)) == "A-2026-0004"


def test_references_survive_a_restart(migrated_url: str, engine: Engine, sealer, clock) -> None:  # noqa: ANN001
    assert _next(SqlUnitOfWorkFactory(engine, sealing(sealer, RecordingAudit), clock)).number == 1
    engine.dispose()
    reopened = create_engine_for(migrated_url)
    try:
        assert _next(SqlUnitOfWorkFactory(reopened, sealing(sealer, RecordingAudit), clock)).number == 2
    finally:
        reopened.dispose()


def test_a_rolled_back_reference_is_handed_out_again_as_nothing_used_it(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.items.next_reference(ItemKind.ALERT, 2026).number == 1
    assert _next(uow_factory).number == 1


def test_concurrent_writers_get_distinct_consecutive_references(uow_factory: SqlUnitOfWorkFactory) -> None:
    got: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def take() -> None:
        try:
            barrier.wait()
            for _ in range(10):
                got.append(_next(uow_factory).number)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(got) == list(range(1, 61))


@pytest.mark.parametrize(
    "item",
    [
        make_item(),
        make_item(grading=None, due=DueSpec(at=datetime(2026, 11, 30, 14, 0, tzinfo=timezone.utc)), purpose=None,
                  outside_ref=None, topic=None, recipients=(ALL,), caveat=Caveat(), priority=Priority.ROUTINE),
        make_item(body="Ünïcödé ✈ body\nwith lines, and commas", due=None),
    ],
    ids=["full", "sparse", "unicode"],
)
def test_an_item_and_its_route_round_trip_exactly(uow_factory: SqlUnitOfWorkFactory, item: Item) -> None:
    route = make_route("th-npoc", "my-imm")
    keys = {"th-npoc": "k-th", "my-imm": "k-my"}
    with uow_factory() as uow:
        uow.items.add(item, route, keys)
        uow.commit()
    with uow_factory(read_only=True) as uow:
        record = uow.items.get(item.reference)
    assert record is not None
    assert record.item == item
    assert record.route == route
    assert [(d.contact, d.destination, d.outbox_key, d.state) for d in record.deliveries] == [
        ("th-npoc", "direct:console:th-npoc", "k-th", "queued"),
        ("my-imm", "direct:console:my-imm", "k-my", "queued"),
    ]


def test_times_come_back_aware_in_utc(uow_factory: SqlUnitOfWorkFactory) -> None:
    item = make_item(created_at=datetime(2026, 11, 23, 16, 0, tzinfo=BANGKOK))
    with uow_factory() as uow:
        uow.items.add(item, make_route("th-npoc"), {"th-npoc": "k"})
        uow.commit()
    with uow_factory() as uow:
        stored = uow.items.get(item.reference).item  # type: ignore[union-attr]
    assert stored.created_at == CREATED
    assert stored.created_at.tzinfo is timezone.utc or stored.created_at.utcoffset() == timedelta(0)


def test_naive_times_are_refused(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow, pytest.raises(Exception, match="naive"):
        uow.items.add(make_item(created_at=datetime(2026, 11, 23, 9, 0)), make_route("x"), {"x": "k"})


def test_every_delivery_needs_its_outbox_key(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow, pytest.raises(ValueError):
        uow.items.add(make_item(), make_route("th-npoc", "my-imm"), {"th-npoc": "k"})


def test_unknown_reference_is_none(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        assert uow.items.get(Reference(ItemKind.REQUEST, 2026, 99)) is None


def test_a_contact_sees_open_items_they_sent_or_received(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.items.add(make_item(1, originator="th-lo"), make_route("my-npoc"), {"my-npoc": "k1"})
        uow.items.add(make_item(2, originator="sg-lo"), make_route("th-lo", "my-npoc"), {"th-lo": "k2", "my-npoc": "k3"})
        uow.items.add(make_item(3, originator="sg-lo"), make_route("my-npoc"), {"my-npoc": "k4"})
        uow.items.add(replace(make_item(4), state=ItemState.CLOSED), make_route("th-lo"), {"th-lo": "k5"})
        uow.commit()
    with uow_factory() as uow:
        assert [str(r.item.reference) for r in uow.items.for_contact("th-lo")] == ["A-2026-0001", "A-2026-0002"]
        assert len(uow.items.for_contact("my-npoc")) == 3
        assert uow.items.for_contact("nobody") == []
        assert [d.contact for d in uow.items.for_contact("th-lo")[1].deliveries] == ["th-lo", "my-npoc"]


def test_delivery_states_move_forward_and_keep_first_times(uow_factory: SqlUnitOfWorkFactory, clock) -> None:  # noqa: ANN001
    t0 = clock.now()
    with uow_factory() as uow:
        uow.items.add(make_item(), make_route("th-npoc"), {"th-npoc": "k"})
        # The acknowledgement overtakes the worker's "sent" mark: the state must not go back.
        assert uow.items.mark_delivery("k", "acknowledged", t0 + timedelta(minutes=2))
        assert uow.items.mark_delivery("k", "sent", t0 + timedelta(minutes=1), "msg-1")
        assert uow.items.mark_delivery("k", "sent", t0 + timedelta(minutes=5), "msg-2")
        assert not uow.items.mark_delivery("no-such-key", "sent", t0)
        with pytest.raises(ValueError):
            uow.items.mark_delivery("k", "read", t0)
        uow.commit()
    with uow_factory() as uow:
        (delivery,) = uow.items.get(make_item().reference).deliveries  # type: ignore[union-attr]
    assert delivery.state == "acknowledged"
    assert delivery.sent_at == t0 + timedelta(minutes=1)
    assert delivery.acknowledged_at == t0 + timedelta(minutes=2)
    assert delivery.platform_message_id == "msg-1"


def test_a_copy_partly_sent_is_dated_by_when_its_first_message_went(uow_factory: SqlUnitOfWorkFactory,
                                                                     clock) -> None:  # noqa: ANN001
    """It has no sent time of its own (never delivered whole), yet Telegram's 48 hours to delete what
    reached its reader run from its first message: recorded as it went (outbox_parts.sent_at), kept as
    it is recorded again, and carried to the copy of an earlier revision."""
    item = make_item()
    with uow_factory() as uow:
        uow.items.add(item, make_route("th-npoc", "my-npoc"), {"th-npoc": "k", "my-npoc": "k2"})
        for key in ("k", "k2"):
            uow.outbox.enqueue(make_message(key, kind=MessageKind.DELIVERY, reference=str(item.reference)))
        uow.outbox.lease(clock.now(), 10, timedelta(minutes=5))
        photo_at = clock.now()
        uow.outbox.record_parts("k", ["photo"])  # the photo went
        uow.commit()
    clock.advance(timedelta(hours=3))
    with uow_factory() as uow:
        uow.outbox.record_parts("k", ["photo", "text-1"])  # then its text's first part; the second fails
        failed = uow.outbox.mark_failed("k", "bad-request")
        assert uow.items.mark_delivery("k", "failed", clock.now(), failed.reached[0])
        uow.commit()
    with uow_factory() as uow:
        record = uow.items.get(item.reference)
        assert record is not None
        partly, whole = record.deliveries
        assert (partly.state, partly.sent_at, partly.first_part_at) == ("failed", None, photo_at)
        assert whole.first_part_at is None  # nothing of it went
        uow.items.revise(replace(item, revision=2), make_route("th-npoc"), {"th-npoc": "k3"}, clock.now())
        [(revision, earlier), _] = uow.items.earlier_deliveries(item.reference)
        assert (revision, earlier.outbox_key, earlier.first_part_at) == (1, "k", photo_at)
        assert uow.items.mark_earlier("k", "failed", clock.now(), "photo")[1].first_part_at == photo_at  # type: ignore[index]


def test_deliveries_come_back_in_the_routes_order(uow_factory: SqlUnitOfWorkFactory) -> None:
    contacts = [f"c{n:02d}" for n in reversed(range(30))]  # not the order of their names
    with uow_factory() as uow:
        uow.items.add(make_item(), make_route(*contacts), {c: f"k-{c}" for c in contacts})
        uow.commit()
    with uow_factory() as uow:
        record = uow.items.get(make_item().reference)
    assert [d.contact for d in record.deliveries] == contacts  # type: ignore[union-attr]


def test_a_database_error_comes_as_sqlalchemys(uow_factory: SqlUnitOfWorkFactory) -> None:
    """Callers see sqlalchemy.exc errors."""
    with uow_factory() as uow:
        uow.items.add(make_item(), make_route("th-npoc"), {"th-npoc": "k1"})
        with pytest.raises(IntegrityError):
            uow.items.add(make_item(), make_route("th-npoc"), {"th-npoc": "k2"})
