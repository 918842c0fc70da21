"""What the command handlers need from the outside world, as protocols.

storage/ implements them with SQLAlchemy inside one transaction (storage.uow.SqlUnitOfWork); tests
use the in-memory fakes in tests/fakes.py, held to the same behaviour by tests/contract. Everything a
handler or worker writes through one UnitOfWork commits together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from types import TracebackType
from typing import Any, Protocol

from alerts.arrangements import Arrangement
from alerts.audit import AuditEvent
from alerts.away import Absence
from alerts.caveats import Caveat
from alerts.devices import DeviceAction
from alerts.directory import Contact, Directory, Room
from alerts.identity import ChatRef, UserRef
from alerts.items import Item, ItemKind, Reference
from alerts.membership import PlannedAction
from alerts.lifecycle import (
    Closure,
    DeliveryState,
    Erasure,
    Feedback,
    ForwardRequest,
    ForwardState,
    Progress,
    Withdrawal,
)
from alerts.messages import Attachment, InboundMessage, MessageKind, OutboundMessage
from alerts.priority import Priority
from alerts.release import HeldRelease, ReleaseState
from alerts.revisions import RevisionText
from alerts.reminders import FollowUp, Reminder, Snooze, Track
from alerts.routing import Route
from alerts.stats import ExchangeTimes


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    """One recipient's copy of an item and how far it has got."""

    contact: str
    destination: str
    outbox_key: str
    state: str  # a DeliveryState value: queued, sent, failed, acknowledged, answered
    sent_at: datetime | None = None
    acknowledged_at: datetime | None = None
    answered_at: datetime | None = None
    platform_message_id: str | None = None
    # Set on a copy of an earlier revision (ItemRepository.earlier_deliveries): when /correct replaced it.
    superseded_at: datetime | None = None
    # Who the copy was sent to when not the recipient: their delegate, while they were away (the
    # outbox row's contact, handlers/away.py). None: it went to the recipient (or nowhere yet).
    held_by: str | None = None
    # Where that delegate was sent it (the outbox row's destination): the chat the copy is in.
    held_at: str | None = None
    # When the first of its messages went, for a copy sent as several (its photos, then its text;
    # outbox_parts): a copy only partly sent has no sent_at, yet Telegram's 48 hours to delete what
    # reached its reader run from then. None: a copy of one message, or one recorded before it was kept.
    first_part_at: datetime | None = None

    @property
    def holder(self) -> str:
        """Who was given this copy: the recipient, or the delegate who held it for them."""
        return self.held_by or self.contact

    @property
    def place(self) -> str:
        """The chat this copy is in, where it is edited or taken back: the delegate's when one held it."""
        return self.held_at if self.held_by is not None and self.held_at is not None else self.destination

    @property
    def progress(self) -> Progress:
        return Progress(self.contact, DeliveryState(self.state), self.sent_at, self.acknowledged_at, self.answered_at)


@dataclass(frozen=True, slots=True)
class ItemRecord:
    item: Item
    route: Route
    deliveries: tuple[DeliveryRecord, ...] = field(default_factory=tuple)
    closure: Closure | None = None  # set once the item is closed
    # Set once the item's case is erased: its body, purpose and outcome are then empty, and every
    # command about it answers alerts.render.render_erased instead.
    erasure: Erasure | None = None
    # Set once the item is withdrawn (it is closed too): every command about it then answers
    # alerts.render.render_withdrawn instead.
    withdrawal: Withdrawal | None = None

    def delivery_to(self, contact: str) -> DeliveryRecord | None:
        """The contact's delivery of the item (the first one, should a forward ever repeat it)."""
        return next((d for d in self.deliveries if d.contact == contact), None)

    def copies_held_by(self, contact: str) -> tuple[DeliveryRecord, ...]:
        """The copies `contact` was given for someone else: as their delegate, while they were away."""
        return tuple(d for d in self.deliveries if d.held_by == contact)


class ItemRepository(Protocol):
    def next_reference(self, kind: ItemKind, year: int) -> Reference:
        """The next unused reference for the kind and year; never reused, even after a restart."""
        ...

    def add(self, item: Item, route: Route, outbox_keys: dict[str, str]) -> None:
        """Store a new item with its resolved route; outbox_keys maps contact id to outbox key.
        alerts.errors.ReferenceUnavailable, with nothing stored, when the item's case was erased
        before its number was handed out."""
        ...

    def get(self, reference: Reference, *, for_update: bool = False) -> ItemRecord | None:
        """The item with its deliveries. `for_update`: the caller will change the item or its copies
        (/correct, /withdraw, the delivery worker recording a send); the item is locked until the
        transaction ends, so those writers take turns and each reads the copies as the other left them."""
        ...

    def get_many(self, references: Sequence[Reference]) -> list[ItemRecord]:
        """The items of `references` that exist, in that order (a search opens them a batch at a time)."""
        ...

    def file_message(self, reference: Reference, message: InboundMessage, *, origin: bool = False) -> tuple[str, ...]:
        """`message` (as read from the inbox) is about the item: its stored text is sealed under
        the item's case key from now on, so erasing the case erases it too. The text of a message
        about an erased case is dropped. Its attachments are stored under the same key, each by its
        id in `message.attachment_ids()`; `origin`: the message created the item (its files are the item's).
        Returns the ids of the attachments filed, in attachment_ids' order (none for an erased case)."""
        ...

    def attachment_ids(self, reference: Reference) -> tuple[str, ...]:
        """The ids of the attachments filed with the message that created the item (what a forward carries)."""
        ...

    def attachment(self, reference: Reference, ident: str) -> Attachment | None:
        """An attachment filed with the item, with its bytes; None when there is none (or it was erased)."""
        ...

    def for_contact(self, contact_id: str) -> list[ItemRecord]:
        """Open items the contact sent or received, oldest first."""
        ...

    def find(self, contact_id: str | None, *, topic: str | None = None, since: datetime | None = None,
             until: datetime | None = None) -> list[Reference]:
        """The references a search may consider, newest first, chosen by what is kept in clear (no
        content is opened): the items `contact_id` sent or received, or held a copy of for someone
        away (DeliveryRecord.held_by; None: every item), created in [since, until), with `topic`. Open
        and closed, withdrawn and erased alike."""
        ...

    def delivery_by_message(self, platform_message_id: str) -> tuple[Reference, str] | None:
        """(item reference, holder) of the delivery a platform message carried, for reactions, buttons
        and replies that point at a delivered message. The holder is the contact the copy was given
        to: the recipient, or their delegate where it went to someone standing in for them."""
        ...

    def mark_delivery(
        self, outbox_key: str, state: str, at: datetime, platform_message_id: str | None = None
    ) -> bool:
        """Move a delivery forward (never back; the first time of each state is kept);
        False when the outbox key is not an item's delivery."""
        ...

    def add_deliveries(self, reference: Reference, route: Route, outbox_keys: dict[str, str]) -> None:
        """More deliveries of an existing item (a forward); the stored route grows by `route`."""
        ...

    def revise(self, item: Item, route: Route, outbox_keys: dict[str, str], at: datetime) -> None:
        """Store `item`, the next revision (Item.revision) of a stored item, in its place: its draft,
        due times and revision. The current deliveries are kept apart as the earlier revision's (no
        longer counted by reminders, /status or /ack), and `route`'s deliveries (all queued) become the
        item's; outbox_keys maps contact id to outbox key."""
        ...

    def earlier_deliveries(self, reference: Reference) -> list[tuple[int, DeliveryRecord]]:
        """The deliveries of the item's earlier revisions, as (revision, delivery), oldest first."""
        ...

    def mark_earlier(self, outbox_key: str, state: str, at: datetime,
                     platform_message_id: str) -> tuple[int, DeliveryRecord] | None:
        """A copy of an earlier revision whose send was in flight when the item was corrected landed
        ("sent"), or failed after part of it reached its reader ("failed", known by that first part):
        record it so (as mark_delivery does, never moving it back); its revision and delivery as now
        recorded, None when `outbox_key` is no earlier revision's copy."""
        ...

    def set_due(self, reference: Reference, ack_due: datetime | None, feedback_due: datetime | None) -> None:
        """New due times for an item (one held for release counts them from its approval)."""
        ...

    def close(self, reference: Reference, closure: Closure) -> bool:
        """Close an open item; False when it was closed already (the first closure stands)."""
        ...

    def withdraw(self, reference: Reference, withdrawal: Withdrawal) -> bool:
        """Close the item (if it is open) and mark it withdrawn, the reason sealed with its content;
        False when it was withdrawn already (the first withdrawal stands)."""
        ...

    def add_forward(self, request: ForwardRequest) -> None:
        """Store a pending request to forward an item."""
        ...

    def forwards(self, reference: Reference) -> list[ForwardRequest]:
        """The item's forward requests, oldest first."""
        ...

    def decide_forward(
        self, request_id: str, state: ForwardState, decided_by: str, at: datetime, reason: str
    ) -> bool:
        """Record the originator's answer; False when the request was not pending (decided already)."""
        ...


@dataclass(frozen=True, slots=True)
class Cancelled:
    """What Outbox.cancel stopped: the keys, in the order they were enqueued, and those of them whose
    send was in flight (leased by the delivery worker): such a copy may land after all, and is then
    recorded as sent (the worker treats it as the canceller planned: late_copy, withdrawn_copy)."""

    keys: tuple[str, ...] = ()
    in_flight: frozenset[str] = frozenset()
    # Of the keys not in flight, those part of which reached its reader before (a Telegram copy's photo,
    # its text's first parts): the message each is now known by, for taking it back.
    reached: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An outbox row as it stands: its state (pending, sending, sent, failed), and once sent, the
    platform's id of its message (None when never learnt) and when; its last error's code (a code
    such as "telegram.403" or "withdrawn", never a text), if any."""

    state: str
    platform_message_id: str | None = None
    sent_at: datetime | None = None
    error: str | None = None


class Outbox(Protocol):
    def enqueue(self, message: OutboundMessage) -> None:
        """Add a message to send; enqueuing the same key twice keeps the first and is not an error."""
        ...

    def enqueue_many(self, messages: Iterable[OutboundMessage]) -> None:
        """enqueue() each message, in this order; at once (one statement), where storage can."""
        ...

    def cancel(self, reference: str, kinds: AbstractSet[MessageKind], error_code: str, *,
               only: AbstractSet[str] | None = None) -> Cancelled:
        """The item's messages of `kinds` not yet sent (waiting, or handed to the delivery worker) are
        never sent: marked failed with `error_code`. Their keys, which of them were in flight, and
        which had partly gone (Cancelled.reached). `only`: of these, just the rows with these keys."""
        ...

    def entries(self, keys: AbstractSet[str]) -> dict[str, OutboxEntry]:
        """The rows of `keys` that were ever enqueued, by key, as they stand."""
        ...

    def release_held(self, error_code: str, now: datetime) -> int:
        """Messages held back by `error_code` become due now, keeping their attempts and place in
        line; how many."""
        ...


class ReleaseRepository(Protocol):
    """Items held for two-person release (alerts.release), and the decisions on them."""

    def hold(self, held: HeldRelease) -> None:
        """Store a held item's release (or a held correction of it); its item must be stored already.
        It takes the place of the item's earlier release when that was decided; a pending one stays
        (an error)."""
        ...

    def get(self, reference: str) -> HeldRelease | None: ...

    def pending(self) -> list[HeldRelease]:
        """Every release still waiting for a decision, oldest first."""
        ...

    def decide(self, reference: str, state: ReleaseState, decided_by: str, at: datetime, reason: str) -> bool:
        """Record the decision; False when the release was not pending (decided already)."""
        ...


class AuditLog(Protocol):
    def record(self, event: AuditEvent) -> None: ...

    def feedback(self, reference: Reference) -> list[Feedback]:
        """The item's feedback and updates (/reply), oldest first, opened under its case key: the log
        is where they are kept. Entries not yet written (those of a held block) are not among them,
        nor those whose text is gone with an erased case."""
        ...

    def revisions(self, reference: Reference) -> list[RevisionText]:
        """What each revision of the item said (its creation entry, then each /correct), by revision
        number, opened under its case key: the item's row keeps only the current one. Left out as for
        feedback: entries not yet written, and those whose text is gone with an erased case."""
        ...


@dataclass(frozen=True, slots=True)
class ItemSummary:
    """An item as the monthly bulletin counts it: no content, contact ids as stored."""

    reference: str
    caveat: Caveat
    priority: Priority
    topic: str | None
    originator: str
    recipients: tuple[str, ...]
    created_at: datetime
    # Those given a copy for a recipient away (DeliveryRecord.held_by): they see it as a recipient does.
    holders: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SetAside:
    """An item a scheduled round could not handle (a stored value out of range or unreadable), left
    out of the rounds so that the others go on. No content: which round, the error's type, and the
    error reference its log line carries."""

    loop: str  # "reminders", "digest" or "bulletin"
    error: str
    error_ref: str
    at: datetime


class ReminderRepository(Protocol):
    def candidates(self, now: datetime, limit: int) -> list[str]:
        """Open items whose reminders need planning: never planned (or forgotten), next stage due by
        `now`, or deliveries added or sent since the last plan. At most `limit`, by reference.
        Items set aside by the reminders' round are not among them."""
        ...

    def unreadable(self) -> Mapping[str, Exception]:
        """The items this unit of work could not read since the last call (a stored value that cannot
        be what its column means), with the error: follow_ups, overdue and summaries left them out."""
        ...

    def set_aside(self, reference: str, aside: SetAside) -> bool:
        """Note that the round `aside.loop` set the item aside; False when it was noted already
        (then nobody is told again)."""
        ...

    def set_aside_items(self, loop: str) -> dict[str, SetAside]:
        """Every item the round `loop` set aside, by reference."""
        ...

    def restore(self, reference: str, loop: str) -> None:
        """Drop the note that the round `loop` set the item aside (it can be handled again)."""
        ...

    def follow_ups(self, references: Sequence[str], *, lock: bool = False) -> list[FollowUp]:
        """The follow-up state of the open items among `references`. With lock=True, writers that
        could change it (an /ack, a /reply, a /close) wait for this transaction, or it for them."""
        ...

    def record(self, reminder: Reminder, outcome: str, at: datetime) -> bool:
        """Note a reminder "sent" or "superseded"; False when its key was noted before: then it was
        handled already (a re-fired job, a second scheduler) and nothing more must be done."""
        ...

    def sent_about(self, reference: str, contact: str | None, tracks: AbstractSet[Track]) -> list[str]:
        """The keys (their outbox rows') of the item's reminders and escalations noted "sent" about
        what `contact` (None: any recipient) owes on `tracks`: sent or still waiting to be."""
        ...

    def claim(self, key: str, at: datetime) -> bool:
        """Note that the run `key` (a digest's day, a bulletin's month) is done; False when it was
        before, so that a job fired twice posts and audits once."""
        ...

    def set_plans(self, next_at: Mapping[str, datetime | None], at: datetime) -> None:
        """When each item must be planned again (None: only when its deliveries change)."""
        ...

    def forget_plans(self) -> None:
        """Drop every plan, so that the next round plans every open item from scratch."""
        ...

    def add_snooze(self, reference: str, snooze: Snooze) -> None:
        """Hold reminders (see alerts.reminders.Snooze); the item is planned again."""
        ...

    def overdue(self, now: datetime) -> list[FollowUp]:
        """Open items with an unanswered copy past the item's due time: every item
        alerts.reminders.overdue may find overdue, and maybe a few more."""
        ...

    def exchange_times(self, since: datetime, until: datetime) -> list[ExchangeTimes]:
        """Every delivery of the items created in [since, until)."""
        ...

    def summaries(self, since: datetime, until: datetime) -> list[ItemSummary]:
        """The items created in [since, until), oldest first."""
        ...


class PortalAccess(Protocol):
    """The web portal's one-time login links and sessions. Only hashes of the tokens are stored (a
    copy of the database opens nothing); the tokens themselves exist in the person's chat and
    browser alone."""

    def add_link(self, token_hash: str, contact: str, expires_at: datetime, at: datetime) -> None:
        """A login link for `contact`, good once until `expires_at`."""
        ...

    def redeem_link(self, token_hash: str, now: datetime) -> str | None:
        """Use the link up and return whose it is; None when it is unknown, used or expired."""
        ...

    def live_link(self, token_hash: str, now: datetime) -> str | None:
        """Whose link this is while it is unused and unexpired, without using it up (opening the link's
        page asks this: a link preview may fetch it); None when it is unknown, used or expired."""
        ...

    def add_session(self, session_hash: str, contact: str, expires_at: datetime, at: datetime) -> None: ...

    def session(self, session_hash: str, now: datetime) -> str | None:
        """Whose live session this is; None when it is unknown, ended or expired."""
        ...

    def end_session(self, session_hash: str, at: datetime) -> None: ...

    def end_sessions(self, contact: str, at: datetime) -> int:
        """End every session of `contact` and drop their unused links (they left); how many sessions."""
class AbsenceRepository(Protocol):
    """Who is away, until when, and who stands in for them (alerts.away.Absence)."""

    def add(self, absence: Absence) -> None:
        """Store a new absence; the person's earlier one still running is ended at `absence.set_at`
        (ended_by the setter), so that a person has at most one."""
        ...

    def current(self, person: str, now: datetime) -> Absence | None:
        """The person's absence running at `now`, if any."""
        ...

    def away(self, persons: Collection[str], now: datetime) -> frozenset[str]:
        """Those of `persons` with an absence running at `now` (current() is not None), in one look:
        asked of every recipient of every item."""
        ...

    def end(self, person: str, at: datetime, by: str) -> Absence | None:
        """End the person's running absence at `at`; the absence as ended, or None when none ran."""
        ...

    def standing_in_for(self, delegate: str, now: datetime) -> list[Absence]:
        """The absences running at `now` whose delegate is `delegate`, oldest first."""
        ...

    def overlapping(self, person: str, start: datetime, end: datetime) -> list[Absence]:
        """The person's absences, running or over, that overlap [start, end), oldest first."""
        ...

    def note_act(self, absence_id: str, act: str) -> None:
        """Note what the delegate did for the person ("acknowledged A-2026-0001"), for the summary."""
        ...

    def returned(self, now: datetime) -> list[Absence]:
        """Absences over by `now` (ended, or their date passed) whose person was not yet told what
        arrived meanwhile, oldest first."""
        ...

    def mark_summarised(self, absence_id: str, at: datetime) -> bool:
        """Note that the person was told; False when it was noted before."""
        ...


class DirectorySource(Protocol):
    def current(self) -> Directory:
        """The directory snapshot to resolve against now."""
        ...


class DirectoryWriter(Protocol):
    """Changes to the directory's people, in the unit of work's transaction. The directory snapshot
    handlers resolve against is replaced only after the commit; `changed` says one is due."""

    changed: bool

    def add_contact(self, contact: Contact) -> None:
        """A new contact; ValueError when the id or one of the accounts is taken."""
        ...

    def update_contact(self, contact: Contact) -> None:
        """Replace the contact with this id (roles, accounts, desk, backup...); KeyError when unknown."""
        ...

    def remove_contact(self, contact_id: str) -> bool:
        """Remove the contact with their roles and accounts; False when there was none."""
        ...

    def register_room(self, room: Room) -> bool:
        """Register a room as given (a registered or retired one is replaced); True when it was not
        registered before (new, or retired)."""
        ...

    def retire_room(self, chat: ChatRef, at: datetime) -> bool:
        """Retire a registered room: it is no longer in the directory, and the configuration does not
        bring it back; False when it was not registered."""
        ...

    def retired_at(self, chat: ChatRef) -> datetime | None:
        """When the room was retired; None when it is registered or never was."""
        ...


class ArrangementRepository(Protocol):
    """Sharing arrangements as coordinators record them (/arrangement), in the unit of work's
    transaction; the directory snapshot routing reads them from is replaced after the commit."""

    changed: bool

    def add(self, arrangement: Arrangement) -> Arrangement:
        """Store a new arrangement; it comes back with its number. ValueError when one of the same kind
        between the same parties exists (ended or not)."""
        ...

    def end(self, number: int, at: datetime, reason: str) -> bool:
        """End the arrangement `number` at `at`, with the reason; False when there is none in force
        under that number (unknown, or ended already)."""
        ...


class MembershipGateway(Protocol):
    """Room actions as handlers see them. plan() only records them, in the unit of work's
    transaction (nothing reaches a platform before the commit); bot/actions/membership.py carries
    them out afterwards, each once, and records each outcome."""

    def plan(self, actions: Sequence[PlannedAction]) -> int:
        """Record the actions to carry out after commit; an action planned before (same key) is not
        planned again. How many were new."""
        ...

    def present(self, room: ChatRef) -> dict[UserRef, str] | None:
        """The room's members as the bot knows them (account -> "invited" or "joined"): what it did
        and what it saw. None when the bot knows nothing of the room yet."""
        ...


class DeviceDesk(Protocol):
    """Device trust actions as handlers see them. plan() only records one, in the unit of work's
    transaction; bot/actions/devices.py carries it out on Matrix after the commit and answers the admin."""

    def plan(self, action: DeviceAction) -> None:
        ...


class Inbox(Protocol):
    """Every platform event the bot read, recorded once, before it is acted on."""

    def record(self, message: InboundMessage) -> bool:
        """Record an event; False when this platform's event id was recorded before."""
        ...

    def record_many(self, messages: list[InboundMessage]) -> None:
        """record() each message; events recorded before stay as they were."""
        ...

    def pending(self, limit: int) -> list[InboundMessage]:
        """Events not yet handled, in the order they were recorded."""
        ...

    def mark_all_done(self, messages: list[InboundMessage], at: datetime | None = None) -> None: ...

    def mark_failed(self, message: InboundMessage, error_ref: str, at: datetime | None = None) -> None:
        """Give up on an event; KeyError when it was never recorded."""
        ...

    def get(self, platform: str, event_id: str) -> InboundMessage | None:
        """The recorded event, whatever its state; None when it was never recorded."""
        ...


class Cursors(Protocol):
    """Named values (a connector's sync token, an update offset) kept with what they cover."""

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...


@dataclass(frozen=True, slots=True)
class AwaitedBody:
    """A command whose fields came without its text: the sender's next message in the chat is the text."""

    sender: UserRef
    chat: ChatRef
    command: str       # the command's name: "alert"
    platform: str      # the inbox event of the command's first message, which holds its text
    event_id: str
    since: datetime    # when that message was received; the wait ends a while after


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """What became of a command message, for an edit of it: run (and the item it made) or refused."""

    sender: UserRef  # who sent it: an edit by anyone else is not an edit of theirs
    accepted: bool
    reference: str | None = None


class Conversations(Protocol):
    """What the bot keeps between one message of a person and the next: a command awaiting its text,
    and what became of each command message (platform message id), so an edit of it can be answered."""

    def awaited(self, sender: UserRef, chat: ChatRef) -> AwaitedBody | None: ...

    def waiting(self, sender: UserRef, chat: ChatRef) -> tuple[dict[str, Any] | None, AwaitedBody | None]:
        """(form(sender, chat), awaited(sender, chat)) in one look: what the sender's next message in
        the chat may answer, asked of every message."""
        ...

    def await_body(self, awaited: AwaitedBody) -> None:
        """Wait for the text of `awaited`, instead of anything the sender awaited in that chat before."""
        ...

    def stop_awaiting(self, sender: UserRef, chat: ChatRef) -> None: ...

    def note_outcome(self, platform: str, message_id: str, outcome: CommandOutcome, at: datetime) -> None: ...

    def outcome(self, platform: str, message_id: str) -> CommandOutcome | None: ...

    def form(self, sender: UserRef, chat: ChatRef) -> dict[str, Any] | None:
        """The guided form the sender is filling in in the chat (handlers.guided.Draft.to_json())."""
        ...

    def keep_form(self, sender: UserRef, chat: ChatRef, form: dict[str, Any] | None) -> None:
        """Keep the form (sealed: it holds what the person wrote), or drop it (None)."""
        ...


class RoomRoster(Protocol):
    """Room membership as the bot knows it, and each membership run's progress."""

    def present(self, room: ChatRef) -> dict[UserRef, str] | None: ...

    def mark(self, room: ChatRef, identity: UserRef, state: str | None) -> None:
        """`identity` is in `room` as `state` ("invited", "joined"), or gone (None)."""
        ...

    def seen(self, room: ChatRef, members: dict[UserRef, str]) -> None:
        """A full list of the room's members, as a platform that can list them gave it."""
        ...

    def progress(self, op: str, key: str, outcome: str) -> dict[str, str]:
        """Note `outcome` of the action `key` of run `op` (the first note of a key counts); every
        outcome of the run so far, by key."""
        ...


class UnitOfWork(Protocol):
    """One transaction, with every repository a handler or worker writes through.

        with uow_factory() as uow:
            ...
            uow.commit()
        # leaving without commit() rolls back

    `devices` is None where no connector can act on devices (no Matrix).

    The repositories are read-only properties here, so that an implementation may hold its own
    (narrower) classes in plain attributes."""

    @property
    def items(self) -> ItemRepository: ...

    @property
    def outbox(self) -> Outbox: ...

    @property
    def releases(self) -> ReleaseRepository: ...

    @property
    def audit(self) -> AuditLog: ...

    @property
    def inbox(self) -> Inbox: ...

    @property
    def cursors(self) -> Cursors: ...

    @property
    def conversations(self) -> Conversations: ...

    @property
    def reminders(self) -> ReminderRepository: ...

    @property
    def directory_writer(self) -> DirectoryWriter: ...

    @property
    def arrangements(self) -> ArrangementRepository: ...

    @property
    def membership(self) -> MembershipGateway: ...

    @property
    def roster(self) -> RoomRoster: ...

    @property
    def devices(self) -> DeviceDesk | None: ...

    @property
    def portal(self) -> PortalAccess: ...

    @property
    def absences(self) -> AbsenceRepository: ...

    def __enter__(self) -> UnitOfWork: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Roll back whatever was not committed."""
        ...

    def commit(self) -> None:
        """Commit; a directory changed in it (people or arrangements) is reloaded for the commands after it."""
        ...

    def savepoint(self, *, alone: bool = False) -> AbstractContextManager[None]:
        """What runs in the block is kept or, when it raises, undone alone; the exception goes on.
        `alone`: the caller knows the block is all the transaction writes, so no savepoint is needed:
        when it raises, the whole transaction is rolled back, and the unit of work goes on in a new one."""
        ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


class ChatCharts(Protocol):
    """The charts the digest and the bulletin carry into chat, as images (PNG) with their bytes.

    Drawn outside handlers/ (bot/portal/chat_charts.py), from the same numbers as the portal's
    statistics, counts only. Either may raise: the round then sends its text without them."""

    def digest(self, now: datetime, day: date) -> Sequence[Attachment]:
        """The charts of the coordinators' digest of the local `day`, as of `now`."""
        ...

    def bulletin(self, month: str, now: datetime) -> Sequence[Attachment]:
        """The charts of the monthly bulletin of `month` (YYYY-MM), as of `now`."""
        ...
