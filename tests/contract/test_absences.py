"""Absences (/away) behave alike on the fakes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from alerts.away import Absence
from alerts.clock import ManualClock
from tests.contract.conftest import Backend


def test_an_absence_runs_until_its_date_or_its_end_and_is_summarised_once(backend: Backend,
                                                                          clock: ManualClock) -> None:
    now = clock.now()
    first = Absence("a1", "th-npoc", "th-immigration", now + timedelta(days=2), "on leave", "th-npoc", now)
    with backend.factory() as uow:
        assert uow.absences.current("th-npoc", now) is None
        uow.absences.add(first)
        uow.commit()
    with backend.factory() as uow:
        assert uow.absences.current("th-npoc", now) == first
        assert uow.absences.away(["th-npoc", "th-immigration", "nobody"], now) == {"th-npoc"}
        assert uow.absences.away(["th-npoc"], now + timedelta(days=2)) == frozenset()  # its date passed
        assert uow.absences.away(["th-npoc"], now - timedelta(seconds=1)) == frozenset()  # not yet set
        assert uow.absences.away([], now) == frozenset()
        assert uow.absences.current("th-npoc", now + timedelta(days=2)) is None  # its date passed
        assert uow.absences.current("th-npoc", now - timedelta(seconds=1)) is None  # not yet set
        assert uow.absences.standing_in_for("th-immigration", now) == [first]
        assert uow.absences.standing_in_for("th-npoc", now) == []
        assert uow.absences.returned(now) == []
        assert [a.id for a in uow.absences.returned(now + timedelta(days=2))] == ["a1"]
    # A new one for the same person ends the running one.
    later = now + timedelta(hours=1)
    second = Absence("a2", "th-npoc", "th-deputy", now + timedelta(days=3), "", "rso-coord", later)
    with backend.factory() as uow:
        uow.absences.add(second)
        uow.commit()
    with backend.factory() as uow:
        assert uow.absences.current("th-npoc", later) == second
        assert [(a.id, a.ended_at, a.ended_by) for a in uow.absences.returned(later)] == [("a1", later, "rso-coord")]
        assert uow.absences.end("th-deputy", later, "x") is None  # nobody else is away
        uow.absences.note_act("a2", "acknowledged A-2026-0001")
        uow.absences.note_act("a2", "replied to A-2026-0001")
        uow.absences.note_act("no-such", "x")
        ended = uow.absences.end("th-npoc", later + timedelta(minutes=5), "th-npoc")
        assert ended is not None and (ended.id, ended.ended_at) == ("a2", later + timedelta(minutes=5))
        uow.commit()
    with backend.factory() as uow:
        assert uow.absences.current("th-npoc", later + timedelta(minutes=6)) is None
        assert uow.absences.away(["th-npoc"], later + timedelta(minutes=6)) == frozenset()  # ended
        assert uow.absences.mark_summarised("a1", later)
        assert not uow.absences.mark_summarised("a1", later)
        assert not uow.absences.mark_summarised("no-such", later)
        uow.commit()
    with backend.factory() as uow:
        [back] = uow.absences.returned(later + timedelta(minutes=6))
        assert (back.id, back.acts) == ("a2", ("acknowledged A-2026-0001", "replied to A-2026-0001"))
        uow.absences.mark_summarised("a2", later)
        # Not committed: rolled back.
    with backend.factory() as uow:
        assert [a.id for a in uow.absences.returned(later + timedelta(minutes=6))] == ["a2"]


def test_the_absences_of_a_person_overlapping_a_period(backend: Backend, clock: ManualClock) -> None:
    # The summary of someone back says when their delegate was away too: what overlapped their period.
    now = clock.now()
    hour = timedelta(hours=1)
    over = Absence("b1", "th-immigration", "th-deputy", now + 2 * hour, "", "th-immigration", now)
    running = Absence("b2", "th-immigration", "th-deputy", now + 48 * hour, "", "th-immigration", now + 5 * hour)
    with backend.factory() as uow:
        uow.absences.add(over)
        uow.absences.add(running)
        uow.absences.add(Absence("b3", "th-npoc", "th-immigration", now + 48 * hour, "", "th-npoc", now))
        uow.commit()
    with backend.factory() as uow:
        assert [a.id for a in uow.absences.overlapping("th-immigration", now, now + 72 * hour)] == ["b1", "b2"]
        assert [a.id for a in uow.absences.overlapping("th-immigration", now + 3 * hour, now + 4 * hour)] == []
        assert [a.id for a in uow.absences.overlapping("th-immigration", now + hour, now + 3 * hour)] == ["b1"]
        assert [a.id for a in uow.absences.overlapping("th-immigration", now + 4 * hour, now + 6 * hour)] == ["b2"]
        assert [a.id for a in uow.absences.overlapping("th-immigration", now - 2 * hour, now)] == []  # ends at start
        assert uow.absences.overlapping("nobody", now, now + 72 * hour) == []
