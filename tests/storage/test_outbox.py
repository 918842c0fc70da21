"""The outbox: idempotent enqueue, per-destination order, one in flight, leases, retries."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from alerts.clock import ManualClock
from alerts.identity import ChatRef, MessageRef, Platform, UserRef
from alerts.messages import Attachment, MessageKind, SentMessage
from alerts.routing import Destination
from storage.outbox import LeasedMessage, UnreadableRow, purge_files
from storage.tables import outbox, outbox_files
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.builders import make_message

LEASE = timedelta(seconds=60)


def _enqueue(factory: SqlUnitOfWorkFactory, *messages) -> None:  # noqa: ANN002
    with factory() as uow:
        for message in messages:
            uow.outbox.enqueue(message)
        uow.commit()


def _lease(factory: SqlUnitOfWorkFactory, clock: ManualClock, limit: int = 50, platforms=None) -> list[str]:  # noqa: ANN001
    with factory() as uow:
        leased = uow.outbox.lease(clock.now(), limit, LEASE, platforms)
        uow.commit()
    return [m.key for m in leased]


def _sent(factory: SqlUnitOfWorkFactory, clock: ManualClock, *keys: str) -> None:
    with factory() as uow:
        for key in keys:
            uow.outbox.mark_sent(key, f"pm-{key}", clock.now())
        uow.commit()


def test_enqueue_is_idempotent_on_the_key(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _enqueue(uow_factory, make_message("k1", text="first"))
    _enqueue(uow_factory, make_message("k1", text="second"), make_message("k1", text="third"))
    with uow_factory() as uow:
        assert uow.outbox.depth() == 1
        (leased,) = uow.outbox.lease(clock.now(), 10, LEASE)
    assert leased.text == "first"


def test_a_leased_message_carries_everything_that_was_enqueued(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    message = make_message(
        "k1",
        kind=MessageKind.DELIVERY,
        destination=Destination.chat(ChatRef.parse("telegram:-100123")),
        text="Alert A-2026-0001 ...",
        reference="A-2026-0001",
        contact="th-npoc",
        protect_content=True,
        reply_to=MessageRef(ChatRef.parse("telegram:-100123"), "77"),
        attention=(UserRef.parse("telegram:user:42"), UserRef.parse("matrix:@th:example.org")),
    )
    _enqueue(uow_factory, message)
    with uow_factory() as uow:
        (leased,) = uow.outbox.lease(clock.now(), 10, LEASE)
    assert leased.message == message
    assert (leased.attempts, leased.lease_until, leased.created_at) == (1, clock.now() + LEASE, clock.now())


def test_whom_a_message_asks_to_act_is_sealed_with_it_and_kept_apart_per_row(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    th, au = UserRef.parse("matrix:@th:example.org"), UserRef.parse("matrix:@au:example.org")
    _enqueue(uow_factory, make_message("k1", to="a", text="same", attention=(th,)),
             make_message("k2", to="b", text="same", attention=(au,)), make_message("k3", to="c", text="same"))
    with uow_factory() as uow:
        leased = {m.key: m.attention for m in uow.outbox.lease(clock.now(), 10, LEASE)}
        assert leased == {"k1": (th,), "k2": (au,), "k3": ()}
        stored = uow.connection.execute(select(outbox.c.content)).scalars().all()
    assert not any(b"@th:example.org" in bytes(content) for content in stored)


def test_each_destination_gets_its_messages_in_order_one_at_a_time(
    uow_factory: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    _enqueue(uow_factory, *(make_message(f"a{i}", to="alice") for i in range(3)))
    _enqueue(uow_factory, *(make_message(f"b{i}", to="bob") for i in range(2)))
    assert _lease(uow_factory, clock) == ["a0", "b0"]
    assert _lease(uow_factory, clock) == []  # both destinations have one in flight
    _sent(uow_factory, clock, "a0")
    assert _lease(uow_factory, clock) == ["a1"]
    _sent(uow_factory, clock, "a1", "b0")
    assert _lease(uow_factory, clock) == ["a2", "b1"]


def test_limit_and_platform_filter(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    telegram = Destination.direct(UserRef.parse("telegram:user:42"))
    _enqueue(uow_factory, make_message("c1", to="c1"), make_message("c2", to="c2"), make_message("t1", destination=telegram))
    assert _lease(uow_factory, clock, platforms={"telegram"}) == ["t1"]
    assert _lease(uow_factory, clock, limit=1, platforms={"console", "matrix"}) == ["c1"]
    assert _lease(uow_factory, clock, platforms=set()) == []


def test_an_expired_lease_is_leased_again(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _enqueue(uow_factory, make_message("k1"), make_message("k2"))
    assert _lease(uow_factory, clock) == ["k1"]
    clock.advance(LEASE - timedelta(seconds=1))
    assert _lease(uow_factory, clock) == []
    clock.advance(timedelta(seconds=1))  # the worker died holding k1
    with uow_factory() as uow:
        (again,) = uow.outbox.lease(clock.now(), 10, LEASE)
        uow.commit()
    assert (again.key, again.attempts) == ("k1", 2)


def test_retry_later_waits_and_keeps_its_place(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _enqueue(uow_factory, make_message("k1"), make_message("k2"))
    assert _lease(uow_factory, clock) == ["k1"]
    with uow_factory() as uow:
        uow.outbox.retry_later("k1", clock.now() + timedelta(seconds=30), "telegram.429")
        uow.commit()
    assert _lease(uow_factory, clock) == []  # k2 must not overtake k1
    clock.advance(timedelta(seconds=30))
    assert _lease(uow_factory, clock) == ["k1"]


def test_a_scheduled_message_does_not_hold_up_the_ones_before_it_is_due(
    uow_factory: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    _enqueue(uow_factory, make_message("reminder", not_before=clock.now() + timedelta(hours=1)), make_message("now"))
    assert _lease(uow_factory, clock) == ["now"]
    _sent(uow_factory, clock, "now")
    assert _lease(uow_factory, clock) == []
    clock.advance(timedelta(hours=1))
    assert _lease(uow_factory, clock) == ["reminder"]


def test_failed_and_sent_messages_leave_the_queue(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _enqueue(uow_factory, make_message("k1"), make_message("k2"), make_message("k3", to="bob"))
    with uow_factory() as uow:
        assert uow.outbox.depth() == 3
        assert uow.outbox.oldest_pending_age(clock.now() + timedelta(minutes=5)) == timedelta(minutes=5)
    _lease(uow_factory, clock)
    with uow_factory() as uow:
        uow.outbox.mark_failed("k1", "matrix.M_FORBIDDEN")
        uow.outbox.mark_sent("k3", "pm-3", clock.now())
        uow.commit()
    assert _lease(uow_factory, clock) == ["k2"]
    _sent(uow_factory, clock, "k2")
    with uow_factory() as uow:
        assert uow.outbox.depth() == 0
        assert uow.outbox.oldest_pending_age(clock.now()) is None


def test_errors_are_codes_never_text(uow_factory: SqlUnitOfWorkFactory) -> None:
    _enqueue(uow_factory, make_message("k1"))
    with uow_factory() as uow:
        with pytest.raises(ValueError):
            uow.outbox.mark_failed("k1", "could not send 'Two travellers with altered passports'")
        with pytest.raises(KeyError):
            uow.outbox.mark_sent("no-such-key", None, ManualClock().now())


@pytest.mark.parametrize("migrated_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_concurrent_workers_never_lease_one_destination_twice(
    uow_factory: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    _enqueue(uow_factory, make_message("a0", to="alice"), make_message("a1", to="alice"), make_message("b0", to="bob"))
    with uow_factory() as first, uow_factory() as second:
        assert [m.key for m in first.outbox.lease(clock.now(), 1, LEASE)] == ["a0"]
        # a0 is locked by the first worker (skipped, not waited for); a1 is not alice's head.
        assert [m.key for m in second.outbox.lease(clock.now(), 10, LEASE)] == ["b0"]
        first.commit()
        second.commit()
    assert _lease(uow_factory, clock) == []


def test_enqueue_many_keeps_the_order_given_and_the_first_of_each_key(
    uow_factory: SqlUnitOfWorkFactory, clock: ManualClock
) -> None:
    _enqueue(uow_factory, make_message("a-old", to="alice", text="kept"))
    with uow_factory() as uow:
        uow.outbox.enqueue_many([make_message("a-old", to="alice", text="dropped"), make_message("a1", to="alice"),
                                 make_message("b0", to="bob"), make_message("a2", to="alice"),
                                 make_message("a1", to="alice", text="dropped too")])
        uow.outbox.enqueue_many([])  # nothing to add is not an error
        assert uow.outbox.depth() == 4
        uow.commit()
    with uow_factory() as uow:
        first = {m.key: m.text for m in uow.outbox.lease(clock.now(), 10, LEASE)}
        uow.commit()
    assert first == {"a-old": "kept", "b0": make_message("b0", to="bob").text}
    _sent(uow_factory, clock, "a-old", "b0")
    assert _lease(uow_factory, clock) == ["a1"]
    _sent(uow_factory, clock, "a1")
    assert _lease(uow_factory, clock) == ["a2"]


def test_enqueue_many_rolls_back_with_its_transaction(uow_factory: SqlUnitOfWorkFactory) -> None:
    with uow_factory() as uow:
        uow.outbox.enqueue_many(make_message(f"k{i}") for i in range(3))  # any iterable
    with uow_factory() as uow:
        assert uow.outbox.depth() == 0


def _lease_one(factory: SqlUnitOfWorkFactory, clock: ManualClock):  # noqa: ANN202 - a LeasedMessage
    with factory() as uow:
        (leased,) = uow.outbox.lease(clock.now(), 10, LEASE)
        uow.commit()
    return leased


def _retry(factory: SqlUnitOfWorkFactory, clock: ManualClock, code: str, unknown: bool = False) -> None:
    with factory() as uow:
        uow.outbox.retry_later("k1", clock.now(), code, outcome_unknown=unknown)
        uow.commit()


def test_a_row_whose_lease_ran_out_is_leased_again_as_a_possible_repeat_until_it_is_sent(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _enqueue(uow_factory, make_message("k1"))
    assert not _lease_one(uow_factory, clock).possible_repeat
    clock.advance(LEASE)  # the worker died holding k1: its send may have arrived
    assert _lease_one(uow_factory, clock).possible_repeat
    _retry(uow_factory, clock, "telegram.429")  # a known outcome later does not make the first one known
    assert _lease_one(uow_factory, clock).possible_repeat


def test_a_retry_after_an_unknown_outcome_is_a_possible_repeat_and_one_after_a_known_failure_is_not(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _enqueue(uow_factory, make_message("k1"))
    _lease_one(uow_factory, clock)
    _retry(uow_factory, clock, "connection-refused")
    assert not _lease_one(uow_factory, clock).possible_repeat
    _retry(uow_factory, clock, "timed-out", unknown=True)
    assert _lease_one(uow_factory, clock).possible_repeat
    _retry(uow_factory, clock, "rate-limited")
    assert _lease_one(uow_factory, clock).possible_repeat


def test_held_rows_are_released_whether_or_not_an_earlier_outcome_was_unknown(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _enqueue(uow_factory, make_message("k1"))
    _lease_one(uow_factory, clock)
    with uow_factory() as uow:
        uow.outbox.retry_later("k1", clock.now() + timedelta(hours=1), "timed-out", outcome_unknown=True)
        uow.commit()
    with uow_factory() as uow:
        assert uow.outbox.release_held("timed-out", clock.now()) == 1
        uow.commit()
    assert _lease_one(uow_factory, clock).possible_repeat


def test_a_row_that_cannot_be_opened_comes_back_unreadable_and_the_others_are_leased(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _enqueue(uow_factory, make_message("k1", to="alice"), make_message("k2", to="alice"), make_message("k3", to="bob"))
    with uow_factory() as uow:  # k1's sealed text damaged: it no longer opens
        uow.connection.execute(update(outbox).where(outbox.c.key == "k1").values(content=b"\x01\x02k1" + bytes(40)))
        uow.commit()
    with uow_factory() as uow:
        leased = uow.outbox.lease(clock.now(), 50, LEASE)
        uow.commit()
    unreadable = [m for m in leased if isinstance(m, UnreadableRow)]
    assert [m.key for m in unreadable] == ["k1"] and unreadable[0].cause  # for the worker to set aside
    assert sorted(m.key for m in leased if not isinstance(m, UnreadableRow)) == ["k3"]



# --- files made for one message alone (the digest's charts) ------------------------------------------

CHART = Attachment("overdue-2026-12-06.png", "image/png", 12, b"\x89PNG\r\n\x1a\nabcd")
SECOND = Attachment("items-by-topic-2026-11.png", "image/png", 11, b"\x89PNG\r\n\x1a\nxyz")


def test_a_messages_own_files_are_sealed_beside_it_and_leased_with_it_in_order(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    message = make_message("digest:2026-12-06", text="Digest", files=(CHART, SECOND))
    _enqueue(uow_factory, message, make_message("plain", to="bob"))
    _enqueue(uow_factory, make_message("digest:2026-12-06", text="again", files=(SECOND,)))  # the first is kept
    with uow_factory() as uow:  # a new transaction, as after a restart: all of it comes from the tables
        leased = {m.key: m for m in uow.outbox.lease(clock.now(), 10, LEASE)}
        stored = uow.connection.execute(select(outbox_files)).all()
    assert isinstance(leased["digest:2026-12-06"], LeasedMessage)
    assert leased["digest:2026-12-06"].message == message
    assert leased["plain"].files == ()  # type: ignore[union-attr]
    assert sorted((row.outbox_key, row.position, row.size) for row in stored) == [
        ("digest:2026-12-06", 0, 12), ("digest:2026-12-06", 1, 11)]
    assert not any(b"PNG" in bytes(row.data) or b"overdue" in bytes(row.meta) for row in stored)  # sealed


def test_a_messages_files_are_removed_once_it_is_sent_or_given_up_on(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _enqueue(uow_factory, make_message("d1", to="a", files=(CHART,)), make_message("d2", to="b", files=(CHART,)),
             make_message("d3", to="c", files=(CHART,)))
    assert sorted(_lease(uow_factory, clock)) == ["d1", "d2", "d3"]
    _sent(uow_factory, clock, "d1")
    with uow_factory() as uow:
        uow.outbox.mark_failed("d2", "telegram.400")
        uow.commit()
    with uow_factory() as uow:
        kept = uow.connection.execute(select(outbox_files.c.outbox_key)).scalars().all()
    assert kept == ["d3"]


def test_a_row_whose_files_are_gone_is_never_sent_without_them(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _enqueue(uow_factory, make_message("d1", files=(CHART, SECOND)))
    clock.advance(timedelta(days=400))
    with uow_factory() as uow:  # retention, for a row that never went
        assert purge_files(uow.connection, clock.now() - timedelta(days=365)) == 2
        uow.commit()
    with uow_factory() as uow:
        [row] = uow.outbox.lease(clock.now(), 10, LEASE)
    assert isinstance(row, UnreadableRow) and row.key == "d1"


def test_an_approval_request_is_found_by_the_platform_id_it_was_sent_as(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    matrix = Destination.direct(UserRef.parse("matrix:@farid:example.org"))
    _enqueue(uow_factory,
             make_message("ask", kind=MessageKind.APPROVAL, destination=matrix, reference="A-2026-0007"),
             make_message("told", kind=MessageKind.RECEIPT, destination=matrix, reference="A-2026-0007"),
             make_message("console", kind=MessageKind.APPROVAL, reference="A-2026-0008"),
             make_message("unsent", kind=MessageKind.APPROVAL, destination=matrix, reference="A-2026-0009"))
    _sent(uow_factory, clock, "ask", "told", "console")
    with uow_factory(read_only=True) as uow:
        assert uow.outbox.approval_by_message(Platform.MATRIX, "pm-ask") == "A-2026-0007"
        assert uow.outbox.approval_by_message(Platform.MATRIX, "pm-told") is None  # not an approval request
        assert uow.outbox.approval_by_message(Platform.MATRIX, "pm-console") is None  # another platform's id
        assert uow.outbox.approval_by_message(Platform.CONSOLE, "pm-console") == "A-2026-0008"
        assert uow.outbox.approval_by_message(Platform.MATRIX, "pm-unsent") is None


def test_what_was_sent_as_a_platform_message_is_found_for_judging_a_reply_to_it(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _enqueue(uow_factory,
             make_message("copy", kind=MessageKind.DELIVERY, reference="A-2026-0007", contact="th-npoc"),
             make_message("unsent", kind=MessageKind.DELIVERY, reference="A-2026-0007", contact="my-npoc"))
    _sent(uow_factory, clock, "copy")
    with uow_factory(read_only=True) as uow:
        assert uow.outbox.sent_by_message(Platform.CONSOLE, "pm-copy") == SentMessage(
            MessageKind.DELIVERY, "A-2026-0007", "th-npoc", None)  # no such item stored: no originator
        assert uow.outbox.sent_by_message(Platform.MATRIX, "pm-copy") is None  # another platform's id
        assert uow.outbox.sent_by_message(Platform.CONSOLE, "pm-unsent") is None


def test_the_messages_a_row_became_are_recorded_as_sent_and_found_by_the_one_it_is_known_by(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    telegram = Destination.direct(UserRef.parse("telegram:user:201"))
    _enqueue(uow_factory, make_message("copy", destination=telegram), make_message("one", destination=telegram),
             make_message("console"))
    _lease(uow_factory, clock)
    with uow_factory() as uow:
        uow.outbox.record_parts("copy", ["201:7"])  # the photo; a restart here keeps it
        uow.commit()
    with uow_factory() as uow:
        assert uow.outbox.parts_sent("copy") == ("201:7",)
        uow.outbox.record_parts("copy", ["201:7", "201:8", "201:9"])  # then the text, in two parts
        with pytest.raises(ValueError):
            uow.outbox.record_parts("copy", ["201:7 201:8"])
        uow.outbox.mark_sent("copy", "201:8", clock.now())  # known by its text's first part
        uow.outbox.mark_sent("one", "201:10", clock.now())  # one message: nothing more is recorded
        uow.outbox.record_parts("console", ["pm-1", "pm-2"])
        uow.outbox.mark_sent("console", "pm-1", clock.now())
        uow.commit()
    with uow_factory(read_only=True) as uow:
        assert uow.outbox.parts_of(Platform.TELEGRAM, "201:8") == ("201:7", "201:8", "201:9")
        assert uow.outbox.parts_sent("copy") == ("201:7", "201:8", "201:9")
        assert uow.outbox.parts_of(Platform.TELEGRAM, "201:7") == ()  # not the one it is known by
        assert uow.outbox.parts_of(Platform.TELEGRAM, "201:10") == ()
        assert uow.outbox.parts_of(Platform.TELEGRAM, "pm-1") == ()  # another platform's row
        assert uow.outbox.parts_of(Platform.CONSOLE, "pm-1") == ("pm-1", "pm-2")
        assert uow.outbox.parts_sent("no-such-key") == ()



def test_a_row_failed_or_cancelled_after_part_of_it_went_is_known_by_its_first_message(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    """A copy whose photo went and whose text did not: taking it back must find the photo."""
    telegram = Destination.direct(UserRef.parse("telegram:user:201"))
    _enqueue(uow_factory, make_message("lost", destination=telegram, kind=MessageKind.DELIVERY, reference="A-2026-0001"),
             make_message("waits", destination=Destination.direct(UserRef.parse("telegram:user:202")),
                          kind=MessageKind.DELIVERY, reference="A-2026-0001"),
             make_message("none", destination=Destination.direct(UserRef.parse("telegram:user:203")),
                          kind=MessageKind.DELIVERY, reference="A-2026-0001"))
    _lease(uow_factory, clock)
    with uow_factory() as uow:
        uow.outbox.record_parts("lost", ["201:7"])
        uow.outbox.record_parts("waits", ["202:3", "202:4"])
        assert uow.outbox.mark_failed("lost", "bad-request").reached == ("201:7",)
        uow.outbox.retry_later("waits", clock.now() + timedelta(minutes=5), "bad-gateway")
        uow.outbox.retry_later("none", clock.now() + timedelta(minutes=5), "bad-gateway")
        cancelled = uow.outbox.cancel("A-2026-0001", {MessageKind.DELIVERY}, "withdrawn")
        uow.commit()
    assert cancelled.keys == ("waits", "none") and cancelled.reached == {"waits": "202:3"}
    with uow_factory(read_only=True) as uow:
        assert uow.outbox.parts_of(Platform.TELEGRAM, "201:7") == ("201:7",)
        assert uow.outbox.parts_of(Platform.TELEGRAM, "202:3") == ("202:3", "202:4")
        assert uow.outbox.entries(frozenset({"none"}))["none"].platform_message_id is None
        assert uow.outbox.sent_by_message(Platform.TELEGRAM, "201:7") is None  # no reply is judged against it


def test_a_reply_to_any_message_a_copy_became_finds_what_was_sent(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    """A Telegram copy sent as its photo and then its text in two parts: a reply to the photo, or to
    the text's second part, is to the same copy as a reply to the part it is known by."""
    telegram = Destination.direct(UserRef.parse("telegram:user:201"))
    _enqueue(uow_factory,
             make_message("copy", kind=MessageKind.DELIVERY, destination=telegram, reference="A-2026-0007",
                          contact="th-npoc"),
             make_message("one", kind=MessageKind.RECEIPT, destination=telegram, reference="A-2026-0007"),
             make_message("going", kind=MessageKind.DELIVERY, destination=telegram, reference="A-2026-0008",
                          contact="th-npoc"),
             make_message("console", kind=MessageKind.DELIVERY, reference="A-2026-0009", contact="my-npoc"))
    _lease(uow_factory, clock)
    with uow_factory() as uow:
        uow.outbox.record_parts("copy", ["201:7"])
        uow.outbox.record_parts("copy", ["201:7", "201:8", "201:9"])  # recorded again as each goes
        uow.outbox.mark_sent("copy", "201:8", clock.now())
        uow.outbox.mark_sent("one", "201:10", clock.now())  # one message: no parts recorded
        uow.outbox.record_parts("going", ["201:11", "201:12"])  # its last part not sent yet
        uow.outbox.record_parts("console", ["201:7", "201:13"])
        uow.outbox.mark_sent("console", "201:13", clock.now())
        uow.commit()
    copy = SentMessage(MessageKind.DELIVERY, "A-2026-0007", "th-npoc", None)
    with uow_factory(read_only=True) as uow:
        for part in ("201:7", "201:8", "201:9"):  # the photo, the text's first part, its second
            assert uow.outbox.sent_by_message(Platform.TELEGRAM, part) == copy, part
        assert uow.outbox.sent_by_message(Platform.TELEGRAM, "201:10") == SentMessage(
            MessageKind.RECEIPT, "A-2026-0007", None, None)
        assert uow.outbox.sent_by_message(Platform.TELEGRAM, "201:11") is None  # its row is not sent
        assert uow.outbox.sent_by_message(Platform.TELEGRAM, "201:13") is None  # another platform's row
        assert uow.outbox.sent_by_message(Platform.CONSOLE, "201:7") == SentMessage(
            MessageKind.DELIVERY, "A-2026-0009", "my-npoc", None)
        assert uow.outbox.sent_by_message(Platform.TELEGRAM, "201:14") is None


def test_a_message_is_found_by_its_part_through_an_index_not_a_scan_of_the_outbox(
        engine, clock: ManualClock) -> None:  # noqa: ANN001
    """The lookup sent_by_message makes for a part is two key lookups on either database: the part's
    row in outbox_parts, then the outbox row by its key, among many sent rows."""
    from storage.outbox import _BY_PART  # the statement itself, so the plan is the one run
    from storage.tables import outbox_parts

    with engine.begin() as conn:
        conn.execute(outbox.insert(), [
            {"key": f"k{n}", "kind": "delivery", "platform": "telegram", "destination": "direct:telegram:user:201",
             "protect_content": False, "content": b"x", "state": "sent", "attempts": 1, "created_at": clock.now(),
             "platform_message_id": f"201:{3 * n}", "platform_parts": f"201:{3 * n} 201:{3 * n + 1}"}
            for n in range(2000)])
        conn.execute(outbox_parts.insert(), [{"platform": "telegram", "message_id": f"201:{3 * n + part}",
                                              "outbox_key": f"k{n}"} for n in range(2000) for part in (0, 1)])
        conn.exec_driver_sql("ANALYZE")
    with engine.connect() as conn:
        compiled = _BY_PART.compile(conn)
        params = {**compiled.params, "platform": "telegram", "message_id": "201:301"}
        if engine.dialect.name == "sqlite":
            plan = " | ".join(str(row[-1]) for row in conn.exec_driver_sql(
                f"EXPLAIN QUERY PLAN {compiled}", tuple(params[name] for name in compiled.positiontup or ())))
            assert "SCAN outbox" not in plan and "outbox USING INDEX sqlite_autoindex_outbox_1 (key=?)" in plan, plan
            assert "outbox_parts USING INDEX sqlite_autoindex_outbox_parts_1 (platform=? AND message_id=?)" in plan
        else:
            plan = " | ".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}", params))
            assert "Seq Scan on outbox" not in plan and "Index Cond: ((key)::text = " in plan, plan  # items is empty
            assert "Index Scan using pk_outbox_parts on outbox_parts" in plan, plan
        assert conn.execute(_BY_PART, params).one().reference is None  # the lookup finds k100 by its second part


def test_a_row_cancelled_while_its_send_was_in_flight_stays_cancelled(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    """/withdraw cancelled the row while the worker was sending it; the worker's record of a temporary
    error (or of a failure, or of a hand-back) must not put it back in line nor change why it stopped."""
    _enqueue(uow_factory, make_message("k1", kind=MessageKind.DELIVERY, reference="A-2026-0001"))
    assert _lease(uow_factory, clock) == ["k1"]
    with uow_factory() as uow:
        uow.outbox.record_parts("k1", ["p1"])  # its photo went before its text's send failed
        assert uow.outbox.cancel("A-2026-0001", {MessageKind.DELIVERY}, "withdrawn").in_flight == {"k1"}
        uow.commit()
    with uow_factory() as uow:
        assert uow.outbox.retry_later("k1", clock.now(), "bad-gateway") is False
        uow.outbox.release("k1")
        failed = uow.outbox.mark_failed("k1", "bad-request")
        uow.commit()
    assert (failed.reached, failed.cancelled) == (("p1",), True)
    clock.advance(timedelta(hours=1))
    assert _lease(uow_factory, clock) == []
    with uow_factory(read_only=True) as uow:
        row = uow.connection.execute(select(outbox.c.state, outbox.c.last_error, outbox.c.attempts,
                                            outbox.c.platform_message_id).where(outbox.c.key == "k1")).one()
    # still cancelled, and known by what of it reached its reader, so it can be taken back
    assert tuple(row) == ("failed", "withdrawn", 1, "p1")


def test_the_worker_side_writes_still_act_on_a_row_being_sent(
        uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    _enqueue(uow_factory, make_message("k1"), make_message("k2", to="bob"))
    assert _lease(uow_factory, clock) == ["k1", "k2"]
    with uow_factory() as uow:
        assert uow.outbox.retry_later("k1", clock.now(), "bad-gateway") is True
        failed = uow.outbox.mark_failed("k2", "bad-request")
        with pytest.raises(KeyError):
            uow.outbox.retry_later("no-such-key", clock.now(), "bad-gateway")
        with pytest.raises(KeyError):
            uow.outbox.mark_failed("no-such-key", "bad-request")
        uow.commit()
    assert (failed.reached, failed.cancelled) == ((), False)
    assert _lease(uow_factory, clock) == ["k1"]
