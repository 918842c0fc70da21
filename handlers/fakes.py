"""In-memory fakes of the storage ports, for tests that read like conversations with the bot.

They keep the contract that matters: nothing is visible until commit, and an exception (or a
missing commit) leaves the store as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType

from alerts.audit import AuditEvent
from alerts.directory import Directory
from alerts.items import Item, ItemKind, ItemState, Reference
from alerts.lifecycle import (
    Closure, DeliveryState, ForwardRequest, ForwardState, close_step, delivery_step, forward_step,
)
from alerts.messages import InboundMessage, OutboundMessage
from alerts.reminders import FollowUp, Reminder, Snooze
from alerts.routing import Route
from alerts.stats import ExchangeTimes
from handlers.ports import DeliveryRecord, ItemRecord, ItemSummary, SetAside

# Which time a delivery state records, as storage keeps it: the first time counts.
_MOMENT = {DeliveryState.SENT: "sent_at", DeliveryState.ACKNOWLEDGED: "acknowledged_at",
           DeliveryState.ANSWERED: "answered_at"}


@dataclass
class MemoryStore:
    counters: dict[tuple[str, int], int] = field(default_factory=dict)
    items: dict[str, ItemRecord] = field(default_factory=dict)
    forwards: dict[str, ForwardRequest] = field(default_factory=dict)
    outbox: dict[str, OutboundMessage] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    reminder_log: dict[str, tuple[Reminder, str]] = field(default_factory=dict)  # key -> (reminder, outcome)
    snoozes: dict[str, tuple[Snooze, ...]] = field(default_factory=dict)
    plans: dict[str, tuple[datetime | None, tuple[int, int]]] = field(default_factory=dict)
    runs: dict[str, datetime] = field(default_factory=dict)  # digests and bulletins done, by key
    set_aside: dict[tuple[str, str], SetAside] = field(default_factory=dict)  # (round, reference)

    def messages_to(self, destination: str) -> list[OutboundMessage]:
        return [m for m in self.outbox.values() if str(m.destination) == destination]


class _Items:
    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def next_reference(self, kind: ItemKind, year: int) -> Reference:
        number = self._staged.counters.get((kind.value, year), 0) + 1
        self._staged.counters[(kind.value, year)] = number
        return Reference(kind, year, number)

    def add(self, item: Item, route: Route, outbox_keys: dict[str, str]) -> None:
        deliveries = tuple(
            DeliveryRecord(d.contact, str(d.destination), outbox_keys[d.contact], "queued") for d in route.deliveries
        )
        self._staged.items[str(item.reference)] = ItemRecord(item, route, deliveries)

    def get(self, reference: Reference) -> ItemRecord | None:
        return self._staged.items.get(str(reference))

    def file_message(self, reference: Reference, message: InboundMessage) -> None:
        """Nothing to re-seal in memory."""

    def for_contact(self, contact_id: str) -> list[ItemRecord]:
        found = [
            r for r in self._staged.items.values()
            if r.item.state is ItemState.OPEN
            and (r.item.originator == contact_id or r.delivery_to(contact_id) is not None)
        ]
        return sorted(found, key=lambda r: (r.item.created_at, str(r.item.reference)))

    def delivery_by_message(self, platform_message_id: str) -> tuple[Reference, str] | None:
        for record in self._staged.items.values():
            for delivery in record.deliveries:
                if delivery.platform_message_id == platform_message_id:
                    return record.item.reference, delivery.contact
        return None

    def mark_delivery(
        self, outbox_key: str, state: str, at: datetime, platform_message_id: str | None = None
    ) -> bool:
        target = DeliveryState(state)
        for reference, record in self._staged.items.items():
            for index, delivery in enumerate(record.deliveries):
                if delivery.outbox_key != outbox_key:
                    continue
                changes: dict[str, object] = {"platform_message_id": delivery.platform_message_id or platform_message_id}
                if delivery_step(delivery.progress.state, target) is not None:
                    changes["state"] = target.value
                moment = _MOMENT.get(target)
                if moment is not None and getattr(delivery, moment) is None:
                    changes[moment] = at
                deliveries = list(record.deliveries)
                deliveries[index] = replace(delivery, **changes)  # type: ignore[arg-type]
                self._staged.items[reference] = replace(record, deliveries=tuple(deliveries))
                return True
        return False

    def add_deliveries(self, reference: Reference, route: Route, outbox_keys: dict[str, str]) -> None:
        record = self._staged.items[str(reference)]
        added = tuple(
            DeliveryRecord(d.contact, str(d.destination), outbox_keys[d.contact], "queued") for d in route.deliveries
        )
        self._staged.items[str(reference)] = replace(
            record,
            route=Route(record.route.deliveries + route.deliveries),
            deliveries=record.deliveries + added,
        )

    def close(self, reference: Reference, closure: Closure) -> bool:
        record = self._staged.items[str(reference)]
        closed = close_step(record.item.state)
        if closed is None:
            return False
        self._staged.items[str(reference)] = replace(record, item=replace(record.item, state=closed), closure=closure)
        return True

    def add_forward(self, request: ForwardRequest) -> None:
        self._staged.forwards[request.id] = request

    def forwards(self, reference: Reference) -> list[ForwardRequest]:
        found = [f for f in self._staged.forwards.values() if f.reference == str(reference)]
        return sorted(found, key=lambda f: f.requested_at)

    def decide_forward(
        self, request_id: str, state: ForwardState, decided_by: str, at: datetime, reason: str
    ) -> bool:
        request = self._staged.forwards.get(request_id)
        if request is None or forward_step(request.state, state is ForwardState.GRANTED) is None:
            return False
        self._staged.forwards[request_id] = replace(
            request, state=state, decided_by=decided_by, decided_at=at, reason=reason
        )
        return True


class _Outbox:
    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def enqueue(self, message: OutboundMessage) -> None:
        self._staged.outbox.setdefault(message.key, message)

    def enqueue_many(self, messages: Iterable[OutboundMessage]) -> None:
        for message in messages:
            self.enqueue(message)


class _Audit:
    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def record(self, event: AuditEvent) -> None:
        self._staged.audit.append(event)


def _signature(record: ItemRecord) -> tuple[int, int]:
    """(deliveries, deliveries sent): a change means the item is planned again."""
    return len(record.deliveries), sum(d.sent_at is not None for d in record.deliveries)


class _Reminders:
    """handlers.ports.ReminderRepository in memory."""

    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def _open(self) -> list[ItemRecord]:
        return sorted((r for r in self._staged.items.values() if r.item.state is ItemState.OPEN),
                      key=lambda r: str(r.item.reference))

    def candidates(self, now: datetime, limit: int) -> list[str]:
        found = []
        for record in self._open():
            if ("reminders", str(record.item.reference)) in self._staged.set_aside:
                continue
            plan = self._staged.plans.get(str(record.item.reference))
            if plan is None or (plan[0] is not None and plan[0] <= now) or plan[1] != _signature(record):
                found.append(str(record.item.reference))
        return found[:limit]

    def follow_ups(self, references: Sequence[str], *, lock: bool = False) -> list[FollowUp]:
        done: dict[str, set[str]] = {}
        for key, (reminder, _) in self._staged.reminder_log.items():
            done.setdefault(reminder.reference, set()).add(key)
        found = []
        for ref in sorted(set(references)):
            record = self._staged.items.get(ref)
            if record is None or record.item.state is not ItemState.OPEN:
                continue
            item = record.item
            found.append(FollowUp(ref, item.draft.priority, item.caveat, item.created_at, item.ack_due,
                                  item.feedback_due, item.originator, True, tuple(d.progress for d in record.deliveries),
                                  frozenset(done.get(ref, ())), self._staged.snoozes.get(ref, ())))
        return found

    def record(self, reminder: Reminder, outcome: str, at: datetime) -> bool:
        if reminder.key in self._staged.reminder_log:
            return False
        self._staged.reminder_log[reminder.key] = (reminder, outcome)
        return True

    def claim(self, key: str, at: datetime) -> bool:
        if key in self._staged.runs:
            return False
        self._staged.runs[key] = at
        return True

    def set_plans(self, next_at: Mapping[str, datetime | None], at: datetime) -> None:
        for ref, moment in next_at.items():
            self._staged.plans[ref] = (moment, _signature(self._staged.items[ref]))

    def forget_plans(self) -> None:
        self._staged.plans.clear()

    def unreadable(self) -> Mapping[str, Exception]:
        return {}  # what the fakes hold is always of its type

    def set_aside(self, reference: str, aside: SetAside) -> bool:
        if (aside.loop, reference) in self._staged.set_aside:
            return False
        self._staged.set_aside[(aside.loop, reference)] = aside
        return True

    def set_aside_items(self, loop: str) -> dict[str, SetAside]:
        return {ref: aside for (round_, ref), aside in self._staged.set_aside.items() if round_ == loop}

    def restore(self, reference: str, loop: str) -> None:
        self._staged.set_aside.pop((loop, reference), None)

    def add_snooze(self, reference: str, snooze: Snooze) -> None:
        self._staged.snoozes[reference] = self._staged.snoozes.get(reference, ()) + (snooze,)
        self._staged.plans.pop(reference, None)

    def overdue(self, now: datetime) -> list[FollowUp]:
        return self.follow_ups([str(r.item.reference) for r in self._open()])

    def _created(self, since: datetime, until: datetime) -> list[ItemRecord]:
        found = [r for r in self._staged.items.values() if since <= r.item.created_at < until]
        return sorted(found, key=lambda r: (r.item.created_at, str(r.item.reference)))

    def exchange_times(self, since: datetime, until: datetime) -> list[ExchangeTimes]:
        return [ExchangeTimes(str(r.item.reference), d.contact, r.item.created_at, r.item.state is ItemState.OPEN,
                              d.sent_at, d.acknowledged_at, d.answered_at, r.item.ack_due, r.item.feedback_due)
                for r in self._created(since, until) for d in r.deliveries]

    def summaries(self, since: datetime, until: datetime) -> list[ItemSummary]:
        return [ItemSummary(str(r.item.reference), r.item.caveat, r.item.draft.priority, r.item.draft.topic,
                            r.item.originator, tuple(d.contact for d in r.deliveries), r.item.created_at)
                for r in self._created(since, until)]


class MemoryUnitOfWork:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self._staged = replace(
            store,
            counters=dict(store.counters),
            items=dict(store.items),
            forwards=dict(store.forwards),
            outbox=dict(store.outbox),
            audit=list(store.audit),
            reminder_log=dict(store.reminder_log),
            snoozes=dict(store.snoozes),
            plans=dict(store.plans),
            runs=dict(store.runs),
            set_aside=dict(store.set_aside),
        )
        self.items = _Items(self._staged)
        self.outbox = _Outbox(self._staged)
        self.audit = _Audit(self._staged)
        self.reminders = _Reminders(self._staged)

    def __enter__(self) -> MemoryUnitOfWork:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        return None  # uncommitted changes live only in the staged copy and are dropped with it

    def commit(self) -> None:
        self._store.counters = self._staged.counters
        self._store.items = self._staged.items
        self._store.forwards = self._staged.forwards
        self._store.outbox = self._staged.outbox
        self._store.audit = self._staged.audit
        self._store.reminder_log = self._staged.reminder_log
        self._store.snoozes = self._staged.snoozes
        self._store.plans = self._staged.plans
        self._store.runs = self._staged.runs
        self._store.set_aside = self._staged.set_aside


class FixedDirectory:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def current(self) -> Directory:
        return self.directory
