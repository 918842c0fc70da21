"""One bad item never stops a shared round: rows written straight into the database (past the
parser, as an old version, a hand edit or another tool could have) are set aside, and every other
item gets its reminders, its digest line and its bulletin line.

Each bad item is logged once with an error reference and its traceback, recorded in the audit log,
and told to the admins exactly once: not again at the next tick, the next digest or a restart. The
start-up that replans every item (start_scheduler) succeeds, and `audit verify` still passes.
On SQLite and PostgreSQL; the manual clock drives the rounds, APScheduler only starts and stops.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED
from sqlalchemy import Engine, select, text, update

from alerts.clock import ManualClock
from alerts.identity import ChatRef
from alerts.routing import Destination
from bot.config.reminders import ReminderSettings
from bot.scheduling.scheduler import start_scheduler
from bot.scheduling.jobs import TICK
from tests.fakes import FixedDirectory
from handlers.followup_reminders import ReminderService
from storage.audit.trail import read_entries
from storage.audit.verify import verify
from storage.keyring import Keyring
from storage.uow import SqlUnitOfWorkFactory
from storage.tables import deliveries, items, outbox
from tests.sample_network import network_with_rooms
from tests.scheduler.support import DUE_ONLY, reminder_keys, runtime_like, seed
from tests.scheduler.test_apscheduler_wiring import _events_of

BAD = "A-2026-0002"
GOOD = {"A-2026-0001", "A-2026-0003"}
ADMINS = "chat:console:#unlisted"  # the sample network's management room: where admins are told
FAR = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc)  # what due:9999-12-31 stored
ERROR_REF = re.compile(r"\[(E-[A-HJ-NP-Z2-9]{6})\]")


def _unreadable_time(engine: Engine) -> str:
    """A stored time no reader can turn into a datetime: SQLite keeps text, PostgreSQL 'infinity'."""
    return "infinity" if engine.dialect.name == "postgresql" else "not a time"


Corrupt = Callable[[Engine, str], None]  # writes a bad value into the item's rows


def _set_item(**values: object) -> Corrupt:
    def corrupt(engine: Engine, reference: str) -> None:
        with engine.begin() as conn:
            conn.execute(update(items).where(items.c.reference == reference).values(**values))
    return corrupt


def _raw(table: str, column: str) -> Corrupt:
    where = "reference" if table == "items" else "item_reference"

    def corrupt(engine: Engine, reference: str) -> None:
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {table} SET {column} = :v WHERE {where} = :r"),
                         {"v": _unreadable_time(engine), "r": reference})
    return corrupt


CORRUPTIONS = {
    "due-in-year-9999": _set_item(ack_due=FAR, feedback_due=FAR),
    "due-in-year-1": _set_item(ack_due=datetime(1, 1, 1, tzinfo=timezone.utc),
                               feedback_due=datetime(1, 1, 1, tzinfo=timezone.utc)),
    "priority-nobody-knows": _set_item(priority="flash"),
    "tlp-nobody-knows": _set_item(tlp="PURPLE"),
    "due-unreadable": _raw("items", "feedback_due"),
    "sent-time-unreadable": _raw("deliveries", "sent_at"),
}


def _seed_three(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    """Three urgent items to my-npoc, all overdue: each owes its reminders now."""
    for number in (1, 2, 3):
        seed(uow_factory, number, clock.now() - timedelta(hours=2))


def _notices(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(outbox.c.key).where(outbox.c.kind == "notice",
                                                            outbox.c.destination == ADMINS)).scalars())


def _set_aside_entries(engine: Engine, keyring: Keyring, reference: str) -> list[dict[str, str]]:
    with engine.connect() as conn:
        return [e.detail or {} for e in read_entries(conn, keyring, reference=reference)
                if e.action == "reminder" and (e.detail or {}).get("event", "").startswith("set-aside")]


def _referenced(engine: Engine) -> set[str]:
    return {key.split(":")[1] for key in reminder_keys(engine)}


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info is not None]


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
async def test_a_bad_row_is_set_aside_once_and_the_others_get_their_reminders_across_ticks_and_a_restart(
        corrupt: Corrupt, engine: Engine, uow_factory: SqlUnitOfWorkFactory,
        clock: ManualClock, keyring: Keyring, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    _seed_three(uow_factory, clock)
    corrupt(engine, BAD)
    rt = runtime_like(engine, uow_factory, clock, ReminderSettings())
    caplog.set_level(logging.INFO)
    try:
        first = await start_scheduler(rt)  # start-up: every item planned again, the due ones sent
        assert first is not None and first.active and first.catch_up is not None
        assert first.catch_up.set_aside == 1 and first.catch_up.planned == 2
        assert _referenced(engine) == GOOD
        sent_at_start = len(reminder_keys(engine))
        for _ in range(2):  # two more ticks, later: the others' repeats go on, the bad row stays aside
            clock.advance(timedelta(hours=1))
            await rt.db.run(first.service.tick, clock.now())
        assert len(reminder_keys(engine)) > sent_at_start and _referenced(engine) == GOOD
        await first.stop()
        again = await start_scheduler(rt)  # a restart: the bad row is tried again, and still fails
        assert again is not None and again.active and again.catch_up is not None
        assert again.catch_up.set_aside == 0 and again.catch_up.planned == 2
        await again.stop()
    finally:
        rt.db.close()

    [notice] = _notices(engine)  # the admins were told once, in their management room
    [entry] = _set_aside_entries(engine, keyring, BAD)
    assert entry["event"] == "set-aside" and entry["round"] == "reminders" and entry["error"]
    [logged] = _tracebacks(caplog)  # one traceback, with the error reference told and audited
    assert logged.levelno == logging.ERROR and BAD in logged.getMessage()
    assert ERROR_REF.search(logged.getMessage()).group(1) == entry["error_ref"]  # type: ignore[union-attr]
    assert notice == f"set-aside:{entry['error_ref']}:0"
    assert any("still set aside" in r.getMessage() for r in caplog.records)  # the restart: said, not told
    assert not any(r.name == "bot.scheduling.jobs" and r.levelno >= logging.ERROR for r in caplog.records)
    assert "Traceback" not in capsys.readouterr().err
    assert verify(engine, keyring).ok


async def test_every_kind_of_bad_row_at_once_leaves_the_good_items_and_the_start_alone(
        engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock, keyring: Keyring) -> None:
    """All the corruptions in one database, among good items, and two items that are odd but can be
    handled: one with no due times at all (NULL, as the schema allows) and one whose recipient has
    left the directory. Those two are not set aside; each bad one is, once."""
    created = clock.now() - timedelta(hours=2)
    bad = {}
    for number, (name, corrupt) in enumerate(CORRUPTIONS.items(), start=10):
        reference = seed(uow_factory, number, created)
        corrupt(engine, reference)
        bad[reference] = name
    good = {seed(uow_factory, number, created) for number in range(1, 6)}
    undated = seed(uow_factory, 6, created)
    ghost = seed(uow_factory, 7, created)
    with engine.begin() as conn:
        conn.execute(update(items).where(items.c.reference == undated).values(ack_due=None, feedback_due=None))
        conn.execute(update(deliveries).where(deliveries.c.item_reference == ghost).values(contact="left-the-network"))
    rt = runtime_like(engine, uow_factory, clock, ReminderSettings())
    try:
        for _ in range(2):  # two starts, with a tick between
            scheduler = await start_scheduler(rt)
            assert scheduler is not None and scheduler.active
            clock.advance(timedelta(hours=1))
            await rt.db.run(scheduler.service.tick, clock.now())
            await scheduler.stop()
    finally:
        rt.db.close()
    assert good <= _referenced(engine) and not _referenced(engine) & set(bad)
    assert len(_notices(engine)) == len(bad)
    for reference in bad:
        assert len(_set_aside_entries(engine, keyring, reference)) == 1, bad[reference]
    assert not _set_aside_entries(engine, keyring, undated) and not _set_aside_entries(engine, keyring, ghost)
    assert verify(engine, keyring).ok


def _service(uow_factory: SqlUnitOfWorkFactory) -> ReminderService:
    """A service as start_scheduler makes it, with the digest and the bulletin on."""
    return ReminderService(uow_factory, FixedDirectory(network_with_rooms()), DUE_ONLY,
                           digest_room=ChatRef.parse("console:#coordination"),
                           bulletin_room=ChatRef.parse("console:#network"),
                           admins=lambda: [(Destination.chat(ChatRef.parse("console:#unlisted")), None)])


def _posted(engine: Engine, room: str) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(outbox.c.key).where(outbox.c.destination == room)).all())


def _runs(engine: Engine, keyring: Keyring, kind: str) -> list[dict[str, str]]:
    with engine.connect() as conn:
        return [e.detail or {} for e in read_entries(conn, keyring) if (e.detail or {}).get("kind") == kind]


def _sent_again(engine: Engine, reference: str) -> None:
    with engine.begin() as conn:
        conn.execute(update(deliveries).where(deliveries.c.item_reference == reference)
                     .values(sent_at=datetime(2026, 11, 23, 7, 0, tzinfo=timezone.utc)))


PUT_RIGHT: dict[str, Corrupt] = {  # what an admin's fix writes back
    "priority-nobody-knows": _set_item(priority="urgent"),
    "tlp-nobody-knows": _set_item(tlp="AMBER"),
    "sent-time-unreadable": _sent_again,
}


@pytest.mark.parametrize("name", list(PUT_RIGHT))
def test_the_digest_leaves_out_a_bad_row_tells_the_admins_once_and_takes_it_back_once_put_right(
        name: str, engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock,
        keyring: Keyring, caplog: pytest.LogCaptureFixture) -> None:
    _seed_three(uow_factory, clock)
    CORRUPTIONS[name](engine, BAD)
    assert _service(uow_factory).digest(clock.now(), date(2026, 11, 23))
    clock.advance(timedelta(days=1))
    assert _service(uow_factory).digest(clock.now(), date(2026, 11, 24))  # a new day, a restarted bot
    assert _posted(engine, "chat:console:#coordination") == 2
    assert [run["overdue"] for run in _runs(engine, keyring, "digest")] == [", ".join(sorted(GOOD))] * 2
    aside = _set_aside_entries(engine, keyring, BAD)
    assert [(e["event"], e["round"]) for e in aside] == [("set-aside", "digest")]
    assert len(_notices(engine)) == 1 and len(_tracebacks(caplog)) == 1
    PUT_RIGHT[name](engine, BAD)
    clock.advance(timedelta(days=1))
    assert _service(uow_factory).digest(clock.now(), date(2026, 11, 25))
    assert _runs(engine, keyring, "digest")[-1]["overdue"] == ", ".join(sorted(GOOD | {BAD}))
    assert [e["event"] for e in _set_aside_entries(engine, keyring, BAD)] == ["set-aside", "set-aside-lifted"]
    assert len(_notices(engine)) == 1
    assert verify(engine, keyring).ok


@pytest.mark.parametrize("name", ["priority-nobody-knows", "tlp-nobody-knows"])
def test_the_bulletin_leaves_out_a_bad_row_and_counts_the_others(
        name: str, engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock,
        keyring: Keyring) -> None:
    _seed_three(uow_factory, clock)
    CORRUPTIONS[name](engine, BAD)
    clock.advance(timedelta(days=10))  # December: the bulletin of November
    assert _service(uow_factory).bulletin(clock.now(), date(2026, 11, 1))
    assert _posted(engine, "chat:console:#network") == 1
    [run] = [r for r in _runs(engine, keyring, "bulletin") if "items" in r]
    assert run["items"] == "2"
    assert [e["round"] for e in _set_aside_entries(engine, keyring, BAD)] == ["bulletin"]
    assert len(_notices(engine)) == 1
    assert verify(engine, keyring).ok


async def test_a_row_put_right_is_back_at_the_next_start_and_gets_its_reminders(
        engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock, keyring: Keyring) -> None:
    _seed_three(uow_factory, clock)
    CORRUPTIONS["priority-nobody-knows"](engine, BAD)
    rt = runtime_like(engine, uow_factory, clock, ReminderSettings())
    try:
        first = await start_scheduler(rt)
        assert first is not None
        await first.stop()
        assert _referenced(engine) == GOOD
        _set_item(priority="urgent")(engine, BAD)  # an admin puts the row right
        again = await start_scheduler(rt)
        assert again is not None and again.catch_up is not None
        await again.stop()
    finally:
        rt.db.close()
    assert _referenced(engine) == GOOD | {BAD}
    events = [e["event"] for e in _set_aside_entries(engine, keyring, BAD)]
    assert events == ["set-aside", "set-aside-lifted"]
    assert len(_notices(engine)) == 1  # told when it was set aside; its return is in the log and the audit
    assert verify(engine, keyring).ok


async def test_a_bad_item_closed_meanwhile_is_no_longer_noted_as_set_aside_after_the_next_start(
        engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock, keyring: Keyring) -> None:
    _seed_three(uow_factory, clock)
    CORRUPTIONS["due-in-year-9999"](engine, BAD)
    rt = runtime_like(engine, uow_factory, clock, ReminderSettings())
    try:
        for close in (False, True):
            if close:
                _set_item(state="closed")(engine, BAD)
            scheduler = await start_scheduler(rt)
            assert scheduler is not None
            await scheduler.stop()
    finally:
        rt.db.close()
    with uow_factory() as uow:
        assert uow.reminders.set_aside_items("reminders") == {}
    assert [e["event"] for e in _set_aside_entries(engine, keyring, BAD)] == ["set-aside", "set-aside-lifted"]
    assert len(_notices(engine)) == 1


async def test_apschedulers_tick_job_runs_clean_with_a_bad_row_in_the_database(
        engine: Engine, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock,
        caplog: pytest.LogCaptureFixture) -> None:
    """The job itself, on APScheduler's clock: it ends as executed, not as an error every minute."""
    _seed_three(uow_factory, clock)
    rt = runtime_like(engine, uow_factory, clock, ReminderSettings())
    try:
        scheduler = await start_scheduler(rt)
        assert scheduler is not None and scheduler.scheduler is not None
        CORRUPTIONS["due-in-year-9999"](engine, BAD)  # after the start: the next tick meets it
        clock.advance(timedelta(hours=1))  # its plan falls due
        scheduler.scheduler.modify_job(TICK, next_run_time=datetime.now(timezone.utc))
        ran = await _events_of(scheduler, TICK, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        await scheduler.stop()
    finally:
        rt.db.close()
    assert [event.code for event in ran] == [EVENT_JOB_EXECUTED]
    assert len(_notices(engine)) == 1 and len(_tracebacks(caplog)) == 1
