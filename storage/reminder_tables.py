"""The reminder tables (migration 0005_reminders), on the shared MetaData.

- reminder_log: every reminder and escalation ever sent (or superseded, or unreachable), under the
  deterministic key that is also its outbox key. It is what makes a reminder happen once: the
  scheduler notes the key first, and only a new key gets an outbox row and an audit entry.
- reminder_snoozes: /snooze, as asked (the reason is in the audit log, sealed).
- reminder_plans: when each open item must be looked at again. Only a cache of what the items,
  the log and the snoozes say, dropped and rebuilt at every start.
- scheduled_runs: digests and bulletins done, by day and month, so that a job fired twice posts once.
APScheduler's own job table (apscheduler_jobs) is made by APScheduler, outside the migrations: it
holds only the timers, which the bot rebuilds at start.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Integer, String, Table

from storage.schema import metadata
from storage.schema import UtcDateTime

TRACKS = ("ack", "feedback")
STAGES = ("before", "due", "repeat", "backup", "coordinators")
OUTCOMES = ("sent", "superseded", "unreachable")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=column)


reminder_log = Table(
    "reminder_log",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("item_reference", String(32), ForeignKey("items.reference"), nullable=False, index=True),
    Column("contact", String(200), nullable=False),  # who owes
    Column("track", String(16), nullable=False),
    Column("stage", String(16), nullable=False),
    Column("n", Integer, nullable=False),
    Column("target", String(200), nullable=False),  # who was told
    Column("planned_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),
    _one_of("track", TRACKS),
    _one_of("stage", STAGES),
    _one_of("outcome", OUTCOMES),
)

reminder_snoozes = Table(
    "reminder_snoozes",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("item_reference", String(32), ForeignKey("items.reference"), nullable=False, index=True),
    Column("contact", String(200)),  # NULL: every recipient of the item
    Column("held_until", UtcDateTime, nullable=False),
    Column("snoozed_by", String(200), nullable=False),
    Column("snoozed_at", UtcDateTime, nullable=False),
)

reminder_plans = Table(
    "reminder_plans",
    metadata,
    Column("item_reference", String(32), ForeignKey("items.reference"), primary_key=True),
    Column("next_at", UtcDateTime, index=True),  # NULL: nothing planned until the deliveries change
    # The item's deliveries and how many were sent, when it was planned: a forward or a send
    # changes what is due, so a difference plans the item again.
    Column("deliveries", Integer, nullable=False),
    Column("sent", Integer, nullable=False),
    Column("planned_at", UtcDateTime, nullable=False),
)

scheduled_runs = Table(
    "scheduled_runs",
    metadata,
    Column("key", String(100), primary_key=True),  # digest:2026-11-23, bulletin:2026-10
    Column("ran_at", UtcDateTime, nullable=False),
)

REMINDER_TABLES = (reminder_log, reminder_snoozes, reminder_plans, scheduled_runs)
