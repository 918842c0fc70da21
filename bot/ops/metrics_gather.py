"""What /metrics and /healthz report: read from the database at each scrape, plus what this process knows.

Counters come from the database rather than from counting in the process: they then agree on every
instance, survive restarts and carry over a failover (the standby reports what the active one
did). Outbox rows are never deleted (erasure destroys content, not rows), so a count of rows in a
final state only goes up, as a counter must. The cost is one pass over the outbox per scrape, cached
for CACHE_SECONDS so that several scrapers or /healthz do not multiply it.

Definitions:
- liaison_deliveries_total{platform,kind,outcome}: outbox messages sent, or given up on ("failed");
  kind is the message kind (delivery, receipt, answer, feedback, reminder, escalation, notice).
- liaison_delivery_latency_seconds{platform,kind}: from the outbox row's created_at to its sent_at.
- liaison_outbox_depth{platform,state}: messages not yet sent nor given up ("pending", "sending").
- liaison_overdue{track}: what `/overdue` lists (alerts.reminders.overdue): one per recipient who
  owes feedback ("feedback") or else an acknowledgement ("ack") past their due time, on an open
  item whose copy was sent to them, coordinators (who get copies to oversee) not counted.
- liaison_reminders_sent_total{kind}: reminder and escalation messages sent (outbox kind).
- liaison_audit_entries: the audit log's size (audit_head); liaison_audit_last_checkpoint_age_seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from sqlalchemy import Connection, Engine, case, func, select

from alerts.clock import Clock
from alerts.directory import Directory
from storage.audit.encoding import from_micros
from storage.audit.tables import audit_checkpoints, audit_head
from storage.db import READ_ONLY
from storage.tables import inbox, outbox

log = logging.getLogger(__name__)

LATENCY_BOUNDS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
CACHE_SECONDS = 5.0


@dataclass
class Snapshot:
    """The database's side of the metrics, read in one short read-only transaction."""

    now: datetime
    outbox_counts: dict[tuple[str, str, str], int] = field(default_factory=dict)  # (platform, kind, state)
    latency: dict[tuple[str, str], tuple[list[float], float, float]] = field(default_factory=dict)
    oldest_unsent: datetime | None = None
    inbox_counts: dict[str, int] = field(default_factory=dict)
    overdue: dict[str, int] = field(default_factory=dict)
    audit_entries: int = 0
    last_checkpoint: datetime | None = None
    checkpoint_size: int = 0

    @property
    def oldest_unsent_age(self) -> float | None:
        if self.oldest_unsent is None:
            return None
        return max(0.0, (self.now - self.oldest_unsent).total_seconds())


def _latency_seconds(dialect: str) -> Any:
    c = outbox.c
    if dialect == "postgresql":
        return func.extract("epoch", c.sent_at - c.created_at)
    # SQLite keeps UTC wall times as text; julianday reads them to the millisecond.
    return (func.julianday(c.sent_at) - func.julianday(c.created_at)) * 86400.0


def read_snapshot(conn: Connection, now: datetime, directory: Directory | None) -> Snapshot:
    snap = Snapshot(now)
    c = outbox.c
    for platform, kind, state, n in conn.execute(
            select(c.platform, c.kind, c.state, func.count()).group_by(c.platform, c.kind, c.state)):
        snap.outbox_counts[(platform, kind, state)] = n
    latency = _latency_seconds(conn.dialect.name)
    buckets = [func.sum(case((latency <= bound, 1), else_=0)) for bound in LATENCY_BOUNDS]
    for row in conn.execute(select(c.platform, c.kind, func.count(), func.sum(latency), *buckets)
                            .where(c.state == "sent", c.sent_at.is_not(None)).group_by(c.platform, c.kind)):
        platform, kind, count, total, *cumulative = row
        snap.latency[(platform, kind)] = ([float(b or 0) for b in cumulative], float(total or 0), float(count))
    snap.oldest_unsent = conn.execute(
        select(func.min(c.created_at)).where(c.state.in_(("pending", "sending")))).scalar_one()
    snap.inbox_counts = dict(conn.execute(select(inbox.c.state, func.count()).group_by(inbox.c.state)).all())
    snap.overdue = _overdue(conn, now, directory)
    snap.audit_entries = conn.execute(select(audit_head.c.seq).where(audit_head.c.id == 1)).scalar() or 0
    last_us, size = conn.execute(select(func.max(audit_checkpoints.c.created_at_us),
                                        func.max(audit_checkpoints.c.tree_size))).one()
    snap.last_checkpoint = from_micros(last_us) if last_us is not None else None
    snap.checkpoint_size = size or 0
    return snap


def _overdue(conn: Connection, now: datetime, directory: Directory | None) -> dict[str, int]:
    """The /overdue definition itself (alerts.reminders.overdue), so the gauge and the command agree."""
    if directory is None:
        return {}
    from alerts.reminders import overdue
    from storage.reminders import SqlReminders

    counts = {"ack": 0, "feedback": 0}
    for owed in overdue(SqlReminders(conn).overdue(now), now, directory):
        counts[owed.track.value] = counts.get(owed.track.value, 0) + 1
    return counts


class DatabaseMetrics:
    """Reads Snapshots from `engine` (blocking: call it from a thread), cached for CACHE_SECONDS."""

    def __init__(self, engine: Engine, clock: Clock, directory: Any = None, cache_seconds: float = CACHE_SECONDS
                 ) -> None:
        self.cache_seconds = cache_seconds
        self._engine = engine
        self._clock = clock
        self._directory = directory  # a DirectorySource (current()) or None
        self._lock = threading.Lock()
        self._cached: tuple[float, Snapshot] | None = None

    def snapshot(self) -> Snapshot:
        with self._lock:
            if self._cached is not None and time.monotonic() - self._cached[0] < self.cache_seconds:
                return self._cached[1]
            directory = self._directory.current() if self._directory is not None else None
            with self._engine.connect() as conn:
                conn.execution_options(**READ_ONLY)
                with conn.begin():
                    snap = read_snapshot(conn, self._clock.now(), directory)
            self._cached = (time.monotonic(), snap)
            return snap


class _Scrape(Collector):
    """One scrape's families, built from this process's state and the snapshot (None: the database
    did not answer). prometheus_client renders them; label values come from fixed vocabularies
    (platforms, kinds, states), never content, references or people."""

    def __init__(self, snap: Snapshot | None, role: str, connectors: dict[str, bool], scheduler: bool | None,
                 scrape_seconds: float) -> None:
        self._snap, self._role, self._connectors = snap, role, connectors
        self._scheduler, self._scrape_seconds = scheduler, scrape_seconds

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("liaison_instance_active", "1 when this instance is the active one, 0 on a standby.",
                                value=1 if self._role == "active" else 0)
        connected = GaugeMetricFamily("liaison_connector_connected", "1 when the platform connector is connected.",
                                      labels=("platform",))
        for platform, ok in sorted(self._connectors.items()):
            connected.add_metric((platform,), 1 if ok else 0)
        yield connected
        yield GaugeMetricFamily("liaison_scheduler_running", "1 when this instance runs the reminder scheduler.",
                                value=1 if self._scheduler else 0)
        yield GaugeMetricFamily("liaison_database_up", "1 when the database answered this scrape.",
                                value=1 if self._snap else 0)
        yield GaugeMetricFamily("liaison_metrics_gather_seconds", "Time spent reading the database for this scrape.",
                                value=round(self._scrape_seconds, 6))
        if self._snap is not None:
            yield from _database_families(self._snap)


def _database_families(snap: Snapshot) -> Iterator[Metric]:
    deliveries = CounterMetricFamily("liaison_deliveries", "Outbox messages by platform, kind and outcome "
                                     "(sent, or failed: given up on).", labels=("platform", "kind", "outcome"))
    depth = GaugeMetricFamily("liaison_outbox_depth", "Outbox messages not yet sent nor given up on.",
                              labels=("platform", "state"))
    sent_reminders = {"reminder": 0, "escalation": 0}
    unsent: dict[tuple[str, str], int] = {}
    for (platform, kind, state), n in sorted(snap.outbox_counts.items()):
        if state in ("sent", "failed"):
            deliveries.add_metric((platform, kind, state), n)
        else:
            unsent[(platform, state)] = unsent.get((platform, state), 0) + n
        if state == "sent" and kind in sent_reminders:
            sent_reminders[kind] += n
    for labels, n in sorted(unsent.items()):
        depth.add_metric(labels, n)
    yield deliveries
    yield depth
    reminders = CounterMetricFamily("liaison_reminders_sent", "Reminders and escalations sent.", labels=("kind",))
    for kind, n in sent_reminders.items():
        reminders.add_metric((kind,), n)
    yield reminders
    latency = HistogramMetricFamily("liaison_delivery_latency_seconds", "From an outbox row's creation to its "
                                    "sending.", labels=("platform", "kind"))
    for (platform, kind), (cumulative, total, count) in sorted(snap.latency.items()):
        buckets = [(floatToGoString(bound), n) for bound, n in zip(LATENCY_BOUNDS, cumulative)]
        latency.add_metric((platform, kind), [*buckets, ("+Inf", count)], total)
    yield latency
    yield GaugeMetricFamily("liaison_outbox_oldest_age_seconds", "Age of the oldest unsent outbox message "
                            "(0 when none).", value=snap.oldest_unsent_age or 0)
    yield GaugeMetricFamily("liaison_inbox_pending", "Received events not handled yet.",
                            value=snap.inbox_counts.get("pending", 0))
    handled = CounterMetricFamily("liaison_inbox_events", "Received events handled, by outcome (done, failed).",
                                  labels=("outcome",))
    for outcome in ("done", "failed"):
        handled.add_metric((outcome,), snap.inbox_counts.get(outcome, 0))
    yield handled
    overdue = GaugeMetricFamily("liaison_overdue", "What /overdue lists: recipients past due on an open item, by "
                                "what they owe (feedback, or else an acknowledgement).", labels=("track",))
    for track, n in sorted(snap.overdue.items()):
        overdue.add_metric((track,), n)
    yield overdue
    yield GaugeMetricFamily("liaison_audit_entries", "Entries in the audit log.", value=snap.audit_entries)
    yield GaugeMetricFamily("liaison_audit_checkpoint_size", "Entries covered by the last signed checkpoint.",
                            value=snap.checkpoint_size)
    age = GaugeMetricFamily("liaison_audit_last_checkpoint_age_seconds", "Age of the last signed checkpoint "
                            "(absent when there is none).")
    if snap.last_checkpoint is not None:
        age.add_metric((), max(0.0, (snap.now - snap.last_checkpoint).total_seconds()))
    yield age


def render_metrics(snap: Snapshot | None, role: str, connectors: dict[str, bool], scheduler: bool | None,
                   scrape_seconds: float, accept: str | None = None) -> tuple[bytes, str]:
    """The exposition (body, content type) in the format the scraper's Accept header asks for: this
    process's state always, the database's when `snap` was read."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Scrape(snap, role, connectors, scheduler, scrape_seconds))
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type
