"""/withdraw, /correct and the delivery worker's record of a send take turns on the item (PostgreSQL).

/withdraw (and /correct, likewise) reads the item's copies, then cancels the unsent ones and plans the
removal (or the supersede edit) of the delivered ones. A send recorded between that read and the cancel would be
planned for by neither side: the command saw the copy unsent, and the worker saw the item not yet
withdrawn. Both lock the item first, so the one that goes second sees what the first did. SQLite's
BEGIN IMMEDIATE already makes writers take turns, so this runs on PostgreSQL only.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, func, select, text, update

from alerts.clock import ManualClock
from alerts.due import DuePolicy
from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import InboundMessage, MessageKind
from alerts.items import Selector, SelectorKind
from bot.connectors.base import Outgoing
from bot.runtime.dbthread import DatabaseThread
from bot.runtime.delivery import DeliveryWorker
from handlers.context import CommandContext
from handlers.correction import correct, late_copy
from handlers.parse_items import parse_correct
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from handlers.withdrawal import withdraw, withdrawn_copy
from storage.sealing import AesGcmSealer
from storage.tables import outbox
from storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory
from tests.bot.test_delivery_worker import SharedAudit, to
from tests.sample_network import small_network
from tests.storage.builders import make_item, make_route, sealing

WAIT = 10.0  # seconds: a bound on a wait that should end at once, never a timing asserted


class HeldCommit:
    """A unit-of-work factory whose first commit waits, its transaction open and its locks held,
    until `go` is set; `holding` is set when it starts waiting."""

    def __init__(self, factory: SqlUnitOfWorkFactory) -> None:
        self._factory = factory
        self.holding, self.go = threading.Event(), threading.Event()

    def __call__(self, **kwargs: bool) -> SqlUnitOfWork:
        uow = self._factory(**kwargs)
        commit = uow.commit

        def held() -> None:
            self.holding.set()
            assert self.go.wait(WAIT)
            commit()

        uow.commit = held  # type: ignore[method-assign]
        return uow


def waiting_on_a_lock(engine: Engine) -> bool:
    """Some transaction of this database waits for a lock another holds (polled, up to WAIT)."""
    deadline = time.monotonic() + WAIT
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while time.monotonic() < deadline:
            if conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND wait_event_type = 'Lock'")).scalar():
                return True
            time.sleep(0.01)
    return False


def in_thread(run: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def body() -> None:
        try:
            run()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    thread = threading.Thread(target=body)
    thread.start()
    return thread, errors


@pytest.mark.parametrize("first", ["worker", "command"])
def test_a_send_recorded_while_withdraw_reads_the_copies_is_taken_back(engine: Engine, sealer: AesGcmSealer,
                                                                         first: str) -> None:
    """`worker` first: the worker records the send and holds its transaction open; /withdraw waits for
    it, then sees the copy delivered and plans its removal (without the lock it read the copy as unsent,
    found nothing left to cancel, and planned nothing; the worker saw the item not yet withdrawn).
    `command` first: /withdraw holds the item; the record of the send waits, then finds the item
    withdrawn and takes the copy back itself. Either way the copy is taken back once."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's BEGIN IMMEDIATE already makes writers take turns")
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    held = HeldCommit(factory)
    directory = small_network()
    item = make_item(originator="my-officer")
    reference = str(item.reference)
    copy = to("th-npoc", "d1", "the alert", kind=MessageKind.DELIVERY, reference=reference)
    with factory() as uow:
        uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
        uow.outbox.enqueue(copy)
        uow.commit()

    db = DatabaseThread()
    keys = itertools.count(1)
    worker = DeliveryWorker(db, held if first == "worker" else factory, {}, clock,  # type: ignore[arg-type]
                            lambda: f"k{next(keys)}",
                            withdrawn_copy=lambda record, delivery: withdrawn_copy(record, delivery, directory,
                                                                                   clock.now()))
    sent = Outgoing(copy.key, copy.kind, copy.destination, copy.text, copy.reference, copy.contact, False, None, 1)
    answers: list[str] = []

    def command() -> None:
        officer = directory.contacts["my-officer"]
        message = InboundMessage("e1", UserRef.parse("console:my-officer"), ChatRef.parse("console:@my-officer"),
                                 f"/withdraw {reference} wrong", clock.now())
        with (held if first == "command" else factory)() as uow:
            ctx = CommandContext(uow=uow, message=message, sender=officer, directory=directory, now=clock.now(),
                                 new_key=lambda: f"c{next(keys)}", platforms={Platform.CONSOLE})
            withdraw(ctx, item.reference, "wrong")
            uow.commit()
        answers.extend(ctx.answers)

    def record() -> None:
        worker._write_sent([(sent, "m1")])

    one, other = (record, command) if first == "worker" else (command, record)
    try:
        going_first, first_failed = in_thread(one)
        assert held.holding.wait(WAIT)  # its transaction done but open, the item locked
        going_second, second_failed = in_thread(other)
        assert waiting_on_a_lock(engine)  # the other waits for it
        held.go.set()
        going_first.join(WAIT)
        going_second.join(WAIT)
    finally:
        held.go.set()
        db.close()
    assert not first_failed and not second_failed, (first_failed, second_failed)
    with engine.connect() as conn:
        removals = conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.kind == MessageKind.REMOVAL.value)).scalar()
        state = conn.execute(select(outbox.c.state).where(outbox.c.key == "d1")).scalar()
    assert state == "sent"
    assert removals == 1  # the landed copy is taken back, once
    removed = "1 delivered copy" if first == "worker" else "0 delivered copies"  # else the worker took it back
    assert any(f"{removed} to be removed" in a for a in answers), answers


@pytest.mark.parametrize("first", ["worker", "command"])
def test_a_send_recorded_while_correct_reads_the_copies_is_marked_superseded(engine: Engine, sealer: AesGcmSealer,
                                                                              first: str) -> None:
    """The copy's send is in flight (leased). `worker` first: the worker records it sent and holds its
    transaction open; /correct waits for it, then sees the copy delivered and plans its supersede edit
    itself. `command` first: /correct holds the item and finds the send in flight (counted apart in its
    answer); the record of the send waits, then finds the copy an earlier revision's and plans the edit
    (late_copy). Either way the landed copy is marked superseded once."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's BEGIN IMMEDIATE already makes writers take turns")
    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    held = HeldCommit(factory)
    directory = small_network()
    item = make_item(originator="my-officer", recipients=(Selector(SelectorKind.PERSON, person="th-npoc"),))
    reference = str(item.reference)
    copy = to("th-npoc", "d1", "[TLP:AMBER+STRICT] the alert", kind=MessageKind.DELIVERY, reference=reference)
    with factory() as uow:
        uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
        uow.outbox.enqueue(copy)
        uow.commit()
    with engine.begin() as conn:  # handed to the worker: its send in flight
        conn.execute(update(outbox).where(outbox.c.key == "d1").values(state="sending", lease_until=clock.now()))

    db = DatabaseThread()
    keys = itertools.count(1)
    worker = DeliveryWorker(db, held if first == "worker" else factory, {}, clock,  # type: ignore[arg-type]
                            lambda: f"k{next(keys)}",
                            late_copy=lambda record, revision, delivery, banner, protect: late_copy(
                                record, revision, delivery, banner, protect, directory, clock.now()))
    sent = Outgoing(copy.key, copy.kind, copy.destination, copy.text, copy.reference, copy.contact, False, None, 1)
    answers: list[str] = []
    line = f"/correct {reference} Two travellers, flight XX124"

    def command() -> None:
        officer = directory.contacts["my-officer"]
        message = InboundMessage("e1", UserRef.parse("console:my-officer"), ChatRef.parse("console:@my-officer"),
                                 line, clock.now())
        parsed = parse_correct(line.removeprefix("/correct "), Vocabulary())
        with (held if first == "command" else factory)() as uow:
            ctx = CommandContext(uow=uow, message=message, sender=officer, directory=directory, now=clock.now(),
                                 new_key=lambda: f"c{next(keys)}", platforms={Platform.CONSOLE})
            correct(ctx, parsed, PostingPolicy(DuePolicy.default(), {}))
            uow.commit()
        answers.extend(ctx.answers)

    def record() -> None:
        worker._write_sent([(sent, "m1")])

    one, other = (record, command) if first == "worker" else (command, record)
    try:
        going_first, first_failed = in_thread(one)
        assert held.holding.wait(WAIT)  # its transaction done but open, the item locked
        going_second, second_failed = in_thread(other)
        assert waiting_on_a_lock(engine)  # the other waits for it
        held.go.set()
        going_first.join(WAIT)
        going_second.join(WAIT)
    finally:
        held.go.set()
        db.close()
    assert not first_failed and not second_failed, (first_failed, second_failed)
    with engine.connect() as conn:
        edits = conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.kind == MessageKind.SUPERSEDE.value)).scalar()
        state = conn.execute(select(outbox.c.state).where(outbox.c.key == "d1")).scalar()
    assert state == "sent"
    assert edits == 1  # the landed copy is marked superseded, once
    earlier = ("1 marked superseded, 0 taken back, 0 unsent cancelled." if first == "worker"
               else "0 marked superseded, 0 taken back, 0 unsent cancelled, 1 being sent: marked superseded if it lands.")
    assert any(earlier in a for a in answers), answers


@pytest.mark.parametrize("first", ["worker", "command"])
def test_a_line_about_a_superseded_copy_recorded_while_withdraw_reads_it_is_taken_back(
        engine: Engine, sealer: AesGcmSealer, first: str) -> None:
    """The line told in place of rev 1's edit is in flight. `worker` first: its send is recorded and the
    transaction held open; /withdraw waits, then finds the line sent and plans its removal. `command`
    first: /withdraw holds the item and cancels the line in flight (counted apart); the record waits,
    then finds the item withdrawn and plans the removal itself (withdrawn_line). Either way, once."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite's BEGIN IMMEDIATE already makes writers take turns")
    from dataclasses import replace  # noqa: PLC0415 - this test's alone

    from alerts.supersede import notice_key  # noqa: PLC0415
    from handlers.withdrawal import withdrawn_line  # noqa: PLC0415

    clock = ManualClock()
    factory = SqlUnitOfWorkFactory(engine, sealing(sealer, SharedAudit()), clock)
    held = HeldCommit(factory)
    directory = small_network()
    item = make_item(originator="my-officer")
    reference = str(item.reference)
    copy = to("th-npoc", "d1", "the alert", kind=MessageKind.DELIVERY, reference=reference)
    line = to("th-npoc", notice_key(copy.destination, "m0", 2), "rev 1 is superseded", reference=reference,
              contact="th-npoc")
    with factory() as uow:
        uow.items.add(item, make_route("th-npoc"), {"th-npoc": "d1"})
        uow.outbox.enqueue(copy)
        uow.outbox.mark_sent("d1", "m0", clock.now())
        uow.items.mark_delivery("d1", "sent", clock.now(), "m0")
        uow.items.revise(replace(item, revision=2, revised_at=clock.now()), make_route("th-npoc"),
                         {"th-npoc": "d2"}, clock.now())
        uow.outbox.enqueue(line)
        uow.commit()
    with engine.begin() as conn:  # leased by the worker: its send is on its way
        conn.execute(update(outbox).where(outbox.c.key == line.key).values(state="sending"))

    db = DatabaseThread()
    keys = itertools.count(1)
    worker = DeliveryWorker(db, held if first == "worker" else factory, {}, clock,  # type: ignore[arg-type]
                            lambda: f"k{next(keys)}",
                            withdrawn_line=lambda record, landed: withdrawn_line(record, landed, directory,
                                                                                 clock.now()))
    sent = Outgoing(line.key, line.kind, line.destination, line.text, line.reference, line.contact, False, None, 1)
    answers: list[str] = []

    def command() -> None:
        officer = directory.contacts["my-officer"]
        message = InboundMessage("e1", UserRef.parse("console:my-officer"), ChatRef.parse("console:@my-officer"),
                                 f"/withdraw {reference} wrong", clock.now())
        with (held if first == "command" else factory)() as uow:
            ctx = CommandContext(uow=uow, message=message, sender=officer, directory=directory, now=clock.now(),
                                 new_key=lambda: f"c{next(keys)}", platforms={Platform.CONSOLE})
            withdraw(ctx, item.reference, "wrong")
            uow.commit()
        answers.extend(ctx.answers)

    def record() -> None:
        worker._write_sent([(sent, "m9")])

    one, other = (record, command) if first == "worker" else (command, record)
    try:
        going_first, first_failed = in_thread(one)
        assert held.holding.wait(WAIT)
        going_second, second_failed = in_thread(other)
        assert waiting_on_a_lock(engine)
        held.go.set()
        going_first.join(WAIT)
        going_second.join(WAIT)
    finally:
        held.go.set()
        db.close()
    assert not first_failed and not second_failed, (first_failed, second_failed)
    with engine.connect() as conn:
        removals = conn.execute(select(func.count()).select_from(outbox).where(
            outbox.c.kind == MessageKind.REMOVAL.value)).scalar()
        state = conn.execute(select(outbox.c.state).where(outbox.c.key == line.key)).scalar()
    assert state == "sent"
    assert removals == 2  # rev 1's copy (by the command) and the landed line, each once
    part = "and 1 line saying an earlier copy was superseded" if first == "worker" else "1 being sent"
    assert any(part in a for a in answers), answers
