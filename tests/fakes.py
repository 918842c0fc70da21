"""In-memory fakes of the storage ports (handlers.ports), for tests that read like conversations with the bot.

They keep the contract that matters: nothing is visible until commit, and an exception (or a
missing commit) leaves the store as it was; a savepoint that raises undoes its block alone.
tests/contract runs the same assertions on these and on storage.uow.SqlUnitOfWork.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from functools import partial
from types import TracebackType

from alerts.arrangements import Arrangement
from alerts.audit import AuditAction, AuditEvent
from alerts.away import Absence
from alerts.devices import DeviceAction, device_message
from alerts.directory import Contact, Directory, Room
from alerts.identity import ChatRef, UserRef
from alerts.items import Item, ItemKind, ItemState, Reference
from alerts.lifecycle import (
    Closure, DeliveryState, Feedback, ForwardRequest, ForwardState, Withdrawal, close_step, delivery_step,
    feedback_of, forward_step,
)
from alerts.membership import PlannedAction, action_message
from alerts.messages import Attachment, InboundMessage, MessageKind, OutboundMessage
from alerts.release import HeldRelease, ReleaseState
from alerts.revisions import RevisionText, revision_text_of
from alerts.reminders import FollowUp, Reminder, Snooze, Track
from alerts.routing import Route
from alerts.stats import ExchangeTimes
from handlers.ports import (AwaitedBody, Cancelled, CommandOutcome, DeliveryRecord, ItemRecord, ItemSummary, OutboxEntry,
                           SetAside)

# Which time a delivery state records, as storage keeps it: the first time counts.
_MOMENT = {DeliveryState.SENT: "sent_at", DeliveryState.ACKNOWLEDGED: "acknowledged_at",
           DeliveryState.ANSWERED: "answered_at"}


@dataclass(frozen=True)
class InboxRow:
    message: InboundMessage
    state: str = "pending"  # pending, done, failed
    error_ref: str | None = None


@dataclass
class MemoryStore:
    counters: dict[tuple[str, int], int] = field(default_factory=dict)
    items: dict[str, ItemRecord] = field(default_factory=dict)
    forwards: dict[str, ForwardRequest] = field(default_factory=dict)
    releases: dict[str, HeldRelease] = field(default_factory=dict)  # by item reference
    outbox: dict[str, OutboundMessage] = field(default_factory=dict)
    audit: list[AuditEvent] = field(default_factory=list)
    reminder_log: dict[str, tuple[Reminder, str]] = field(default_factory=dict)  # key -> (reminder, outcome)
    snoozes: dict[str, tuple[Snooze, ...]] = field(default_factory=dict)
    plans: dict[str, tuple[datetime | None, tuple[int, int]]] = field(default_factory=dict)
    runs: dict[str, datetime] = field(default_factory=dict)  # digests and bulletins done, by key
    set_aside: dict[tuple[str, str], SetAside] = field(default_factory=dict)  # (round, reference)
    inbox: dict[tuple[str, str], InboxRow] = field(default_factory=dict)  # by (platform, event id), in order
    cursors: dict[str, str] = field(default_factory=dict)
    awaited: dict[tuple[str, str], AwaitedBody] = field(default_factory=dict)  # by (sender, chat)
    outcomes: dict[tuple[str, str], CommandOutcome] = field(default_factory=dict)  # by (platform, message id)
    forms: dict[tuple[str, str], dict] = field(default_factory=dict)  # guided forms, by (sender, chat)
    present: dict[ChatRef, dict[UserRef, str]] = field(default_factory=dict)  # each room's members as known
    retired_rooms: dict[ChatRef, datetime] = field(default_factory=dict)  # when each room was retired
    progress: dict[str, dict[str, str]] = field(default_factory=dict)  # each membership run's outcomes, by key
    # The portal's links and sessions by token hash: (contact, expires_at, used_at or ended_at).
    portal_links: dict[str, tuple[str, datetime, datetime | None]] = field(default_factory=dict)
    portal_sessions: dict[str, tuple[str, datetime, datetime | None]] = field(default_factory=dict)
    # An outbox row's state where it is not "pending" (a test marks rows "sent"; cancel() marks them
    # "failed"), and the error code of each failed row.
    outbox_state: dict[str, str] = field(default_factory=dict)
    outbox_errors: dict[str, str] = field(default_factory=dict)
    # A sent row's platform message id (None: never learnt) and when it was sent, where a test says so.
    outbox_sent: dict[str, tuple[str | None, datetime]] = field(default_factory=dict)
    # The messages a row became so far, where it became several (a Telegram copy's photo, then its text).
    outbox_parts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # each item's deliveries of earlier revisions, as (revision, delivery), as storage keeps them apart
    superseded: dict[str, tuple[tuple[int, DeliveryRecord], ...]] = field(default_factory=dict)
    absences: dict[str, Absence] = field(default_factory=dict)  # by id, in the order set
    attachments: dict[tuple[str, str], Attachment] = field(default_factory=dict)  # (reference, id)
    origin_attachments: dict[str, tuple[str, ...]] = field(default_factory=dict)  # reference -> the item's own

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

    def get(self, reference: Reference, *, for_update: bool = False) -> ItemRecord | None:
        # One writer at a time in memory: nothing to lock.
        record = self._staged.items.get(str(reference))
        return _with_holders(self._staged, record) if record is not None else None

    def get_many(self, references: Sequence[Reference]) -> list[ItemRecord]:
        return [_with_holders(self._staged, self._staged.items[str(r)]) for r in references
                if str(r) in self._staged.items]

    def file_message(self, reference: Reference, message: InboundMessage, *, origin: bool = False) -> tuple[str, ...]:
        """Nothing to re-seal in memory; its attachments are kept by id."""
        filed = []
        for ident, attachment in zip(message.attachment_ids(), message.attachments):
            if attachment.data is not None:
                filed.append(ident)
                self._staged.attachments.setdefault((str(reference), ident), replace(attachment, id=ident))
                if origin:
                    self._staged.origin_attachments[str(reference)] = (
                        *self._staged.origin_attachments.get(str(reference), ()), ident)
        return tuple(sorted(filed))

    def attachment_ids(self, reference: Reference) -> tuple[str, ...]:
        return tuple(sorted(set(self._staged.origin_attachments.get(str(reference), ()))))

    def attachment(self, reference: Reference, ident: str) -> Attachment | None:
        return self._staged.attachments.get((str(reference), ident))

    def for_contact(self, contact_id: str) -> list[ItemRecord]:
        found = [
            _with_holders(self._staged, r) for r in self._staged.items.values()
            if r.item.state is ItemState.OPEN
            and (r.item.originator == contact_id or r.delivery_to(contact_id) is not None)
        ]
        return sorted(found, key=lambda r: (r.item.created_at, str(r.item.reference)))

    def find(self, contact_id: str | None, *, topic: str | None = None, since: datetime | None = None,
             until: datetime | None = None) -> list[Reference]:
        found = [r.item for r in map(partial(_with_holders, self._staged), self._staged.items.values())
                 if (contact_id is None or r.item.originator == contact_id or r.delivery_to(contact_id) is not None
                     or r.copies_held_by(contact_id))
                 and (topic is None or r.item.draft.topic == topic)
                 and (since is None or r.item.created_at >= since) and (until is None or r.item.created_at < until)]
        found.sort(key=lambda i: (i.created_at, i.reference.year, i.reference.kind.value, i.reference.number),
                   reverse=True)
        return [i.reference for i in found]

    def delivery_by_message(self, platform_message_id: str) -> tuple[Reference, str] | None:
        for record in self._staged.items.values():
            for delivery in record.deliveries:
                if delivery.platform_message_id == platform_message_id:
                    sent = self._staged.outbox.get(delivery.outbox_key)  # to a delegate, for someone away
                    return record.item.reference, (sent.contact if sent is not None and sent.contact else
                                                   delivery.contact)
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

    def revise(self, item: Item, route: Route, outbox_keys: dict[str, str], at: datetime) -> None:
        record = self._staged.items[str(item.reference)]
        earlier = self._staged.superseded.get(str(item.reference), ())
        self._staged.superseded[str(item.reference)] = earlier + tuple(
            (record.item.revision, replace(d, superseded_at=at)) for d in record.deliveries)
        deliveries = tuple(
            DeliveryRecord(d.contact, str(d.destination), outbox_keys[d.contact], "queued") for d in route.deliveries
        )
        self._staged.items[str(item.reference)] = replace(record, item=replace(item, state=record.item.state),
                                                          route=route, deliveries=deliveries)

    def earlier_deliveries(self, reference: Reference) -> list[tuple[int, DeliveryRecord]]:
        return [(n, _held(self._staged, d)) for n, d in self._staged.superseded.get(str(reference), ())]

    def mark_earlier(self, outbox_key: str, state: str, at: datetime,
                     platform_message_id: str) -> tuple[int, DeliveryRecord] | None:
        target = DeliveryState(state)
        for reference, earlier in self._staged.superseded.items():
            for index, (revision, delivery) in enumerate(earlier):
                if delivery.outbox_key != outbox_key:
                    continue
                changes: dict[str, object] = {"platform_message_id": delivery.platform_message_id or platform_message_id}
                if target is DeliveryState.SENT:
                    changes["sent_at"] = delivery.sent_at or at
                if delivery.progress.state.rank < target.rank:
                    changes["state"] = target.value
                landed = replace(delivery, **changes)  # type: ignore[arg-type]
                self._staged.superseded[reference] = (*earlier[:index], (revision, landed), *earlier[index + 1:])
                return revision, _held(self._staged, landed)
        return None

    def set_due(self, reference: Reference, ack_due: datetime | None, feedback_due: datetime | None) -> None:
        record = self._staged.items[str(reference)]
        self._staged.items[str(reference)] = replace(
            record, item=replace(record.item, ack_due=ack_due, feedback_due=feedback_due))

    def close(self, reference: Reference, closure: Closure) -> bool:
        record = self._staged.items[str(reference)]
        closed = close_step(record.item.state)
        if closed is None:
            return False
        self._staged.items[str(reference)] = replace(record, item=replace(record.item, state=closed), closure=closure)
        return True

    def withdraw(self, reference: Reference, withdrawal: Withdrawal) -> bool:
        record = self._staged.items[str(reference)]
        if record.withdrawal is not None:
            return False
        closure = record.closure or Closure(withdrawal.withdrawn_by, withdrawal.withdrawn_at, "")
        withdrawal = replace(withdrawal, reason=withdrawal.reason or None)  # as storage reads an empty one back
        self._staged.items[str(reference)] = replace(record, item=replace(record.item, state=ItemState.CLOSED),
                                                     closure=closure, withdrawal=withdrawal)
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


class _Releases:
    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def hold(self, held: HeldRelease) -> None:
        if held.reference not in self._staged.items:
            raise ValueError(f"no item {held.reference} to hold")
        earlier = self._staged.releases.get(held.reference)
        if earlier is not None and earlier.state is ReleaseState.PENDING:
            raise ValueError(f"{held.reference} is held already")
        self._staged.releases[held.reference] = held

    def get(self, reference: str) -> HeldRelease | None:
        return self._staged.releases.get(reference)

    def pending(self) -> list[HeldRelease]:
        found = [h for h in self._staged.releases.values() if h.state is ReleaseState.PENDING]
        return sorted(found, key=lambda h: (h.requested_at, h.reference))

    def decide(self, reference: str, state: ReleaseState, decided_by: str, at: datetime, reason: str) -> bool:
        if state is ReleaseState.PENDING:
            raise ValueError("a decision approves, declines, expires or fails")
        held = self._staged.releases.get(reference)
        if held is None or held.state is not ReleaseState.PENDING:
            return False
        self._staged.releases[reference] = replace(held, state=state, decided_by=decided_by, decided_at=at,
                                                   reason=reason)
        return True


class _Outbox:
    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def enqueue(self, message: OutboundMessage) -> None:
        self._staged.outbox.setdefault(message.key, message)

    def enqueue_many(self, messages: Iterable[OutboundMessage]) -> None:
        for message in messages:
            self.enqueue(message)

    def cancel(self, reference: str, kinds: AbstractSet[MessageKind], error_code: str, *,
               only: AbstractSet[str] | None = None) -> Cancelled:
        keys = tuple(key for key, m in self._staged.outbox.items()
                     if m.reference == reference and m.kind in kinds and (only is None or key in only)
                     and self._staged.outbox_state.get(key, "pending") in ("pending", "sending"))
        in_flight = frozenset(key for key in keys if self._staged.outbox_state.get(key) == "sending")
        reached = {key: self._staged.outbox_parts[key][0] for key in keys
                   if key not in in_flight and self._staged.outbox_parts.get(key)}
        for key in keys:
            self._staged.outbox_state[key] = "failed"
            self._staged.outbox_errors[key] = error_code
        return Cancelled(keys, in_flight, reached)

    def entries(self, keys: AbstractSet[str]) -> dict[str, OutboxEntry]:
        found: dict[str, OutboxEntry] = {}
        for key in keys:
            if key in self._staged.outbox:
                message_id, at = self._staged.outbox_sent.get(key, (None, None))
                found[key] = OutboxEntry(self._staged.outbox_state.get(key, "pending"), message_id, at,
                                         self._staged.outbox_errors.get(key))
        return found


class _Audit:
    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def record(self, event: AuditEvent) -> None:
        self._staged.audit.append(event)

    def feedback(self, reference: Reference) -> list[Feedback]:
        record = self._staged.items.get(str(reference))
        if record is not None and record.erasure is not None:
            return []  # the case key is gone, and with it the texts the log sealed under it
        found = (feedback_of(e.actor, e.at, e.recipients, e.detail) for e in self._staged.audit
                 if e.action is AuditAction.FEEDBACK and e.reference == str(reference))
        return [f for f in found if f is not None]

    def revisions(self, reference: Reference) -> list[RevisionText]:
        record = self._staged.items.get(str(reference))
        if record is not None and record.erasure is not None:
            return []  # gone with the case key, as feedback is
        found: dict[int, RevisionText] = {}
        for e in self._staged.audit:
            if e.reference == str(reference) and e.action in (AuditAction.ITEM_CREATED, AuditAction.CORRECTION):
                text = revision_text_of(e.action is AuditAction.ITEM_CREATED, e.at, e.caveat, e.detail)
                if text is not None:
                    found.setdefault(text.revision, text)
        return [found[n] for n in sorted(found)]


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
            found.append(FollowUp(ref, item.draft.priority, item.caveat, item.revised_at or item.created_at, item.ack_due,
                                  item.feedback_due, item.originator, True, tuple(d.progress for d in record.deliveries),
                                  frozenset(done.get(ref, ())), self._staged.snoozes.get(ref, ()), item.revision))
        return found

    def record(self, reminder: Reminder, outcome: str, at: datetime) -> bool:
        if reminder.key in self._staged.reminder_log:
            return False
        self._staged.reminder_log[reminder.key] = (reminder, outcome)
        return True

    def sent_about(self, reference: str, contact: str | None, tracks: AbstractSet[Track]) -> list[str]:
        return [key for key, (reminder, outcome) in self._staged.reminder_log.items()
                if reminder.reference == reference and outcome == "sent" and reminder.track in tracks
                and (contact is None or reminder.contact == contact)]

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
                            r.item.originator, tuple(d.contact for d in r.deliveries), r.item.created_at,
                            tuple(d.held_by for d in r.deliveries if d.held_by is not None))
                for r in map(partial(_with_holders, self._staged), self._created(since, until))]


def _held(staged: MemoryStore, delivery: DeliveryRecord) -> DeliveryRecord:
    """The delivery with who its copy went to instead of its recipient (the outbox row's contact: a
    delegate's), as storage reads it."""
    sent = staged.outbox.get(delivery.outbox_key)
    held_by = sent.contact if sent is not None and sent.contact not in (None, delivery.contact) else None
    return replace(delivery, held_by=held_by,
                   held_at=str(sent.destination) if sent is not None and held_by is not None else None)


def _with_holders(staged: MemoryStore, record: ItemRecord) -> ItemRecord:
    return replace(record, deliveries=tuple(_held(staged, d) for d in record.deliveries))


class _Inbox:
    """handlers.ports.Inbox in memory."""

    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def record(self, message: InboundMessage) -> bool:
        key = (message.sender.platform.value, message.event_id)
        if key in self._staged.inbox:
            return False
        self._staged.inbox[key] = InboxRow(message)
        return True

    def record_many(self, messages: list[InboundMessage]) -> None:
        for message in messages:
            self.record(message)

    def pending(self, limit: int) -> list[InboundMessage]:
        return [row.message for row in self._staged.inbox.values() if row.state == "pending"][:limit]

    def mark_all_done(self, messages: list[InboundMessage], at: datetime | None = None) -> None:
        for message in messages:
            key = (message.sender.platform.value, message.event_id)
            if key in self._staged.inbox:
                self._staged.inbox[key] = replace(self._staged.inbox[key], state="done", error_ref=None)

    def mark_failed(self, message: InboundMessage, error_ref: str, at: datetime | None = None) -> None:
        key = (message.sender.platform.value, message.event_id)
        if key not in self._staged.inbox:
            raise KeyError("no inbox row for that platform event")
        self._staged.inbox[key] = replace(self._staged.inbox[key], state="failed", error_ref=error_ref)

    def get(self, platform: str, event_id: str) -> InboundMessage | None:
        row = self._staged.inbox.get((platform, event_id))
        return row.message if row is not None else None


class _Conversations:
    """handlers.ports.Conversations in memory."""

    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def awaited(self, sender: UserRef, chat: ChatRef) -> AwaitedBody | None:
        return self._staged.awaited.get((str(sender), str(chat)))

    def waiting(self, sender: UserRef, chat: ChatRef) -> tuple[dict | None, AwaitedBody | None]:
        return self.form(sender, chat), self.awaited(sender, chat)

    def await_body(self, awaited: AwaitedBody) -> None:
        self._staged.awaited[(str(awaited.sender), str(awaited.chat))] = awaited

    def stop_awaiting(self, sender: UserRef, chat: ChatRef) -> None:
        self._staged.awaited.pop((str(sender), str(chat)), None)

    def note_outcome(self, platform: str, message_id: str, outcome: CommandOutcome, at: datetime) -> None:
        self._staged.outcomes[(platform, message_id)] = outcome

    def outcome(self, platform: str, message_id: str) -> CommandOutcome | None:
        return self._staged.outcomes.get((platform, message_id))

    def form(self, sender: UserRef, chat: ChatRef) -> dict | None:
        found = self._staged.forms.get((str(sender), str(chat)))
        return dict(found) if found is not None else None

    def keep_form(self, sender: UserRef, chat: ChatRef, form: dict | None) -> None:
        if form is None:
            self._staged.forms.pop((str(sender), str(chat)), None)
        else:
            self._staged.forms[(str(sender), str(chat))] = dict(form)


class _Portal:
    """handlers.ports.PortalAccess in memory; each entry a tuple (contact, expires_at, used or ended at)."""

    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def add_link(self, token_hash: str, contact: str, expires_at: datetime, at: datetime) -> None:
        if token_hash in self._staged.portal_links:
            raise ValueError("duplicate token hash")
        self._staged.portal_links[token_hash] = (contact, expires_at, None)

    def redeem_link(self, token_hash: str, now: datetime) -> str | None:
        link = self._staged.portal_links.get(token_hash)
        if link is None or link[2] is not None or link[1] <= now:
            return None
        self._staged.portal_links[token_hash] = (link[0], link[1], now)
        return link[0]

    def live_link(self, token_hash: str, now: datetime) -> str | None:
        link = self._staged.portal_links.get(token_hash)
        return link[0] if link is not None and link[2] is None and link[1] > now else None

    def add_session(self, session_hash: str, contact: str, expires_at: datetime, at: datetime) -> None:
        self._staged.portal_sessions[session_hash] = (contact, expires_at, None)

    def session(self, session_hash: str, now: datetime) -> str | None:
        found = self._staged.portal_sessions.get(session_hash)
        return found[0] if found is not None and found[2] is None and found[1] > now else None

    def end_session(self, session_hash: str, at: datetime) -> None:
        found = self._staged.portal_sessions.get(session_hash)
        if found is not None and found[2] is None:
            self._staged.portal_sessions[session_hash] = (found[0], found[1], at)

    def end_sessions(self, contact: str, at: datetime) -> int:
        links, sessions = self._staged.portal_links, self._staged.portal_sessions
        for token_hash in [h for h, link in links.items() if link[0] == contact and link[2] is None]:
            del links[token_hash]
        ended = [h for h, found in sessions.items() if found[0] == contact and found[2] is None]
        for session_hash in ended:
            sessions[session_hash] = (contact, sessions[session_hash][1], at)
        return len(ended)


class _Cursors:
    """handlers.ports.Cursors in memory."""

    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def get(self, name: str) -> str | None:
        return self._staged.cursors.get(name)

    def set(self, name: str, value: str) -> None:
        self._staged.cursors[name] = value


class _Absences:
    """handlers.ports.AbsenceRepository in memory."""

    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def add(self, absence: Absence) -> None:
        for old in list(self._staged.absences.values()):
            if old.person == absence.person and old.ended_at is None:
                self._staged.absences[old.id] = replace(old, ended_at=absence.set_at, ended_by=absence.set_by)
        self._staged.absences[absence.id] = absence

    def current(self, person: str, now: datetime) -> Absence | None:
        return next((a for a in self._staged.absences.values() if a.person == person and a.active(now)), None)

    def away(self, persons: Collection[str], now: datetime) -> frozenset[str]:
        return frozenset(p for p in persons if self.current(p, now) is not None)

    def end(self, person: str, at: datetime, by: str) -> Absence | None:
        running = self.current(person, at)
        if running is None:
            return None
        ended = replace(running, ended_at=at, ended_by=by)
        self._staged.absences[running.id] = ended
        return ended

    def standing_in_for(self, delegate: str, now: datetime) -> list[Absence]:
        return [a for a in self._staged.absences.values() if a.delegate == delegate and a.active(now)]

    def overlapping(self, person: str, start: datetime, end: datetime) -> list[Absence]:
        return sorted((a for a in self._staged.absences.values()
                       if a.person == person and a.set_at < end and a.back_at() > start),
                      key=lambda a: (a.set_at, a.id))

    def note_act(self, absence_id: str, act: str) -> None:
        absence = self._staged.absences.get(absence_id)
        if absence is not None:
            self._staged.absences[absence_id] = replace(absence, acts=(*absence.acts, act))

    def returned(self, now: datetime) -> list[Absence]:
        return [a for a in self._staged.absences.values()
                if a.summarised_at is None and (a.ended_at is not None or a.until <= now)]

    def mark_summarised(self, absence_id: str, at: datetime) -> bool:
        absence = self._staged.absences.get(absence_id)
        if absence is None or absence.summarised_at is not None:
            return False
        self._staged.absences[absence_id] = replace(absence, summarised_at=at)
        return True


class _Roster:
    """handlers.ports.RoomRoster in memory."""

    def __init__(self, staged: MemoryStore) -> None:
        self._staged = staged

    def present(self, room: ChatRef) -> dict[UserRef, str] | None:
        found = self._staged.present.get(room)
        return dict(found) if found is not None else None

    def mark(self, room: ChatRef, identity: UserRef, state: str | None) -> None:
        members = dict(self._staged.present.get(room, {}))  # a copy: a savepoint keeps the one before
        if state is None:
            members.pop(identity, None)
        else:
            members[identity] = state
        self._staged.present[room] = members

    def seen(self, room: ChatRef, members: dict[UserRef, str]) -> None:
        self._staged.present[room] = dict(members)

    def progress(self, op: str, key: str, outcome: str) -> dict[str, str]:
        outcomes = dict(self._staged.progress.get(op, {}))
        outcomes.setdefault(key, outcome)
        self._staged.progress[op] = outcomes
        return dict(outcomes)


class MemoryDirectory:
    """handlers.ports.DirectorySource whose snapshot MemoryUnitOfWork replaces on a commit that
    changed it, as storage.uow.SqlUnitOfWork does with DatabaseDirectory.refresh()."""

    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def current(self) -> Directory:
        return self.directory


class _DirectoryWriter:
    """handlers.ports.DirectoryWriter on a staged copy of the contacts."""

    def __init__(self, contacts: dict[str, Contact], rooms: list[Room] | None = None,
                 store: MemoryStore | None = None) -> None:
        self.contacts = contacts
        self.rooms: list[Room] = list(rooms or ())
        self._store = store if store is not None else MemoryStore()  # the retired rooms outlive the unit of work
        self.changed = False

    @property
    def retired(self) -> dict[ChatRef, datetime]:
        return self._store.retired_rooms

    def _check_accounts(self, contact: Contact) -> None:
        for other in self.contacts.values():
            if other.id != contact.id and set(other.identities) & set(contact.identities):
                raise ValueError(f"an account of {contact.id} belongs to {other.id}")

    def add_contact(self, contact: Contact) -> None:
        if contact.id in self.contacts:
            raise ValueError(f"there is a contact {contact.id} already")
        self._check_accounts(contact)
        self.contacts[contact.id] = contact
        self.changed = True

    def update_contact(self, contact: Contact) -> None:
        if contact.id not in self.contacts:
            raise KeyError(contact.id)
        self._check_accounts(contact)
        self.contacts[contact.id] = contact
        self.changed = True

    def remove_contact(self, contact_id: str) -> bool:
        self.changed = True
        return self.contacts.pop(contact_id, None) is not None

    def register_room(self, room: Room) -> bool:
        new = all(r.chat != room.chat for r in self.rooms)
        self.rooms = [room if r.chat == room.chat else r for r in self.rooms] + ([room] if new else [])
        was_retired = room.chat in self.retired
        self.retired.pop(room.chat, None)
        self.changed = True
        return new or was_retired

    def retire_room(self, chat: ChatRef, at: datetime) -> bool:
        if all(r.chat != chat for r in self.rooms):
            return False
        self.rooms = [r for r in self.rooms if r.chat != chat]
        self.retired[chat] = at
        self.changed = True
        return True

    def retired_at(self, chat: ChatRef) -> datetime | None:
        return self.retired.get(chat)


class _Arrangements:
    """handlers.ports.ArrangementRepository on a staged copy of the directory's arrangements."""

    def __init__(self, arrangements: list[Arrangement]) -> None:
        # Numbered as seeding numbers them: in order, after the highest number given.
        last = max((a.number or 0 for a in arrangements), default=0)
        self.arrangements = []
        for arrangement in arrangements:
            if arrangement.number is None:
                last += 1
                arrangement = replace(arrangement, number=last)
            self.arrangements.append(arrangement)
        self.changed = False

    def add(self, arrangement: Arrangement) -> Arrangement:
        if any(a.key == arrangement.key for a in self.arrangements):
            raise ValueError(f"there is an arrangement {arrangement.kind!r} already")
        number = max((a.number or 0 for a in self.arrangements), default=0) + 1
        stored = replace(arrangement, ended_at=None, end_reason="", number=number)
        self.arrangements.append(stored)
        self.changed = True
        return stored

    def end(self, number: int, at: datetime, reason: str) -> bool:
        for index, arrangement in enumerate(self.arrangements):
            if arrangement.number == number and arrangement.ended_at is None:
                self.arrangements[index] = replace(arrangement, ended_at=at, end_reason=reason)
                self.changed = True
                return True
        return False


class _Membership:
    """handlers.ports.MembershipGateway in memory: actions become outbox rows, as in storage."""

    def __init__(self, staged: MemoryStore, outbox: _Outbox, roster: _Roster) -> None:
        self._staged = staged
        self._outbox = outbox
        self._roster = roster

    def plan(self, actions: Sequence[PlannedAction]) -> int:
        new = [a for a in actions if a.key not in self._staged.outbox]
        self._outbox.enqueue_many(action_message(a) for a in new)
        return len(new)

    def present(self, room: ChatRef) -> dict[UserRef, str] | None:
        return self._roster.present(room)


class _Devices:
    """handlers.ports.DeviceDesk in memory: actions become outbox rows, as in storage.uow."""

    def __init__(self, outbox: _Outbox) -> None:
        self._outbox = outbox

    def plan(self, action: DeviceAction) -> None:
        self._outbox.enqueue(device_message(action))


def _copy(store: MemoryStore) -> MemoryStore:
    """A copy whose containers can change without changing `store`'s (their values are immutable)."""
    return replace(store, **{f.name: type(getattr(store, f.name))(getattr(store, f.name)) for f in fields(store)})


def _put(target: MemoryStore, source: MemoryStore) -> None:
    for f in fields(source):
        setattr(target, f.name, getattr(source, f.name))


class MemoryUnitOfWork:
    """handlers.ports.UnitOfWork in memory. `directory` is what directory_writer changes (replaced on
    commit); `devices`: a connector can carry out device actions (as where Matrix runs)."""

    def __init__(self, store: MemoryStore, directory: MemoryDirectory | None = None, *, devices: bool = False) -> None:
        self._store = store
        self._staged = _copy(store)
        self._directory = directory if directory is not None else MemoryDirectory(Directory.build((), ()))
        self.items = _Items(self._staged)
        self.outbox = _Outbox(self._staged)
        self.releases = _Releases(self._staged)
        self.audit = _Audit(self._staged)
        self.reminders = _Reminders(self._staged)
        self.inbox = _Inbox(self._staged)
        self.cursors = _Cursors(self._staged)
        self.conversations = _Conversations(self._staged)
        self.roster = _Roster(self._staged)
        self.directory_writer = _DirectoryWriter(dict(self._directory.directory.contacts),
                                                 list(self._directory.directory.rooms), self._staged)
        self.arrangements = _Arrangements(list(self._directory.directory.arrangements))
        self.membership = _Membership(self._staged, self.outbox, self.roster)
        self.devices = _Devices(self.outbox) if devices else None
        self.portal = _Portal(self._staged)
        self.absences = _Absences(self._staged)

    def __enter__(self) -> MemoryUnitOfWork:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        return None  # uncommitted changes live only in the staged copy and are dropped with it

    @contextmanager
    def savepoint(self, *, alone: bool = False) -> Iterator[None]:
        """Undone alone when it raises; `alone` changes nothing here (the staged copy is all there is to undo)."""
        before = _copy(self._staged)
        contacts = dict(self.directory_writer.contacts)
        rooms = list(self.directory_writer.rooms)  # the retired rooms are in the staged store
        arrangements = list(self.arrangements.arrangements)
        try:
            yield
        except BaseException:
            _put(self._staged, before)
            self.directory_writer.contacts.clear()
            self.directory_writer.contacts.update(contacts)
            self.directory_writer.rooms = rooms
            self.arrangements.arrangements[:] = arrangements
            raise

    def commit(self) -> None:
        _put(self._store, _copy(self._staged))
        if self.directory_writer.changed or self.arrangements.changed:
            current = self._directory.directory
            self._directory.directory = Directory.build(current.organisations.values(),
                                                        self.directory_writer.contacts.values(),
                                                        self.directory_writer.rooms, self.arrangements.arrangements)
            self.directory_writer.changed = self.arrangements.changed = False


class FixedDirectory:
    def __init__(self, directory: Directory) -> None:
        self.directory = directory

    def current(self) -> Directory:
        return self.directory
