"""The reminder repository's contract, held by the SQL repository (SQLite, PostgreSQL) and the fake alike;
and migration 0005_reminders against storage.reminder_tables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from alerts.clock import ManualClock
from alerts.items import ItemKind, Reference
from alerts.lifecycle import Closure
from alerts.reminders import Reminder, Snooze, Stage, Track, overdue
from handlers.ports import SetAside
from storage.db import create_engine_for
from storage.migrate import current_revision, downgrade, upgrade
from storage.reminder_tables import REMINDER_TABLES
from storage.schema import metadata
from storage.tables import items
from tests.sample_network import small_network
from tests.scheduler.support import seed

NAMES = {t.name for t in REMINDER_TABLES}


def reminder(ref: str, stage: Stage = Stage.DUE, clock: ManualClock | None = None) -> Reminder:
    at = clock.now() if clock else ManualClock().now()
    return Reminder(ref, "my-npoc", Track.ACK, stage, 0, "my-npoc", at, at)


def test_a_reminder_and_a_run_are_noted_once(make_uow: Callable, clock: ManualClock) -> None:
    ref = seed(make_uow, 1, clock.now())
    with make_uow() as uow:
        assert uow.reminders.record(reminder(ref), "sent", clock.now())
        assert not uow.reminders.record(reminder(ref), "superseded", clock.now())
        assert uow.reminders.claim("digest:2026-11-23", clock.now())
        assert not uow.reminders.claim("digest:2026-11-23", clock.now())
        uow.commit()
    with make_uow() as uow:
        [follow] = uow.reminders.follow_ups([ref])
        assert follow.done == {reminder(ref).key}
        assert not uow.reminders.record(reminder(ref), "sent", clock.now())  # after commit too


def test_an_item_set_aside_by_the_reminders_round_is_no_candidate_until_taken_back(
        make_uow: Callable, clock: ManualClock) -> None:
    now = clock.now()
    first, second = seed(make_uow, 1, now), seed(make_uow, 2, now)
    aside = SetAside("reminders", "OverflowError", "E-ABCDEF", now)
    with make_uow() as uow:
        assert uow.reminders.set_aside(first, aside)
        assert not uow.reminders.set_aside(first, replace(aside, error_ref="E-GHJKLM"))  # noted once
        assert uow.reminders.set_aside(second, replace(aside, loop="digest"))  # another round's: still planned
        uow.commit()
    with make_uow() as uow:
        assert uow.reminders.candidates(now, 10) == [second]
        assert uow.reminders.set_aside_items("reminders") == {first: aside}  # as it was noted, after a restart too
        assert set(uow.reminders.set_aside_items("digest")) == {second}
        uow.reminders.restore(first, "reminders")
        uow.commit()
    with make_uow() as uow:
        assert uow.reminders.candidates(now, 10) == [first, second]
        assert uow.reminders.set_aside_items("reminders") == {}


def test_only_what_is_not_committed_is_forgotten(make_uow: Callable, clock: ManualClock) -> None:
    ref = seed(make_uow, 1, clock.now())
    with make_uow() as uow:
        uow.reminders.record(reminder(ref), "sent", clock.now())  # no commit: as if the round failed
    with make_uow() as uow:
        assert uow.reminders.follow_ups([ref])[0].done == frozenset()


def test_items_are_planned_again_when_due_when_forgotten_or_when_their_deliveries_change(
        make_uow: Callable, clock: ManualClock) -> None:
    now = clock.now()
    first = seed(make_uow, 1, now)
    second = seed(make_uow, 2, now, sent_after=None)  # not delivered yet
    with make_uow() as uow:
        assert uow.reminders.candidates(now, 10) == [first, second]  # never planned
        uow.reminders.set_plans({first: now + timedelta(hours=1), second: None}, now)
        uow.commit()
    with make_uow() as uow:
        assert uow.reminders.candidates(now, 10) == []
        assert uow.reminders.candidates(now + timedelta(hours=1), 10) == [first]
        uow.items.mark_delivery("d-2-my-npoc", "sent", now, "m")  # the copy went out: plan again
        assert uow.reminders.candidates(now, 10) == [second]
        uow.reminders.forget_plans()
        assert uow.reminders.candidates(now, 1) == [first]  # at most `limit`, by reference
        uow.items.close(Reference(ItemKind.ALERT, 2026, 1), Closure("my-officer", now, ""))
        assert uow.reminders.candidates(now, 10) == [second]  # closed items are never looked at
        assert [f.reference for f in uow.reminders.follow_ups([first, second])] == [second]


def test_a_snooze_is_kept_and_plans_the_item_again(make_uow: Callable, clock: ManualClock) -> None:
    now = clock.now()
    ref = seed(make_uow, 1, now)
    with make_uow() as uow:
        uow.reminders.set_plans({ref: None}, now)
        uow.reminders.add_snooze(ref, Snooze("my-npoc", now + timedelta(hours=4), "my-npoc", now))
        uow.commit()
    with make_uow() as uow:
        assert uow.reminders.candidates(now, 10) == [ref]
        [follow] = uow.reminders.follow_ups([ref], lock=True)
        assert follow.snoozes == (Snooze("my-npoc", now + timedelta(hours=4), "my-npoc", now),)
        assert follow.snoozed_until("my-npoc") == now + timedelta(hours=4) and follow.snoozed_until("x") is None


def test_overdue_finds_every_unanswered_delivered_copy_past_the_items_due_time(
        make_uow: Callable, clock: ManualClock) -> None:
    """The repository may return more (the fake returns every open item); the domain decides."""
    now = clock.now()
    late = seed(make_uow, 1, now - timedelta(hours=2))
    seed(make_uow, 2, now - timedelta(hours=2), sent_after=None)  # never delivered: not theirs to owe
    seed(make_uow, 3, now - timedelta(hours=2))  # answered below: owes nothing
    seed(make_uow, 4, now)  # not due yet
    with make_uow() as uow:
        uow.items.mark_delivery("d-3-my-npoc", "answered", now, None)
        found = uow.reminders.overdue(now)
    assert late in {f.reference for f in found}
    assert [o.item.reference for o in overdue(found, now, small_network())] == [late]


def test_times_and_summaries_of_the_items_created_in_a_period(make_uow: Callable, clock: ManualClock) -> None:
    now = clock.now()
    seed(make_uow, 1, now - timedelta(days=40))
    ref = seed(make_uow, 2, now - timedelta(days=1), to=("th-npoc", "my-npoc"))
    with make_uow() as uow:
        uow.items.mark_delivery("d-2-th-npoc", "acknowledged", now, None)
        times = uow.reminders.exchange_times(now - timedelta(days=30), now)
        [summary] = uow.reminders.summaries(now - timedelta(days=30), now)
    assert [(t.reference, t.contact, t.acknowledged_at, t.open) for t in times] == [
        (ref, "th-npoc", now, True), (ref, "my-npoc", None, True)]
    assert (summary.reference, summary.originator, summary.recipients) == (ref, "my-officer", ("th-npoc", "my-npoc"))


def _diffs_about_reminder_tables(url: str) -> list:
    engine = create_engine_for(url)
    ours = MetaData(naming_convention=metadata.naming_convention)
    for table in (items, *REMINDER_TABLES):  # items: their foreign keys point at it
        table.to_metadata(ours)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), ours)
    finally:
        engine.dispose()
    return [d for d in diffs if _table_of(d) in NAMES]


def _table_of(diff: object) -> str | None:
    if isinstance(diff, list):  # column changes: [(op, schema, table, column, ...)]
        return diff[0][2]
    part = diff[1]  # type: ignore[index]
    return getattr(part, "name", None) if hasattr(part, "columns") else getattr(getattr(part, "table", None), "name", None)


def test_the_migration_builds_exactly_the_reminder_tables_in_code(db_url: str) -> None:
    assert _diffs_about_reminder_tables(db_url) == []


def test_the_reminders_revision_builds_on_the_directory_and_downgrades_cleanly(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        upgrade(engine, "0005_reminders")
        assert NAMES <= set(inspect(engine).get_table_names())
        downgrade(engine, "0004_directory")
        assert current_revision(engine) == "0004_directory"
        assert not NAMES & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert NAMES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
