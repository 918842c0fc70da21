"""handlers.ports.AbsenceRepository on SQL, and its table (migration 0014_away).

The note of an absence ("on leave") is the person's own word about their availability, not the
content of an item: it is kept in clear, as the directory keeps names and time zones.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, Index, String, Table, Text, bindparam, select, update

from alerts.away import Absence
from storage.schema import UtcDateTime, metadata

absences = Table(
    "absences",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("person", String(64), nullable=False),
    Column("delegate", String(64), nullable=False),
    Column("until", UtcDateTime, nullable=False),
    Column("note", String(200), nullable=False),
    Column("set_by", String(64), nullable=False),
    Column("set_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Column("ended_by", String(64)),
    Column("summarised_at", UtcDateTime),
    Column("acts", Text, nullable=False, default=""),  # what the delegate did, one per line
    Index("ix_absences_person", "person"),
    Index("ix_absences_delegate", "delegate"),
)


# Asked for every recipient of every item: built once, the person and the time as parameters.
_NOW = bindparam("now", type_=UtcDateTime())
_CURRENT = (select(absences).where(absences.c.person == bindparam("person"), absences.c.ended_at.is_(None),
                                   absences.c.set_at <= _NOW, absences.c.until > _NOW)
            .order_by(absences.c.set_at.desc()).limit(1))
_AWAY = (select(absences.c.person).distinct()
         .where(absences.c.person.in_(bindparam("persons", expanding=True)), absences.c.ended_at.is_(None),
                absences.c.set_at <= _NOW, absences.c.until > _NOW))


def _absence(row: Any) -> Absence:
    return Absence(row.id, row.person, row.delegate, row.until, row.note, row.set_by, row.set_at,
                   row.ended_at, row.ended_by, row.summarised_at, tuple(a for a in row.acts.split("\n") if a))


class SqlAbsences:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, absence: Absence) -> None:
        self._conn.execute(update(absences).where(absences.c.person == absence.person, absences.c.ended_at.is_(None))
                           .values(ended_at=absence.set_at, ended_by=absence.set_by))
        self._conn.execute(absences.insert().values(
            id=absence.id, person=absence.person, delegate=absence.delegate, until=absence.until, note=absence.note,
            set_by=absence.set_by, set_at=absence.set_at, ended_at=absence.ended_at, ended_by=absence.ended_by,
            summarised_at=absence.summarised_at, acts="\n".join(absence.acts)))

    def _running(self, now: datetime) -> Any:
        return (absences.c.ended_at.is_(None), absences.c.set_at <= now, absences.c.until > now)

    def current(self, person: str, now: datetime) -> Absence | None:
        row = self._conn.execute(_CURRENT, {"person": person, "now": now}).first()
        return _absence(row) if row is not None else None

    def away(self, persons: Collection[str], now: datetime) -> frozenset[str]:
        if not persons:
            return frozenset()
        rows = self._conn.execute(_AWAY, {"persons": sorted(set(persons)), "now": now})
        return frozenset(rows.scalars())

    def end(self, person: str, at: datetime, by: str) -> Absence | None:
        running = self.current(person, at)
        if running is None:
            return None
        self._conn.execute(update(absences).where(absences.c.id == running.id).values(ended_at=at, ended_by=by))
        return replace(running, ended_at=at, ended_by=by)

    def standing_in_for(self, delegate: str, now: datetime) -> list[Absence]:
        rows = self._conn.execute(select(absences).where(absences.c.delegate == delegate, *self._running(now))
                                  .order_by(absences.c.set_at, absences.c.id))
        return [_absence(row) for row in rows]

    def overlapping(self, person: str, start: datetime, end: datetime) -> list[Absence]:
        # Those begun before the end, in SQL; whether each ran past the start (ended, or its date) here.
        rows = self._conn.execute(select(absences).where(absences.c.person == person, absences.c.set_at < end)
                                  .order_by(absences.c.set_at, absences.c.id))
        return [a for a in map(_absence, rows) if a.back_at() > start]

    def note_act(self, absence_id: str, act: str) -> None:
        acts = self._conn.execute(select(absences.c.acts).where(absences.c.id == absence_id)).scalar_one_or_none()
        if acts is not None:
            self._conn.execute(update(absences).where(absences.c.id == absence_id)
                               .values(acts="\n".join(a for a in (*acts.split("\n"), act) if a)))

    def returned(self, now: datetime) -> list[Absence]:
        over = (absences.c.ended_at.is_not(None)) | (absences.c.until <= now)
        rows = self._conn.execute(select(absences).where(absences.c.summarised_at.is_(None), over)
                                  .order_by(absences.c.set_at, absences.c.id))
        return [_absence(row) for row in rows]

    def mark_summarised(self, absence_id: str, at: datetime) -> bool:
        done = self._conn.execute(update(absences).where(absences.c.id == absence_id,
                                                         absences.c.summarised_at.is_(None))
                                  .values(summarised_at=at))
        return done.rowcount == 1
