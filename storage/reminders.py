"""handlers.ports.ReminderRepository on SQLAlchemy (uow.reminders of storage.uow.SqlUnitOfWork).

Only clear columns are read: reminders never carry an item's content, so nothing is unsealed here.
Locking (follow_ups(lock=True)): on PostgreSQL the round first locks the audit log's head row, the
lock every command takes first (its COMMAND entry) and every audit append takes. So an /ack, a
/reply or a /close either committed before the round reads the item, or waits for the round to
commit. Locking the deliveries' rows instead would deadlock with the delivery worker, which marks
a delivery sent and then appends to the audit log: the opposite order. On SQLite the BEGIN
IMMEDIATE that starts every write transaction already makes the round the only writer.

A row whose stored values cannot be read (SQLite text that is no time, PostgreSQL's 'infinity', a
priority no code knows) is left out of what is loaded and noted in `unreadable()`: a round reads
its items in batches, and one such row must not keep the batch's other items from their reminders.
Items set aside (handlers.followup_reminders) are noted in the `cursors` table as
"set-aside:<round>:<reference>", so the note survives restarts without a table of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, delete, func, literal, or_, select
from sqlalchemy.exc import DataError
from sqlalchemy.sql.elements import BindParameter

from alerts.caveats import Caveat, Handling, Tlp
from alerts.lifecycle import DeliveryState, Progress
from alerts.priority import Priority
from alerts.reminders import FollowUp, Reminder, Snooze, Track
from alerts.stats import ExchangeTimes
from handlers.ports import ItemSummary, SetAside
from storage.audit.log import lock_head
from storage.db import insert_for
from storage.reminder_tables import reminder_log, reminder_plans, reminder_snoozes, scheduled_runs
from storage.tables import cursors, deliveries, items, outbox

CHUNK = 500  # references per IN (...) list
_OPEN = "open"
SET_ASIDE = "set-aside:"  # + "<round>:<reference>": a row of the cursors table
# What reading a stored value the code cannot take raises: SQLite text that is no time
# (ValueError), PostgreSQL's 'infinity' (psycopg's DataError, raised as the row is fetched), a
# value no enum knows (ValueError), a time outside Python's years (OverflowError).
UNREADABLE = (ValueError, TypeError, OverflowError, DataError)

T = TypeVar("T")


def _chunks(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start:start + CHUNK]


def _caveat(row: Any) -> Caveat:
    return Caveat(Tlp(row.tlp), Handling(row.handling), bool(row.orcon))


# The statements of a round, built once: an expanding parameter takes each batch's references
# without building (and coercing) a new IN list every time.
_REFS: BindParameter[list[str]] = bindparam("refs", expanding=True)
# A revision (/correct) is reminded from when it was made, with its own allowance.
_ITEMS = (select(items.c.reference, items.c.priority, items.c.tlp, items.c.handling, items.c.orcon,
                 func.coalesce(items.c.revised_at, items.c.created_at).label("created_at"),
                 items.c.ack_due, items.c.feedback_due, items.c.originator, items.c.revision)
          .where(items.c.reference.in_(_REFS), items.c.state == _OPEN).order_by(items.c.reference))
# A copy's state and send time are all reminders need: the times of its acknowledgement and answer
# are left out (turning stored text into dates is most of the cost of a round on SQLite).
_COPIES = (select(deliveries.c.item_reference, deliveries.c.contact, deliveries.c.state, deliveries.c.sent_at)
           .where(deliveries.c.item_reference.in_(_REFS)).order_by(deliveries.c.id))
_DONE = select(reminder_log.c.item_reference, reminder_log.c.key).where(reminder_log.c.item_reference.in_(_REFS))
_SNOOZES = (select(reminder_snoozes).where(reminder_snoozes.c.item_reference.in_(_REFS))
            .order_by(reminder_snoozes.c.id))


class SqlReminders:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        # (deliveries, sent) of the items loaded in this transaction, for set_plans to store
        # without counting again: a round loads its items, then plans them, in one transaction.
        self._counts: dict[str, tuple[int, int]] = {}
        self._unreadable: dict[str, Exception] = {}

    def unreadable(self) -> Mapping[str, Exception]:
        found, self._unreadable = self._unreadable, {}
        return found

    def _each(self, load: Callable[[Sequence[str]], list[T]], references: Sequence[str]) -> list[T]:
        """load(references); if a stored value cannot be read, each reference alone, noting those that fail."""
        try:
            return load(references)
        except UNREADABLE as error:
            if len(references) == 1:
                self._unreadable[references[0]] = error
                return []
        return [found for reference in references for found in self._each(load, [reference])]

    def candidates(self, now: datetime, limit: int) -> list[str]:
        d, p, i = deliveries.c, reminder_plans.c, items.c
        counts = (select(d.item_reference.label("ref"), func.count().label("n"), func.count(d.sent_at).label("sent"))
                  .group_by(d.item_reference).subquery())
        query = (
            select(i.reference)
            .select_from(items.outerjoin(reminder_plans, p.item_reference == i.reference)
                         .outerjoin(counts, counts.c.ref == i.reference)
                         .outerjoin(cursors, cursors.c.name == literal(SET_ASIDE + "reminders:") + i.reference))
            .where(i.state == _OPEN, cursors.c.name.is_(None))
            .where(or_(p.item_reference.is_(None), p.next_at <= now, p.deliveries != func.coalesce(counts.c.n, 0),
                       p.sent != func.coalesce(counts.c.sent, 0)))
            .order_by(i.reference)
            .limit(limit)
        )
        return list(self._conn.execute(query).scalars())

    def follow_ups(self, references: Sequence[str], *, lock: bool = False) -> list[FollowUp]:
        if lock and self._conn.dialect.name == "postgresql":
            lock_head(self._conn)
        found: list[FollowUp] = []
        for chunk in _chunks(sorted(set(references))):
            found += self._each(self._load, chunk)
        return found

    def _load(self, references: Sequence[str]) -> list[FollowUp]:
        rows = self._conn.execute(_ITEMS, {"refs": list(references)}).all()
        if not rows:
            return []
        wanted = {"refs": [row.reference for row in rows]}
        progress: dict[str, list[Progress]] = {ref: [] for ref in wanted["refs"]}
        for ref, contact, state, sent_at in self._conn.execute(_COPIES, wanted):
            progress[ref].append(Progress(contact, DeliveryState(state), sent_at))
        for ref, found in progress.items():
            self._counts[ref] = (len(found), sum(p.sent_at is not None for p in found))
        done: dict[str, set[str]] = {ref: set() for ref in wanted["refs"]}
        for ref, key in self._conn.execute(_DONE, wanted):
            done[ref].add(key)
        snoozes: dict[str, list[Snooze]] = {ref: [] for ref in wanted["refs"]}
        for row in self._conn.execute(_SNOOZES, wanted):
            snoozes[row.item_reference].append(Snooze(row.contact, row.held_until, row.snoozed_by, row.snoozed_at))
        return [
            FollowUp(row.reference, Priority(row.priority), _caveat(row), row.created_at, row.ack_due, row.feedback_due,
                     row.originator, True, tuple(progress[row.reference]), frozenset(done[row.reference]),
                     tuple(snoozes[row.reference]), row.revision or 1)
            for row in rows
        ]

    def record(self, reminder: Reminder, outcome: str, at: datetime) -> bool:
        stmt = insert_for(self._conn, reminder_log).values(
            key=reminder.key, item_reference=reminder.reference, contact=reminder.contact,
            track=reminder.track.value, stage=reminder.stage.value, n=reminder.n, target=reminder.target,
            planned_at=reminder.planned_at, recorded_at=at, outcome=outcome,
        )
        return self._inserted(stmt, reminder_log.c.key)

    def sent_about(self, reference: str, contact: str | None, tracks: AbstractSet[Track]) -> list[str]:
        log = reminder_log.c
        query = select(log.key).where(log.item_reference == reference, log.outcome == "sent",
                                      log.track.in_(sorted(t.value for t in tracks)))
        if contact is not None:
            query = query.where(log.contact == contact)
        return list(self._conn.execute(query.order_by(log.recorded_at, log.key)).scalars())

    def claim(self, key: str, at: datetime) -> bool:
        stmt = insert_for(self._conn, scheduled_runs).values(key=key, ran_at=at)
        return self._inserted(stmt, scheduled_runs.c.key)

    def _inserted(self, stmt: Any, key: Any) -> bool:
        """Insert unless the key is there; whether it was new. RETURNING, not rowcount, which
        psycopg reports as -1 here (as storage.inbox found)."""
        returning = stmt.on_conflict_do_nothing(index_elements=[key]).returning(key)
        return self._conn.execute(returning).scalar_one_or_none() is not None

    def set_plans(self, next_at: Mapping[str, datetime | None], at: datetime) -> None:
        if not next_at:
            return
        d = deliveries.c
        counts = {ref: self._counts.get(ref, (0, 0)) for ref in next_at}
        for chunk in _chunks([ref for ref in next_at if ref not in self._counts]):
            for ref, n, sent in self._conn.execute(
                    select(d.item_reference, func.count(), func.count(d.sent_at))
                    .where(d.item_reference.in_(chunk)).group_by(d.item_reference)):
                counts[ref] = (n, sent)
        stmt = insert_for(self._conn, reminder_plans)
        stmt = stmt.on_conflict_do_update(index_elements=["item_reference"], set_={
            "next_at": stmt.excluded.next_at, "deliveries": stmt.excluded.deliveries, "sent": stmt.excluded.sent,
            "planned_at": stmt.excluded.planned_at})
        self._conn.execute(stmt, [
            {"item_reference": ref, "next_at": moment, "deliveries": counts[ref][0], "sent": counts[ref][1],
             "planned_at": at}
            for ref, moment in next_at.items()
        ])

    def forget_plans(self) -> None:
        self._conn.execute(delete(reminder_plans))

    def set_aside(self, reference: str, aside: SetAside) -> bool:
        value = json.dumps({"error": aside.error, "error_ref": aside.error_ref, "at": aside.at.isoformat()},
                           sort_keys=True)
        name = f"{SET_ASIDE}{aside.loop}:{reference}"
        return self._inserted(insert_for(self._conn, cursors).values(name=name, value=value), cursors.c.name)

    def set_aside_items(self, loop: str) -> dict[str, SetAside]:
        prefix = f"{SET_ASIDE}{loop}:"
        found = {}
        for name, value in self._conn.execute(select(cursors.c.name, cursors.c.value)
                                              .where(cursors.c.name.startswith(prefix, autoescape=True))):
            note = json.loads(value)
            found[name.removeprefix(prefix)] = SetAside(loop, note["error"], note["error_ref"],
                                                        datetime.fromisoformat(note["at"]))
        return found

    def restore(self, reference: str, loop: str) -> None:
        self._conn.execute(delete(cursors).where(cursors.c.name == f"{SET_ASIDE}{loop}:{reference}"))

    def add_snooze(self, reference: str, snooze: Snooze) -> None:
        self._conn.execute(reminder_snoozes.insert().values(
            item_reference=reference, contact=snooze.contact, held_until=snooze.until, snoozed_by=snooze.by,
            snoozed_at=snooze.at))
        self._conn.execute(delete(reminder_plans).where(reminder_plans.c.item_reference == reference))

    def overdue(self, now: datetime) -> list[FollowUp]:
        i, d = items.c, deliveries.c
        references = self._conn.execute(
            select(i.reference).distinct().join(deliveries, d.item_reference == i.reference)
            .where(i.state == _OPEN, d.sent_at.is_not(None), d.answered_at.is_(None))
            .where(or_(i.ack_due <= now, i.feedback_due <= now))
        ).scalars().all()
        return self.follow_ups(references)

    def exchange_times(self, since: datetime, until: datetime) -> list[ExchangeTimes]:
        i, d = items.c, deliveries.c
        rows = self._conn.execute(
            select(i.reference, d.contact, i.created_at, i.state, d.sent_at, d.acknowledged_at, d.answered_at,
                   i.ack_due, i.feedback_due)
            .join(deliveries, d.item_reference == i.reference)
            .where(i.created_at >= since, i.created_at < until).order_by(i.created_at, d.id)
        ).all()
        return [ExchangeTimes(r.reference, r.contact, r.created_at, r.state == _OPEN, r.sent_at, r.acknowledged_at,
                              r.answered_at, r.ack_due, r.feedback_due) for r in rows]

    def summaries(self, since: datetime, until: datetime) -> list[ItemSummary]:
        i = items.c
        references = list(self._conn.execute(
            select(i.reference).where(i.created_at >= since, i.created_at < until).order_by(i.created_at, i.reference)
        ).scalars())
        return [summary for chunk in _chunks(references) for summary in self._each(self._summaries, chunk)]

    def _summaries(self, references: Sequence[str]) -> list[ItemSummary]:
        i, d = items.c, deliveries.c
        rows = self._conn.execute(
            select(i.reference, i.tlp, i.handling, i.orcon, i.priority, i.topic, i.originator, i.created_at)
            .where(i.reference.in_(references)).order_by(i.created_at, i.reference)
        ).all()
        recipients: dict[str, list[str]] = {row.reference: [] for row in rows}
        holders: dict[str, list[str]] = {row.reference: [] for row in rows}
        # The outbox row's contact: a delegate's, where the copy went to someone standing in.
        for ref, contact, sent_to in self._conn.execute(
                select(d.item_reference, d.contact, outbox.c.contact)
                .select_from(deliveries.outerjoin(outbox, outbox.c.key == d.outbox_key))
                .where(d.item_reference.in_(references)).order_by(d.id)):
            recipients[ref].append(contact)
            if sent_to is not None and sent_to != contact:
                holders[ref].append(sent_to)
        return [ItemSummary(r.reference, _caveat(r), Priority(r.priority), r.topic, r.originator,
                            tuple(recipients[r.reference]), r.created_at, tuple(holders[r.reference])) for r in rows]
