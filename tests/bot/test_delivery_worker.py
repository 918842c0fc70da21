"""The delivery worker against real storage and fake connectors that fail the way platforms do."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import Connection, Engine

from alerts.audit import AuditAction, AuditEvent
from alerts.caveat_rules import ENCRYPTED_ONLY
from alerts.caveats import Caveat, Tlp
from alerts.clock import ManualClock
from alerts.directory import Directory
from alerts.identity import Platform, UserRef
from alerts.items import Reference
from alerts.lifecycle import Withdrawal
from alerts.removal import WITHDRAWN_LINE, Removal
from alerts.supersede import Supersession, notice_key, unknown_copy_line_key
from alerts.messages import PLATFORM_ACTIONS, MessageKind, OutboundMessage
from alerts.routing import Destination
from bot.connectors.base import Outgoing
from bot.runtime.dbthread import DatabaseThread
from bot.runtime.app import coordinator_rows, originator_rows
from bot.runtime.delivery import DeliveryWorker, RetryPolicy
from bot.connectors.errors import NotConnected, PermanentFailure, PlatformError, RateLimited, TransientFailure
from handlers.correction import SUPERSEDED, late_copy
from handlers.ports import Cancelled
from handlers.withdrawal import CANCELLED, CANCELLED_KINDS, withdrawn_copy, withdrawn_line
from storage.sealing import AesGcmSealer
from storage.tables import outbox
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import FixedDirectory
from tests.sample_network import small_network
from tests.storage.builders import make_item, make_route, sealing


class SharedAudit:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def __call__(self, connection: Connection) -> SharedAudit:
        return self

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)

    def held(self) -> AbstractContextManager[None]:
        return nullcontext()


class FakePlatform:
    """Accepts sends, or fails them as scripted: `failures[contact]` is a list of errors to raise first."""

    platform = Platform.CONSOLE

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self.failures: dict[str, list[Exception]] = {}
        self._ids = itertools.count(1)

    async def send(self, message: Outgoing) -> str:
        who = str(message.destination.address)
        pending = self.failures.get(who)
        if pending:
            raise pending.pop(0)
        self.received.append((who, message.text))
        return f"m{next(self._ids)}"


@pytest.fixture
def world(engine: Engine, sealer: AesGcmSealer):
    clock = ManualClock()
    audit = SharedAudit()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, audit), clock)
    platform = FakePlatform()
    keys = itertools.count(1)
    db = DatabaseThread()
    connectors = {Platform.CONSOLE: platform}
    worker = DeliveryWorker(db, factory, connectors, clock, lambda: f"k{next(keys)}",  # type: ignore[arg-type]
                            RetryPolicy(max_attempts=3, base=timedelta(seconds=2)),
                            tell_originator=originator_rows(FixedDirectory(small_network()),  # type: ignore[arg-type]
                                                            connectors, ENCRYPTED_ONLY, lambda: f"k{next(keys)}"))
    yield clock, audit, factory, platform, worker
    db.close()


def enqueue(factory: SqlUnitOfWorkFactory, *messages: OutboundMessage) -> None:
    with factory() as uow:
        for message in messages:
            uow.outbox.enqueue(message)
        uow.commit()


def to(who: str, key: str, text: str, **fields: object) -> OutboundMessage:
    return OutboundMessage(key, fields.pop("kind", MessageKind.NOTICE), Destination.direct(UserRef.parse(f"console:{who}")),  # type: ignore[arg-type]
                           text, **fields)  # type: ignore[arg-type]


async def test_messages_arrive_in_order_per_recipient(world) -> None:
    clock, audit, factory, platform, worker = world
    enqueue(factory, to("alice", "a1", "one"), to("bob", "b1", "uno"), to("alice", "a2", "two"), to("alice", "a3", "three"))
    await worker.settle()
    alice = [text for who, text in platform.received if who == "console:alice"]
    assert alice == ["one", "two", "three"]
    assert len(platform.received) == 4


async def test_a_rate_limit_reschedules_only_that_recipient(world) -> None:
    clock, audit, factory, platform, worker = world
    platform.failures["console:alice"] = [RateLimited("429", retry_after=30)]
    enqueue(factory, to("alice", "a1", "one"), to("bob", "b1", "uno"))
    await worker.settle()
    assert platform.received == [("console:bob", "uno")]
    clock.advance(timedelta(seconds=29))
    await worker.settle()
    assert len(platform.received) == 1  # nothing inside the retry-after window
    clock.advance(timedelta(seconds=2))
    await worker.settle()
    assert platform.received[-1] == ("console:alice", "one")


async def test_a_delivery_that_cannot_be_made_is_told_to_the_originator_and_audited(world) -> None:
    clock, audit, factory, platform, worker = world
    item = make_item(originator="my-officer")
    with factory() as uow:
        uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
        uow.commit()
    platform.failures["console:th-npoc"] = [PermanentFailure("blocked")]
    enqueue(factory, to("th-npoc", "d1", "the alert", kind=MessageKind.DELIVERY, reference=str(item.reference),
                        contact="th-npoc"))
    await worker.settle()
    # The originator's direct chat: the item is AMBER+STRICT, and was typed in a shared room.
    assert not [who for who, _ in platform.received if who == str(item.origin_chat)]
    notice = [text for who, text in platform.received if who == "console:my-officer"]
    assert notice and "failed (blocked)" in notice[0]
    assert [e.action for e in audit.events] == [AuditAction.REFUSAL]
    with factory() as uow:
        record = uow.items.get(item.reference)
    assert record is not None and record.deliveries[0].state == "failed"


async def test_a_delivery_that_keeps_failing_is_told_to_the_coordinators_too(engine: Engine, sealer: AesGcmSealer) -> None:
    clock = ManualClock()
    audit = SharedAudit()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, audit), clock)
    platform = FakePlatform()
    keys = itertools.count(1)
    coordinators = [Destination.direct(UserRef.parse("console:rso-coord")),
                    Destination.direct(UserRef.parse("console:rso-deputy")),
                    Destination.direct(UserRef.parse("console:th-npoc"))]  # the failing chat: not used
    db = DatabaseThread()
    connectors = {Platform.CONSOLE: platform}
    worker = DeliveryWorker(db, factory, connectors, clock, lambda: f"k{next(keys)}",  # type: ignore[arg-type]
                            RetryPolicy(max_attempts=2, base=timedelta(seconds=2)), coordinators=lambda: coordinators,
                            tell_originator=originator_rows(FixedDirectory(small_network()),  # type: ignore[arg-type]
                                                            connectors, ENCRYPTED_ONLY, lambda: f"k{next(keys)}"))
    try:
        item = make_item(originator="my-officer")
        with factory() as uow:
            uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
            uow.commit()
        platform.failures["console:th-npoc"] = [TransientFailure("502"), TransientFailure("502")]
        enqueue(factory, to("th-npoc", "d1", "the alert", kind=MessageKind.DELIVERY, reference=str(item.reference),
                            contact="th-npoc"))
        await worker.settle()
        assert platform.received == []  # the first failure is retried later, nobody is told yet
        clock.advance(timedelta(seconds=3))
        await worker.settle()
        told = {who: text for who, text in platform.received}
        assert set(told) == {"console:my-officer", "console:rso-coord", "console:rso-deputy"}
        for coordinator in ("console:rso-coord", "console:rso-deputy"):
            assert f"Delivery of {item.reference} to th-npoc failed for good (502) after 2 attempts" in told[coordinator]
        assert [e.action for e in audit.events] == [AuditAction.REFUSAL]
        with factory() as uow:
            record = uow.items.get(item.reference)
            assert uow.outbox.depth() == 0
        assert record is not None and record.deliveries[0].state == "failed"
    finally:
        db.close()


async def test_a_failed_notice_is_not_surfaced_again(world) -> None:
    clock, audit, factory, platform, worker = world
    platform.failures["console:alice"] = [PermanentFailure("blocked")]
    enqueue(factory, to("alice", "n1", "a notice"))
    await worker.settle()
    assert platform.received == [] and audit.events == []
    with factory() as uow:
        assert uow.outbox.depth() == 0


async def test_transient_failures_back_off_then_give_up_after_the_maximum(world) -> None:
    clock, audit, factory, platform, worker = world
    platform.failures["console:alice"] = [TransientFailure("502")] * 5
    enqueue(factory, to("alice", "a1", "one"))
    for _ in range(5):
        await worker.settle()
        clock.advance(timedelta(minutes=5))
    assert platform.received == []
    assert len(platform.failures["console:alice"]) == 2  # three attempts made, then it stopped
    with factory() as uow:
        assert uow.outbox.depth() == 0


async def test_a_sent_delivery_is_recorded_with_its_platform_id_and_audited(world) -> None:
    clock, audit, factory, platform, worker = world
    item = make_item(originator="my-officer")
    with factory() as uow:
        uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
        uow.commit()
    enqueue(factory, to("th-npoc", "d1", "the alert", kind=MessageKind.DELIVERY, reference=str(item.reference),
                        contact="th-npoc"))
    await worker.settle()
    [event] = audit.events
    assert (event.action, event.recipients, event.reference) == (AuditAction.DELIVERY, ("th-npoc",), str(item.reference))
    assert event.detail["platform_message_id"] == "m1"
    with factory() as uow:
        record = uow.items.get(item.reference)
    assert record is not None and record.deliveries[0].state == "sent"
    assert record.deliveries[0].platform_message_id == "m1"
    with factory() as uow:
        assert uow.items.delivery_by_message("m1") == (item.reference, "th-npoc")
        assert uow.items.delivery_by_message("m2") is None


async def test_a_connector_bug_sets_that_row_aside_and_the_next_ones_go_on(engine: Engine, sealer: AesGcmSealer) -> None:
    clock, audit = ManualClock(), SharedAudit()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, audit), clock)
    platform = FakePlatform()
    keys = itertools.count(1)
    admins = [Destination.direct(UserRef.parse("console:rso-coord"))]
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: f"k{next(keys)}",
                            RetryPolicy(max_attempts=3), coordinators=lambda: admins)
    try:
        platform.failures["console:alice"] = [RuntimeError("bug")]
        enqueue(factory, to("alice", "a1", "one"), to("alice", "a2", "two"), to("bob", "b1", "uno"))
        await worker.settle()  # the clock never moves: nothing waits out a back-off
    finally:
        db.close()
    assert ("console:alice", "two") in platform.received and ("console:bob", "uno") in platform.received
    assert ("console:alice", "one") not in platform.received
    [told] = [text for who, text in platform.received if who == "console:rso-coord"]
    state, error = outbox_row(engine, "a1")
    assert state == "failed" and error is not None and error.startswith("set-aside:E-")
    assert error.removeprefix("set-aside:") in told and "RuntimeError" in told
    [recorded] = [e for e in audit.events if e.detail.get("event") == "set-aside"]  # in the audit log, once
    assert recorded.detail["error_ref"] == error.removeprefix("set-aside:") and "console:alice" in recorded.channel


def recorded_by(platform: FakePlatform) -> dict[MessageKind, Callable[[Outgoing], Awaitable[str]]]:
    """An actions table whose Operations are the fake's send: it records each action row as a text."""
    return {kind: platform.send for kind in PLATFORM_ACTIONS}


def outbox_row(engine: Engine, key: str) -> tuple[str, str | None]:
    from sqlalchemy import select

    from storage.tables import outbox

    with engine.connect() as conn:
        row = conn.execute(select(outbox.c.state, outbox.c.last_error).where(outbox.c.key == key)).one()
    return row.state, row.last_error


async def test_an_unreadable_row_is_set_aside_once_while_every_other_row_is_delivered(
        engine: Engine, sealer: AesGcmSealer) -> None:
    from sqlalchemy import update

    from storage.tables import outbox

    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    platform = FakePlatform()
    keys = itertools.count(1)
    admins = [Destination.direct(UserRef.parse("console:rso-coord"))]
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: f"k{next(keys)}",
                            RetryPolicy(max_attempts=3), coordinators=lambda: admins)
    try:
        enqueue(factory, to("alice", "a1", "one"), to("bob", "b1", "uno"), to("alice", "a2", "two"))
        with engine.begin() as conn:  # written straight into the database: it does not unseal
            conn.execute(update(outbox).where(outbox.c.key == "a1").values(content=b"not a sealed blob"))
        await worker.settle()
        await worker.settle()  # asked again: the row is not leased or reported a second time
    finally:
        db.close()
    delivered = [(who, text) for who, text in platform.received if who != "console:rso-coord"]
    assert sorted(delivered) == [("console:alice", "two"), ("console:bob", "uno")]
    [told] = [text for who, text in platform.received if who == "console:rso-coord"]
    state, error = outbox_row(engine, "a1")
    assert state == "failed" and error is not None and error.startswith("set-aside:E-")
    assert error.removeprefix("set-aside:") in told


class Gated(FakePlatform):
    """Sends to the people in `held` wait for `gate`; `flight` counts the sends under way."""

    def __init__(self, held: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        super().__init__()
        self.held = held
        self.gate = asyncio.Event()
        self.flight = 0
        self.most_in_flight = 0
        self.connected = True

    async def send(self, message: Outgoing) -> str:
        if not self.connected:
            raise NotConnected("not-connected", "console")
        self.flight += 1
        self.most_in_flight = max(self.most_in_flight, self.flight)
        try:
            who = str(message.destination.address)
            if who in self.held:
                await self.gate.wait()
            for _ in range(len(message.key) % 4):  # uneven send lengths: completions interleave
                await asyncio.sleep(0)
            return await super().send(message)
        finally:
            self.flight -= 1


async def until(condition, what: str) -> None:  # noqa: ANN001 - a guard against hanging, not a timing
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.005)

    try:
        await asyncio.wait_for(poll(), timeout=20)
    except asyncio.TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


def running(worker: DeliveryWorker) -> tuple[asyncio.Event, asyncio.Task]:
    stop = asyncio.Event()
    return stop, asyncio.create_task(worker.run(stop, idle=0.05))


async def test_order_per_recipient_is_kept_while_recipients_are_sent_to_concurrently(
        engine: Engine, sealer: AesGcmSealer) -> None:
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    platform = Gated()
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: "k", concurrency=3)
    people = ["p0", "p1", "p2", "p3", "p4"]
    messages = [to(who, f"{who}-{n:0{n % 3 + 1}d}", f"{who} {n}") for n in range(6) for who in people]
    enqueue(factory, *messages)
    stop, task = running(worker)
    try:
        await until(lambda: len(platform.received) == len(messages), "every message delivered")
    finally:
        stop.set()
        await task
        db.close()
    for who in people:
        assert [text for w, text in platform.received if w == f"console:{who}"] == [f"{who} {n}" for n in range(6)]
    assert len(platform.received) == len(set(platform.received))
    assert 1 < platform.most_in_flight <= 3


async def test_a_slow_destination_does_not_hold_the_others(engine: Engine, sealer: AesGcmSealer) -> None:
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    platform = Gated(held={"console:slow"})
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: "k", concurrency=4)
    enqueue(factory, to("slow", "s1", "first"), to("alice", "a1", "one"), to("slow", "s2", "second"),
            to("alice", "a2", "two"), to("alice", "a3", "three"), to("bob", "b1", "uno"))
    stop, task = running(worker)
    try:
        await until(lambda: len(platform.received) == 4, "alice's and bob's messages delivered")
        assert not any(who == "console:slow" for who, _ in platform.received)
        platform.gate.set()
        await until(lambda: len(platform.received) == 6, "the slow destination's messages delivered")
    finally:
        platform.gate.set()
        stop.set()
        await task
        db.close()
    assert [text for who, text in platform.received if who == "console:alice"] == ["one", "two", "three"]
    assert [text for who, text in platform.received if who == "console:slow"] == ["first", "second"]


async def test_not_connected_is_waited_for_without_back_off_and_sent_as_soon_as_connected(
        engine: Engine, sealer: AesGcmSealer) -> None:
    clock = ManualClock()  # never advanced: a back-off would keep the rows forever
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    platform = Gated()
    platform.connected = False
    attempts: list[int] = []
    sent = platform.send

    async def send(message: Outgoing) -> str:
        attempts.append(message.attempt)
        return await sent(message)

    platform.send = send  # type: ignore[method-assign]
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: "k",
                            RetryPolicy(max_attempts=2))
    enqueue(factory, to("alice", "a1", "one"), to("alice", "a2", "two"), to("bob", "b1", "uno"))
    try:
        for _ in range(5):  # more tries than max_attempts: waiting uses none of them
            await worker.settle()
        assert platform.received == []
        with factory() as uow:
            assert uow.outbox.depth() == 3
        assert outbox_row(engine, "a1") == ("pending", None)
        stop, task = running(worker)
        try:
            platform.connected = True
            await until(lambda: len(platform.received) == 3, "everything sent once connected")
        finally:
            stop.set()
            await task
    finally:
        db.close()
    assert [text for who, text in platform.received if who == "console:alice"] == ["one", "two"]
    assert attempts[-3:] == [1, 1, 1]


async def test_stopping_the_worker_finishes_the_sends_in_flight(engine: Engine, sealer: AesGcmSealer) -> None:
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    platform = Gated(held={"console:alice"})
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: "k")
    enqueue(factory, to("alice", "a1", "one"))
    stop, task = running(worker)
    try:
        await until(lambda: platform.flight == 1, "the send under way")
        stop.set()
        platform.gate.set()
        await task
        assert outbox_row(engine, "a1")[0] == "sent"
    finally:
        db.close()


def test_backoff_doubles_and_honours_retry_after() -> None:
    policy = RetryPolicy(base=timedelta(seconds=2), cap=timedelta(seconds=60))
    assert [policy.delay(n, None).total_seconds() for n in (1, 2, 3, 10)] == [2, 4, 8, 60]
    assert policy.delay(1, 17.5) == timedelta(seconds=17.5)
    assert not PlatformError("x").retryable and RateLimited("x").retryable


async def test_rate_limits_never_use_up_the_attempts(world) -> None:
    clock, audit, factory, platform, worker = world
    platform.failures["console:alice"] = [RateLimited("429", retry_after=1)] * 6  # max_attempts is 3
    enqueue(factory, to("alice", "a1", "one"))
    for _ in range(7):
        await worker.settle()
        clock.advance(timedelta(seconds=2))
    assert platform.received == [("console:alice", "one")]


async def test_a_send_that_hangs_is_abandoned_before_its_lease_ends_and_retried_with_its_key(engine, sealer) -> None:
    class Hanging(FakePlatform):
        def __init__(self) -> None:
            super().__init__()
            self.calls: list[str] = []

        async def send(self, message: Outgoing) -> str:
            self.calls.append(message.key)
            if len(self.calls) == 1:
                await asyncio.sleep(60)
            return await super().send(message)

    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    platform = Hanging()
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: "k",
                            RetryPolicy(lease=timedelta(seconds=0.2), base=timedelta(seconds=1)))
    try:
        enqueue(factory, to("alice", "a1", "one"))
        await worker.settle()
        clock.advance(timedelta(seconds=2))
        await worker.settle()
    finally:
        db.close()
    assert platform.calls == ["a1", "a1"]
    assert platform.received == [("console:alice", "one")]


async def test_sends_that_end_together_are_recorded_together_and_a_row_that_cannot_be_recorded_fails_alone(
        engine: Engine, sealer: AesGcmSealer) -> None:
    from sqlalchemy import delete

    from storage.tables import outbox

    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    people = [f"p{n}" for n in range(8)]
    platform = Gated(held={f"console:{who}" for who in people})
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: "k", concurrency=8)
    transactions: list[int] = []  # rows per transaction that records sends
    write = worker._write_sent

    def counted(sent: list, *lease: object) -> tuple:  # type: ignore[type-arg]
        transactions.append(len(sent))
        return write(sent, *lease)  # type: ignore[arg-type]

    worker._write_sent = counted  # type: ignore[method-assign]
    enqueue(factory, *(to(who, f"{who}-1", f"to {who}") for who in people), to("p0", "p0-2", "again"))
    stop, task = running(worker)
    try:
        await until(lambda: platform.flight == 8, "every send under way")
        with engine.begin() as conn:  # p3's row goes while its send is under way: it cannot be marked sent
            conn.execute(delete(outbox).where(outbox.c.key == "p3-1"))
        platform.gate.set()
        await until(lambda: len(platform.received) == 9, "every send made")
        await until(lambda: all(outbox_row(engine, f"{who}-1")[0] == "sent" for who in people if who != "p3")
                    and outbox_row(engine, "p0-2")[0] == "sent", "the others recorded as sent")
    finally:
        platform.gate.set()
        stop.set()
        await task
        db.close()
    assert max(transactions) > 1  # sends that ended together shared a transaction
    assert sum(transactions) > 9  # the batch with p3 failed, and was recorded again row by row


@pytest.mark.parametrize("wired", [True, False], ids=["with the directory", "without"])
async def test_a_failure_notice_about_a_red_item_typed_in_a_room_never_goes_to_that_room(
        engine: Engine, sealer: AesGcmSealer, wired: bool) -> None:
    clock, audit, keys = ManualClock(), SharedAudit(), itertools.count(1)
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, audit), clock)
    platform = FakePlatform()
    connectors = {Platform.CONSOLE: platform}
    coordinators = [Destination.direct(UserRef.parse("console:rso-coord"))]
    tell = originator_rows(FixedDirectory(small_network()), connectors, ENCRYPTED_ONLY,  # type: ignore[arg-type]
                           lambda: f"t{next(keys)}")
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, connectors, clock, lambda: f"k{next(keys)}",  # type: ignore[arg-type]
                            RetryPolicy(max_attempts=3, base=timedelta(seconds=2)), coordinators=lambda: coordinators,
                            **({"tell_originator": tell} if wired else {}))
    try:
        item = make_item(originator="my-officer", caveat=Caveat(Tlp.RED))  # typed in console:#network
        with factory() as uow:
            uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
            uow.commit()
        platform.failures["console:th-npoc"] = [PermanentFailure("blocked")]
        enqueue(factory, to("th-npoc", "d1", "the alert", kind=MessageKind.DELIVERY, reference=str(item.reference),
                            contact="th-npoc"))
        await worker.settle()
        told = [who for who, _ in platform.received]
        assert str(item.origin_chat) not in told
        assert "console:rso-coord" in told  # never silent: the coordinators hear of it either way
        assert ("console:my-officer" in told) is wired
    finally:
        db.close()


async def test_failure_notices_about_a_red_item_reach_telegram_first_people_only_where_they_may(
        engine: Engine, sealer: AesGcmSealer) -> None:
    """The originator and the coordinator are on Telegram first: the facts go to their console chats,
    and Telegram gets only content-free notices (alerts.routing_places.direct_place, as routing does)."""
    clock, audit, keys = ManualClock(), SharedAudit(), itertools.count(1)
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, audit), clock)
    console, telegram = FakePlatform(), FakePlatform()
    telegram.platform = Platform.TELEGRAM  # type: ignore[misc]
    connectors = {Platform.CONSOLE: console, Platform.TELEGRAM: telegram}
    base = small_network()
    first = {"my-officer": UserRef.parse("telegram:user:77"), "rso-coord": UserRef.parse("telegram:user:78")}
    contacts = [replace(c, identities=(first[c.id], *c.identities)) if c.id in first else c
                for c in base.contacts.values()]
    directory = FixedDirectory(Directory.build(base.organisations.values(), contacts, base.rooms))
    key = lambda: f"k{next(keys)}"  # noqa: E731
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, connectors, clock, key,  # type: ignore[arg-type]
                            RetryPolicy(max_attempts=3, base=timedelta(seconds=2)),
                            tell_originator=originator_rows(directory, connectors, ENCRYPTED_ONLY, key),  # type: ignore[arg-type]
                            tell_coordinators=coordinator_rows(directory, connectors, ENCRYPTED_ONLY, key))  # type: ignore[arg-type]
    try:
        item = make_item(originator="my-officer", caveat=Caveat(Tlp.RED))
        with factory() as uow:
            uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
            uow.commit()
        console.failures["console:th-npoc"] = [PermanentFailure("blocked")]
        enqueue(factory, to("th-npoc", "d1", "the alert", kind=MessageKind.DELIVERY, reference=str(item.reference),
                            contact="th-npoc"))
        await worker.settle()
        facts = {who: text for who, text in console.received}
        assert "failed (blocked)" in facts["console:my-officer"]
        assert "failed for good (blocked)" in facts["console:rso-coord"]
        assert str(item.origin_chat) not in facts
        assert sorted(who for who, _ in telegram.received) == ["telegram:user:77", "telegram:user:78"]
        for _, text in telegram.received:
            assert text.startswith(f"A message for you about {item.reference} (TLP:RED) awaits you on the console")
            assert "th-npoc" not in text and "failed" not in text
    finally:
        db.close()


class OutboxSpy:
    """Wraps a unit of work's outbox: what each committed transaction marked sent and leased."""

    def __init__(self, outbox, ops: list[tuple[str, str]]) -> None:  # noqa: ANN001 - a SqlOutbox
        self._outbox = outbox
        self._ops = ops

    def __getattr__(self, name: str) -> object:
        return getattr(self._outbox, name)

    def mark_sent(self, key: str, *args: object, **kwargs: object) -> None:
        self._ops.append(("sent", key))
        self._outbox.mark_sent(key, *args, **kwargs)

    def lease(self, *args: object, **kwargs: object) -> list:  # type: ignore[type-arg]
        rows = self._outbox.lease(*args, **kwargs)
        self._ops.extend(("leased", row.key) for row in rows)
        return rows


class CommitLog:
    """A unit-of-work factory that notes, per commit, the outbox rows marked sent and leased in it."""

    def __init__(self, factory: SqlUnitOfWorkFactory) -> None:
        self._factory = factory
        self.commits: list[list[tuple[str, str]]] = []

    def __call__(self, **kwargs: object):  # noqa: ANN204 - a context manager over a unit of work
        log = self

        class Spied:
            def __enter__(self):  # noqa: ANN204
                self._inner = log._factory(**kwargs)
                uow = self._inner.__enter__()
                ops: list[tuple[str, str]] = []
                uow.outbox = OutboxSpy(uow.outbox, ops)
                commit = uow.commit

                def counted_commit() -> None:
                    commit()
                    log.commits.append(ops[:])
                    ops.clear()

                uow.commit = counted_commit
                return uow

            def __exit__(self, *exc: object) -> object:
                return self._inner.__exit__(*exc)

        return Spied()


async def test_a_send_is_recorded_in_the_transaction_that_leases_its_destinations_next_row(
        engine: Engine, sealer: AesGcmSealer) -> None:
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    commits = CommitLog(factory)
    platform = Gated()
    db = DatabaseThread()
    worker = DeliveryWorker(db, commits, {Platform.CONSOLE: platform}, clock, lambda: "k")  # type: ignore[arg-type]
    enqueue(factory, to("alice", "a1", "one"), to("alice", "a2", "two"), to("alice", "a3", "three"))
    stop, task = running(worker)
    try:
        await until(lambda: outbox_row(engine, "a3")[0] == "sent", "every message recorded as sent")
    finally:
        stop.set()
        await task
        db.close()
    assert [text for _, text in platform.received] == ["one", "two", "three"]
    busy = [ops for ops in commits.commits if ops]
    assert busy[0] == [("leased", "a1")]
    assert [("sent", "a1"), ("leased", "a2")] in busy  # one commit per step, not a record then a lease
    assert [("sent", "a2"), ("leased", "a3")] in busy
    assert [("sent", "a3")] in busy
    assert len(busy) == 4


async def test_a_worker_asked_to_stop_records_its_last_sends_without_leasing_more(
        engine: Engine, sealer: AesGcmSealer) -> None:
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    platform = Gated(held={"console:alice"})
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: "k")
    enqueue(factory, to("alice", "a1", "one"), to("alice", "a2", "two"))
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop, idle=5))  # the stop is seen on the send's end, not on a poll
    try:
        await until(lambda: platform.flight == 1, "the first send under way")
        stop.set()
        platform.gate.set()
        await task
    finally:
        db.close()
    assert platform.received == [("console:alice", "one")]
    assert outbox_row(engine, "a1")[0] == "sent"
    assert outbox_row(engine, "a2")[0] == "pending"  # untouched, for whoever runs next


async def test_rows_leased_by_a_record_written_as_the_worker_stops_go_back_untried(
        engine: Engine, sealer: AesGcmSealer) -> None:
    from sqlalchemy import select

    from storage.tables import outbox

    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    platform = Gated()
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: "k")
    enqueue(factory, to("alice", "a1", "one"), to("alice", "a2", "two"))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    write = worker._write_sent

    def stopped_meanwhile(sent: list, *lease: object) -> tuple:  # type: ignore[type-arg]
        leased = write(sent, *lease)  # type: ignore[arg-type]
        loop.call_soon_threadsafe(stop.set)  # the stop comes while the transaction commits
        return leased

    worker._write_sent = stopped_meanwhile  # type: ignore[method-assign]
    task = asyncio.create_task(worker.run(stop, idle=5))
    try:
        await task
    finally:
        db.close()
    assert platform.received == [("console:alice", "one")]
    with engine.connect() as conn:
        state, attempts = conn.execute(select(outbox.c.state, outbox.c.attempts).where(outbox.c.key == "a2")).one()
    assert (state, attempts) == ("pending", 0)  # handed back at once, the attempt not counted


async def test_a_copy_that_lands_after_its_item_was_withdrawn_is_taken_back(engine: Engine, sealer: AesGcmSealer) -> None:
    """The withdrawal cancelled the copy while its send was in flight; the send landed after all: the
    worker plans its removal and the line its reader is told, as the withdrawal did for the others."""
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    item = make_item(originator="my-officer")
    reference = str(item.reference)

    class WithdrawnMidSend(FakePlatform):
        async def send(self, message: Outgoing) -> str:
            if message.kind is MessageKind.DELIVERY:
                with factory() as uow:  # /withdraw commits while the send is on its way
                    uow.items.withdraw(Reference.parse(reference), Withdrawal(clock.now(), "my-officer", "wrong"))
                    assert uow.outbox.cancel(reference, CANCELLED_KINDS, CANCELLED) == Cancelled(("d1",), frozenset({"d1"}))
                    uow.commit()
            return await super().send(message)

    platform = WithdrawnMidSend()
    db = DatabaseThread()
    keys = itertools.count(1)
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: f"k{next(keys)}",  # type: ignore[arg-type]
                            withdrawn_copy=lambda record, delivery: withdrawn_copy(record, delivery, small_network(),
                                                                                   clock.now()),
                            actions=recorded_by(platform))
    try:
        with factory() as uow:
            uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
            uow.outbox.enqueue(to("th-npoc", "d1", "the alert", kind=MessageKind.DELIVERY, reference=reference))
            uow.commit()
        await worker.settle()
    finally:
        db.close()
    with engine.connect() as connection:
        rows = connection.execute(outbox.select().order_by(outbox.c.id)).all()
    assert [(r.kind, r.state) for r in rows] == [("delivery", "sent"), ("removal", "sent"), ("notice", "sent")]
    removal = Removal.from_json(platform.received[1][1])
    assert (removal.message_id, removal.reference) == ("m1", reference)
    assert "was withdrawn by My Officer (Malaysia)" in platform.received[2][1]


@pytest.mark.parametrize("platform_kind", [Platform.CONSOLE, Platform.MATRIX])
@pytest.mark.parametrize("edited", [True, False], ids=["edit-failed", "message-unknown"])
async def test_a_line_about_a_superseded_copy_that_lands_after_the_withdrawal_is_taken_back(
        engine: Engine, sealer: AesGcmSealer, platform_kind: Platform, edited: bool) -> None:
    """The line told in place of a superseded copy's edit was in flight when the item was withdrawn:
    the withdrawal cancelled it (never sent, it thought); the send landed after all. The worker plans
    its removal as it records the send, as the withdrawal did for a line sent before it; nothing is
    told (its chat was told with the copy it followed). On Matrix the removal is the redaction of the
    line's event in the reader's direct chat."""
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    item = make_item(originator="my-officer")
    reference = str(item.reference)
    reader = UserRef.parse("matrix:@th-npoc:example.org" if platform_kind is Platform.MATRIX else "console:th-npoc")
    chat = Destination.direct(reader)
    key = (notice_key(chat, "m0", 2) if edited else unknown_copy_line_key(reference, 1, chat))

    class WithdrawnMidSend(FakePlatform):
        async def send(self, message: Outgoing) -> str:
            if message.key == key:
                with factory() as uow:  # /withdraw commits while the line is on its way
                    uow.items.withdraw(Reference.parse(reference), Withdrawal(clock.now(), "my-officer", "wrong"))
                    assert uow.outbox.cancel(reference, {MessageKind.NOTICE}, CANCELLED, only={key}) == Cancelled(
                        (key,), frozenset({key}))
                    uow.commit()
            return await super().send(message)

    platform = WithdrawnMidSend()
    platform.platform = platform_kind  # type: ignore[misc]
    db = DatabaseThread()
    keys = itertools.count(1)
    worker = DeliveryWorker(db, factory, {platform_kind: platform}, clock, lambda: f"k{next(keys)}",  # type: ignore[arg-type]
                            withdrawn_line=lambda record, line: withdrawn_line(record, line, small_network(),
                                                                               clock.now()),
                            actions=recorded_by(platform))
    try:
        with factory() as uow:
            uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
            uow.outbox.enqueue(OutboundMessage(key, MessageKind.NOTICE, chat, "rev 1 is superseded",
                                               reference=reference, contact="th-npoc"))
            uow.commit()
        await worker.settle()
    finally:
        db.close()
    with engine.connect() as connection:
        rows = connection.execute(outbox.select().order_by(outbox.c.id)).all()
    assert [(r.kind, r.state) for r in rows] == [("notice", "sent"), ("removal", "sent")]
    removal = Removal.from_json(platform.received[1][1])
    assert (removal.message_id, removal.reference, removal.purpose) == ("m1", reference, WITHDRAWN_LINE)
    assert (removal.chat, removal.direct_with, removal.place) == (None, reader, chat)


async def test_a_row_whose_kind_is_an_action_goes_to_its_operation_on_any_connector_added_later(
        engine: Engine, sealer: AesGcmSealer) -> None:
    """bot/actions/: the worker hands an action row to its kind's Operation, never to the connector's
    send(); it is retried and recorded like a send; a connector added after the worker was made (as
    add_receiver adds Telegram) carries both its texts and its actions."""
    from sqlalchemy import select

    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    console, telegram = FakePlatform(), FakePlatform()
    telegram.platform = Platform.TELEGRAM  # type: ignore[misc]
    connectors: dict[Platform, FakePlatform] = {Platform.CONSOLE: console}
    carried: list[str] = []
    failures: list[Exception] = [TransientFailure("busy")]

    async def remove(message: Outgoing) -> str:
        if failures:
            raise failures.pop(0)
        carried.append(message.key)
        return f"removal:{message.key}"

    keys = itertools.count(1)
    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, connectors, clock, lambda: f"k{next(keys)}",  # type: ignore[arg-type]
                            RetryPolicy(max_attempts=3, base=timedelta(seconds=2)),
                            actions={MessageKind.REMOVAL: remove})
    try:
        enqueue(factory, to("alice", "r1", "{}", kind=MessageKind.REMOVAL), to("bob", "n1", "a notice"))
        await worker.settle()
        assert carried == [] and console.received == [("console:bob", "a notice")]
        assert outbox_row(engine, "r1") == ("pending", "busy")  # backed off as a failed send would be
        clock.advance(timedelta(seconds=5))
        await worker.settle()
        assert carried == ["r1"] and console.received == [("console:bob", "a notice")]

        connectors[Platform.TELEGRAM] = telegram
        carol = Destination.direct(UserRef.parse("telegram:user:77"))
        enqueue(factory, OutboundMessage("r2", MessageKind.REMOVAL, carol, "{}"),
                OutboundMessage("n2", MessageKind.NOTICE, carol, "hello"))
        await worker.settle()
        assert carried == ["r1", "r2"] and telegram.received == [("telegram:user:77", "hello")]
        with engine.connect() as conn:
            recorded = dict(conn.execute(select(outbox.c.key, outbox.c.platform_message_id)
                                         .where(outbox.c.state == "sent")).all())
        assert recorded["r1"] == "removal:r1" and recorded["r2"] == "removal:r2"
    finally:
        db.close()


async def test_an_action_row_whose_kind_has_no_operation_is_set_aside_never_posted(
        engine: Engine, sealer: AesGcmSealer, caplog: pytest.LogCaptureFixture) -> None:
    """Fail closed: a platform action nothing carries out (its kind missing from `actions`) is not
    handed to the connector as a text (its JSON posted in a chat), nor retried for ever: it is set
    aside as a row that cannot be read is, logged with an error reference, the coordinators told."""
    clock, audit = ManualClock(), SharedAudit()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, audit), clock)
    platform = FakePlatform()
    keys = itertools.count(1)
    admins = [Destination.direct(UserRef.parse("console:rso-coord"))]
    carried: list[str] = []

    async def remove(message: Outgoing) -> str:
        carried.append(message.key)
        return "removal:done"

    db = DatabaseThread()
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: f"k{next(keys)}",
                            RetryPolicy(max_attempts=3), coordinators=lambda: admins,
                            actions={MessageKind.REMOVAL: remove})
    try:
        enqueue(factory, to("alice", "m1", '{"secret": "json"}', kind=MessageKind.MEMBERSHIP),
                to("alice", "a2", "two"), to("bob", "r1", "{}", kind=MessageKind.REMOVAL))
        with caplog.at_level(logging.ERROR, logger="bot.runtime.delivery"):
            await worker.settle()
            await worker.settle()  # asked again: not leased or reported a second time
    finally:
        db.close()
    assert carried == ["r1"]
    assert [(who, text) for who, text in platform.received if who != "console:rso-coord"] == [("console:alice", "two")]
    [told] = [text for who, text in platform.received if who == "console:rso-coord"]
    state, error = outbox_row(engine, "m1")
    assert state == "failed" and error is not None and error.startswith("set-aside:E-")
    ref = error.removeprefix("set-aside:")
    assert ref in told and "membership" in told and "secret" not in told
    [logged] = [r.getMessage() for r in caplog.records if "m1" in r.getMessage()]
    assert ref in logged and "secret" not in logged
    [recorded] = [e for e in audit.events if e.detail.get("event") == "set-aside"]
    assert recorded.detail["error_ref"] == ref and recorded.detail["kind"] == "membership"


@pytest.mark.parametrize("stays", [True, False])
async def test_a_copy_that_lands_after_its_item_was_corrected_is_marked_superseded(
        engine: Engine, sealer: AesGcmSealer, stays: bool) -> None:
    """The correction cancelled the rev 1 copy while its send was in flight, so planned nothing for it;
    the send landed after all: the worker records it and plans what the correction plans for a
    delivered copy, in the transaction of its send: its edit to say it is superseded (its reader gets
    rev 2), or its removal and one line (rev 2 no longer goes to them). Planned twice, it is made once."""
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    item = make_item(originator="my-officer")
    reference = str(item.reference)
    revised = replace(item, revision=2, revised_at=clock.now())

    class CorrectedMidSend(FakePlatform):
        async def send(self, message: Outgoing) -> str:
            if message.key == "d1":
                with factory() as uow:  # /correct commits while the send is on its way (send_revision)
                    assert uow.outbox.cancel(reference, CANCELLED_KINDS, SUPERSEDED) == Cancelled(("d1",), frozenset({"d1"}))
                    uow.items.revise(revised, make_route("th-npoc" if stays else "my-npoc"), {
                        "th-npoc" if stays else "my-npoc": "d2"}, clock.now())
                    uow.commit()
            return await super().send(message)

    platform = CorrectedMidSend()
    db = DatabaseThread()
    keys = itertools.count(1)
    planned: list[list[OutboundMessage]] = []

    def late(record, revision, delivery, banner, protect):  # type: ignore[no-untyped-def]
        planned.append(late_copy(record, revision, delivery, banner, protect, small_network(), clock.now()))
        return planned[-1] * 2  # planned again (a repeat): its keys make it once

    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: f"k{next(keys)}",  # type: ignore[arg-type]
                            late_copy=late, actions=recorded_by(platform))
    try:
        with factory() as uow:
            uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
            uow.outbox.enqueue(to("th-npoc", "d1", "[TLP:AMBER] document-fraud · from Malaysia\nthe alert",
                                  kind=MessageKind.DELIVERY, reference=reference))
            uow.commit()
        await worker.settle()
    finally:
        db.close()
    with engine.connect() as connection:
        rows = connection.execute(outbox.select().order_by(outbox.c.id)).all()
    with factory() as uow:
        [(revision, copy)] = uow.items.earlier_deliveries(item.reference)
    assert (revision, copy.state, copy.platform_message_id) == (1, "sent", "m1")  # recorded, not left "queued"
    if stays:
        assert [(r.kind, r.state) for r in rows] == [("delivery", "sent"), ("supersede", "sent")]
        mark = Supersession.from_json(platform.received[1][1])
        assert (mark.message_id, mark.revision, mark.contact) == ("m1", 2, "th-npoc")
        assert mark.text == (f"Superseded by {reference} rev 2 — see the new copy\n"
                             "[TLP:AMBER] document-fraud · from Malaysia")
        assert mark.notice.startswith(f"[TLP:AMBER+STRICT] {reference} rev 1 is superseded by {reference} rev 2")
    else:
        assert [(r.kind, r.state) for r in rows] == [("delivery", "sent"), ("removal", "sent"), ("notice", "sent")]
        assert Removal.from_json(platform.received[1][1]).message_id == "m1"
        assert f"corrected as {reference} rev 2, which no longer goes to you" in platform.received[2][1]
    assert len(planned) == 1


@pytest.mark.parametrize("error", [PermanentFailure("bad-request"), RuntimeError("connector bug")],
                         ids=["refused", "set-aside"])
@pytest.mark.parametrize("fate", ["stays", "left-out", "withdrawn"])
async def test_a_copy_corrected_mid_send_whose_photo_went_has_the_photo_marked_or_taken_back(
        engine: Engine, sealer: AesGcmSealer, error: Exception, fate: str) -> None:
    """The correction cancelled the rev 1 copy while it was being sent; its photo reached the reader,
    then its text failed. Nobody must act on that photo as current: it is marked superseded (its reader
    gets rev 2), or taken back (rev 2 leaves them out, or the item was withdrawn since), as a copy that
    landed late is, and the earlier copy is known by the photo. Nobody is told a delivery failed."""
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    item = make_item(originator="my-officer")
    reference = str(item.reference)
    revised = replace(item, revision=2, revised_at=clock.now())
    reader = "th-npoc" if fate == "stays" else "my-npoc"

    class CorrectedMidSend(FakePlatform):
        async def send(self, message: Outgoing) -> str:
            if message.key != "d1":
                return await super().send(message)
            with factory() as uow:  # the photo goes, then /correct commits, then the text fails
                uow.outbox.record_parts(message.key, ["m-photo"])
                uow.outbox.cancel(reference, CANCELLED_KINDS, SUPERSEDED)
                uow.items.revise(revised, make_route(reader), {reader: "d2"}, clock.now())
                if fate == "withdrawn":
                    uow.items.withdraw(Reference.parse(reference), Withdrawal(clock.now(), "my-officer", "wrong"))
                uow.commit()
            raise error

    platform = CorrectedMidSend()
    db = DatabaseThread()
    keys = itertools.count(1)
    worker = DeliveryWorker(db, factory, {Platform.CONSOLE: platform}, clock, lambda: f"k{next(keys)}",  # type: ignore[arg-type]
                            late_copy=lambda record, revision, delivery, banner, protect: late_copy(
                                record, revision, delivery, banner, protect, small_network(), clock.now()),
                            actions=recorded_by(platform))
    try:
        with factory() as uow:
            uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
            uow.outbox.enqueue(to("th-npoc", "d1", "[TLP:AMBER] document-fraud · from Malaysia\nthe alert",
                                  kind=MessageKind.DELIVERY, reference=reference))
            uow.commit()
        await worker.settle()
    finally:
        db.close()
    with engine.connect() as connection:
        rows = connection.execute(outbox.select().order_by(outbox.c.id)).all()
    with factory() as uow:
        [(revision, copy)] = uow.items.earlier_deliveries(item.reference)
    assert (revision, copy.state, copy.platform_message_id) == (1, "failed", "m-photo")  # /withdraw finds it
    assert (rows[0].key, rows[0].state, rows[0].last_error) == ("d1", "failed", SUPERSEDED)
    later = [(r.kind, r.state) for r in rows[1:]]
    if fate == "stays":
        assert later == [("supersede", "sent")]
        mark = Supersession.from_json(platform.received[0][1])
        assert (mark.message_id, mark.revision, mark.contact) == ("m-photo", 2, "th-npoc")
        assert mark.text == (f"Superseded by {reference} rev 2 — see the new copy\n"
                             "[TLP:AMBER] document-fraud · from Malaysia")
        return
    assert later == [("removal", "sent"), ("notice", "sent")]
    assert Removal.from_json(platform.received[0][1]).message_id == "m-photo"
    told = platform.received[1][1]
    assert ("was withdrawn" if fate == "withdrawn" else "which no longer goes to you") in told
    assert not any("failed" in text for _, text in platform.received)


@pytest.mark.parametrize("error", [TransientFailure("bad-gateway"), PermanentFailure("bad-request")],
                         ids=["temporary", "for-good"])
@pytest.mark.parametrize("partly", [False, True], ids=["nothing-went", "photo-went"])
async def test_a_copy_cancelled_while_its_send_was_in_flight_is_never_sent_later(
        engine: Engine, sealer: AesGcmSealer, error: PlatformError, partly: bool) -> None:
    """/withdraw cancelled the copy while its send was in flight, and the send then failed: the row stays
    cancelled (never back in line, sent later and then taken back), nobody is told a delivery failed,
    and what of it reached its reader before (a photo) is taken back as the withdrawal takes back the rest."""
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    item = make_item(originator="my-officer")
    reference = str(item.reference)
    calls: list[str] = []

    class WithdrawnMidSend(FakePlatform):
        async def send(self, message: Outgoing) -> str:
            if message.kind is not MessageKind.DELIVERY:
                return await super().send(message)
            calls.append(message.key)
            if len(calls) == 1:
                with factory() as uow:  # part of it goes, then /withdraw commits, then the send fails
                    if partly:
                        uow.outbox.record_parts(message.key, ["m-photo"])
                    uow.items.withdraw(Reference.parse(reference), Withdrawal(clock.now(), "my-officer", "wrong"))
                    assert uow.outbox.cancel(reference, CANCELLED_KINDS, CANCELLED).in_flight == {"d1"}
                    uow.commit()
                raise error
            return await super().send(message)

    platform = WithdrawnMidSend()
    db = DatabaseThread()
    keys = itertools.count(1)
    connectors = {Platform.CONSOLE: platform}
    worker = DeliveryWorker(db, factory, connectors, clock, lambda: f"k{next(keys)}",  # type: ignore[arg-type]
                            tell_originator=originator_rows(FixedDirectory(small_network()),  # type: ignore[arg-type]
                                                            connectors, ENCRYPTED_ONLY, lambda: f"k{next(keys)}"),
                            withdrawn_copy=lambda record, delivery: withdrawn_copy(record, delivery, small_network(),
                                                                                   clock.now()),
                            actions=recorded_by(platform))
    try:
        with factory() as uow:
            uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
            uow.outbox.enqueue(to("th-npoc", "d1", "the alert", kind=MessageKind.DELIVERY, reference=reference))
            uow.commit()
        await worker.settle()
        clock.advance(timedelta(hours=1))  # any retry would be due by now
        await worker.settle()
    finally:
        db.close()
    assert calls == ["d1"]  # sent once, never again
    with engine.connect() as connection:
        rows = connection.execute(outbox.select().order_by(outbox.c.id)).all()
    assert (rows[0].key, rows[0].state, rows[0].last_error) == ("d1", "failed", CANCELLED)
    later = [(r.kind, r.state) for r in rows[1:]]
    if not partly:
        assert later == []  # nothing to take back, and no "delivery failed" to tell
        return
    assert rows[0].platform_message_id == "m-photo"
    assert later == [("removal", "sent"), ("notice", "sent")]
    removal = Removal.from_json(platform.received[0][1])
    assert (removal.message_id, removal.reference) == ("m-photo", reference)
