"""The outbox: messages to send, each with the idempotency key it was given when it was made.

Delivery is at least once. A worker leases due rows, sends them and marks them sent; a lease that
runs out (the worker crashed) makes the row due again, and the key lets the platform recognise
the resend (on Matrix it is the transaction id). Each destination gets its messages in the order
they were enqueued, one in flight at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, not_, or_, select, update

from alerts.clock import Clock
from alerts.identity import ChatRef, MessageRef
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing import Destination
from storage.content import json_plaintext, open_json, outbox_aad
from storage.keys.driver import Binder, insert_many, insert_sql
from storage.sealing import ContentSealer
from storage.tables import outbox

# Error codes are kept in clear for operators: a code such as "telegram.429", never a message text.
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_UNFINISHED = ("pending", "sending")

# The hot path of every exchange: driver SQL (storage.keys.driver). ON CONFLICT (key) DO NOTHING:
# a second enqueue of a key keeps the first row.
_COLUMNS = ("key", "kind", "platform", "destination", "contact", "reference", "protect_content", "reply_to_chat",
            "reply_to_message", "content", "state", "attempts", "not_before", "created_at")
_INSERT = insert_sql("outbox", _COLUMNS, conflict=("key",))
_BIND = Binder(outbox.c[name] for name in _COLUMNS)


@dataclass(frozen=True, slots=True)
class UnreadableRow:
    """A leased row that could not be opened (its content does not unseal, a column does not parse):
    handed to the worker as what is known in clear, so it can set the row aside and go on."""

    key: str
    kind: str
    reference: str | None
    contact: str | None
    attempts: int
    cause: str  # the exception's type name, for the log; never content


@dataclass(frozen=True, slots=True)
class LeasedMessage:
    """A message handed to a delivery worker until `lease_until`: the OutboundMessage's fields,
    and how many times it has been handed out (this time included)."""

    key: str
    kind: MessageKind
    destination: Destination
    text: str
    reference: str | None
    contact: str | None
    protect_content: bool
    reply_to: MessageRef | None
    not_before: datetime | None
    attempts: int
    lease_until: datetime
    created_at: datetime

    @property
    def message(self) -> OutboundMessage:
        return OutboundMessage(
            key=self.key,
            kind=self.kind,
            destination=self.destination,
            text=self.text,
            reference=self.reference,
            contact=self.contact,
            protect_content=self.protect_content,
            reply_to=self.reply_to,
            not_before=self.not_before,
        )


class SqlOutbox:
    """handlers.ports.Outbox, and the delivery worker's side of it."""

    def __init__(self, connection: Connection, sealer: ContentSealer, clock: Clock) -> None:
        self._conn = connection
        self._sealer = sealer
        self._clock = clock

    def enqueue(self, message: OutboundMessage) -> None:
        """Add a message; a second enqueue of the same key keeps the first and is not an error."""
        self.enqueue_many((message,))

    def enqueue_many(self, messages: Iterable[OutboundMessage]) -> None:
        """enqueue() each message, in this order (the order each destination receives them in),
        in one statement (one round trip on PostgreSQL)."""
        now = self._clock.now()
        plaintexts: dict[str, bytes] = {}  # a fan-out seals the same text for every row: encode it once
        rows = []
        for message in messages:
            plaintext = plaintexts.get(message.text)
            if plaintext is None:
                plaintext = plaintexts[message.text] = json_plaintext({"text": message.text})
            reply_to = message.reply_to
            rows.append((
                message.key,
                message.kind.value,
                message.destination.platform.value,
                str(message.destination),
                message.contact,
                message.reference,
                message.protect_content,
                str(reply_to.chat) if reply_to else None,
                reply_to.message_id if reply_to else None,
                self._sealer.seal(plaintext, aad=outbox_aad(message.key), case=message.reference),
                "pending",
                0,
                message.not_before,
                now,
            ))
        insert_many(self._conn, _INSERT, _BIND.rows(self._conn, rows))

    def lease(
        self, now: datetime, limit: int, lease_for: timedelta, platforms: set[str] | None = None
    ) -> list[LeasedMessage | UnreadableRow]:
        """Lease up to `limit` due messages, at most one per destination, marking them sending.

        A row that cannot be opened comes back as an UnreadableRow, so one bad row never keeps the
        others from being leased.

        A destination's next message is its lowest-id unfinished row that is due, or that was
        tried already (a retry keeps its place at the head of the queue). It is leased only when
        it is pending or its lease ran out, and nothing else to that destination is in flight.
        """
        c = outbox.c
        other = outbox.alias("other")
        o = other.c
        due = or_(c.not_before.is_(None), c.not_before <= now)
        leasable = or_(c.state == "pending", and_(c.state == "sending", c.lease_until <= now))
        earlier_in_queue = (
            select(o.id)
            .where(o.destination == c.destination, o.id < c.id, o.state.in_(_UNFINISHED))
            .where(or_(o.not_before.is_(None), o.not_before <= now, o.attempts > 0))
        )
        in_flight = select(o.id).where(
            o.destination == c.destination, o.id != c.id, o.state == "sending", o.lease_until > now
        )
        query = (
            select(outbox)
            .where(c.state.in_(_UNFINISHED), due, leasable)
            .where(not_(earlier_in_queue.exists()), not_(in_flight.exists()))
            .order_by(c.id)
            .limit(limit)
            # PostgreSQL: rows another worker is leasing right now are skipped, not waited for;
            # SQLite ignores this, its BEGIN IMMEDIATE already serialises leasing.
            .with_for_update(skip_locked=True, of=outbox)
        )
        if platforms is not None:
            query = query.where(c.platform.in_(sorted(platforms)))
        rows = self._conn.execute(query).all()
        if not rows:
            return []
        lease_until = now + lease_for
        self._conn.execute(
            update(outbox)
            .where(c.id.in_([row.id for row in rows]))
            .values(state="sending", lease_until=lease_until, attempts=c.attempts + 1)
        )
        return [self._leased_or_unreadable(row, lease_until) for row in rows]

    def mark_sent(self, key: str, platform_message_id: str | None, at: datetime) -> None:
        self._set(key, state="sent", platform_message_id=platform_message_id, sent_at=at, lease_until=None)

    def release(self, key: str) -> None:
        """Hand a leased row back untried (its platform was not connected): due at once when it is,
        the attempt it was leased with not counted."""
        self._conn.execute(update(outbox).where(outbox.c.key == key, outbox.c.state == "sending")
                           .values(state="pending", lease_until=None, attempts=outbox.c.attempts - 1))

    def retry_later(self, key: str, at: datetime, error_code: str) -> None:
        """Send again no earlier than `at`; the message keeps its place before later ones."""
        self._set(key, state="pending", not_before=at, lease_until=None, last_error=_code(error_code))

    def mark_failed(self, key: str, error_code: str) -> None:
        self._set(key, state="failed", lease_until=None, last_error=_code(error_code))

    def release_held(self, error_code: str, now: datetime) -> int:
        """Rows held back by `error_code` become due now; they keep their attempts and their place in line."""
        c = outbox.c
        result = self._conn.execute(update(outbox).where(
            c.state == "pending", c.last_error == _code(error_code), c.not_before > now).values(not_before=now))
        return result.rowcount or 0

    def depth(self) -> int:
        """Messages not yet sent or given up on."""
        return self._conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.state.in_(_UNFINISHED))
        ).scalar_one()

    def oldest_pending_age(self, now: datetime) -> timedelta | None:
        oldest = self._conn.execute(
            select(func.min(outbox.c.created_at)).where(outbox.c.state.in_(_UNFINISHED))
        ).scalar_one()
        if oldest is None:
            return None
        return max(now - oldest, timedelta(0))

    def _set(self, key: str, **values: object) -> None:
        result = self._conn.execute(update(outbox).where(outbox.c.key == key).values(**values))
        if result.rowcount == 0:
            raise KeyError("no outbox row with that key")

    def _leased_or_unreadable(self, row, lease_until: datetime) -> LeasedMessage | UnreadableRow:  # noqa: ANN001
        try:
            return self._leased(row, lease_until)
        except Exception as error:  # a tampered or corrupt row: whatever the cause, it is set aside
            return UnreadableRow(key=row.key, kind=row.kind, reference=row.reference, contact=row.contact,
                                 attempts=row.attempts + 1, cause=type(error).__name__)

    def _leased(self, row, lease_until: datetime) -> LeasedMessage:  # noqa: ANN001 - a Row of outbox
        content = open_json(self._sealer, row.content, aad=outbox_aad(row.key), case=row.reference)
        reply_to = None
        if row.reply_to_chat is not None:
            reply_to = MessageRef(ChatRef.parse(row.reply_to_chat), row.reply_to_message)
        return LeasedMessage(
            key=row.key,
            kind=MessageKind(row.kind),
            destination=Destination.parse(row.destination),
            text=content["text"],
            reference=row.reference,
            contact=row.contact,
            protect_content=bool(row.protect_content),
            reply_to=reply_to,
            not_before=row.not_before,
            attempts=row.attempts + 1,
            lease_until=lease_until,
            created_at=row.created_at,
        )


def _code(error_code: str) -> str:
    if not _ERROR_CODE.match(error_code):
        raise ValueError("an outbox error must be a short code (letters, digits, . _ : -), not a message")
    return error_code

