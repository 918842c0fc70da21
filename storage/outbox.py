"""The outbox: messages to send, each with the idempotency key it was given when it was made.

Delivery is at least once. A worker leases due rows, sends them and marks them sent; a lease that
runs out (the worker crashed) makes the row due again, and the key lets the platform recognise
the resend where it can (on Matrix it is the transaction id, and the event carries it too). Each
destination gets its messages in the order they were enqueued, one in flight at a time.

A row that was handed out before without a recorded result (its lease ran out, or the send's
outcome was unknown) is leased as a possible repeat, and stays one until it is sent: the earlier
attempt may have arrived. Its last error then starts with "unknown:".
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Integer, Select, and_, bindparam, case, delete, func, literal, not_, or_, select, update

from alerts.clock import Clock
from alerts.identity import ChatRef, MessageRef, Platform, UserRef
from alerts.messages import Attachment, Disclosure, MessageKind, OutboundMessage, SentMessage
from alerts.routing import Destination
from handlers.ports import Cancelled, OutboxEntry
from storage.content import json_plaintext, open_json, outbox_aad, outbox_file_aad, seal_json
from storage.db import InsertFor
from storage.schema import UtcDateTime
from storage.sealing import ContentErased, ContentSealer
from storage.tables import deliveries, items, outbox, outbox_files, outbox_parts

# Error codes are kept in clear for operators: a code such as "telegram.429", never a message text.
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,100}$")
_UNFINISHED = ("pending", "sending")
_UNKNOWN = "unknown:"  # the last error's prefix once an attempt may have arrived without a recorded result

# The error code of rows that are not sent because their text went with their case's erasure.
ERASED = "erased"


def _lease_query(by_platform: bool) -> Select[Any]:
    """What OutboxRepository.lease selects, with `now`, `limit` (and `platforms`) as parameters: built
    once, as building it costs more than running it, and a lease is on every send's way."""
    c = outbox.c
    other = outbox.alias("other")
    o = other.c
    now = bindparam("now", type_=UtcDateTime)
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
        .limit(bindparam("limit", type_=Integer))
        # PostgreSQL: rows another worker is leasing right now are skipped, not waited for;
        # SQLite ignores this, its BEGIN IMMEDIATE already serialises leasing.
        .with_for_update(skip_locked=True, of=outbox)
    )
    if by_platform:
        query = query.where(c.platform.in_(bindparam("platforms", expanding=True)))
    return query


_LEASE = _lease_query(by_platform=False)
_LEASE_OF = _lease_query(by_platform=True)

log = logging.getLogger(__name__)

# ON CONFLICT (key) DO NOTHING: a second enqueue of a key keeps the first row. Built once (storage.db.InsertFor).
_ENQUEUE = InsertFor(lambda insert: insert(outbox).on_conflict_do_nothing(index_elements=["key"]))
_ENQUEUE_FILES = InsertFor(lambda insert: insert(outbox_files).on_conflict_do_nothing(
    index_elements=["outbox_key", "position"]))

# Which row a part recorded with it belongs to (record_parts): the first to record it keeps it.
_RECORD_PARTS = InsertFor(lambda insert: insert(outbox_parts).on_conflict_do_nothing(
    index_elements=["platform", "message_id"]))


def _sent_query() -> Select[Any]:
    """What the bot sent, for sent_by_message: a sent row on `platform` and its item's originator."""
    c = outbox.c
    return (select(c.kind, c.reference, c.contact, items.c.originator)
            .select_from(outbox.outerjoin(items, items.c.reference == c.reference))
            .where(c.platform == bindparam("platform"), c.state == "sent"))


# A message a row was sent as (the one it is known by, ix_outbox_platform_message_id), then any other it
# became (its photo, its text's second part: outbox_parts' key, then the row by its unique key); each
# an index lookup, as a reply or a pressed button looks one up.
_BY_MESSAGE = (_sent_query().where(outbox.c.platform_message_id == bindparam("message_id"))
               .order_by(outbox.c.id).limit(1))
_BY_PART = _sent_query().where(outbox.c.key == select(outbox_parts.c.outbox_key).where(
    outbox_parts.c.platform == bindparam("platform"),
    outbox_parts.c.message_id == bindparam("message_id")).scalar_subquery())


@dataclass(frozen=True, slots=True)
class Failed:
    """What SqlOutbox.mark_failed found: the messages of the row that reached its reader (record_parts),
    in the order sent, and whether the row had been cancelled while its send was in flight (then it
    keeps the code it was cancelled with)."""

    reached: tuple[str, ...] = ()
    cancelled: bool = False


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
    possible_repeat: bool = False  # an earlier attempt may have arrived: its outcome was never recorded
    attachments: tuple[str, ...] = ()
    attention: tuple[UserRef, ...] = ()
    files: tuple[Attachment, ...] = ()  # OutboundMessage.files, opened from their rows
    disclosure: Disclosure | None = None

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
            attachments=self.attachments,
            attention=self.attention,
            files=self.files,
            disclosure=self.disclosure,
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
        in one executemany."""
        now = self._clock.now()
        plaintexts: dict[tuple[str, ...], bytes] = {}  # a fan-out seals the same text for every row: encode it once
        rows = []
        files: list[dict[str, object]] = []
        for message in messages:
            # Whom it asks to act, which files go with it and what of its item it discloses are sealed
            # with the text.
            attention = [str(user) for user in message.attention]
            disclosure = message.disclosure.value if message.disclosure is not None else ""
            cache_key = (message.text, *attention, "|", *message.attachments, "|", str(len(message.files)),
                         "|", disclosure)
            plaintext = plaintexts.get(cache_key)
            if plaintext is None:
                content: dict[str, object] = {"text": message.text}
                if attention:
                    content["attention"] = attention
                if message.attachments:
                    content["attachments"] = list(message.attachments)
                if message.files:  # how many: a row whose files are not all there is never sent without them
                    content["files"] = len(message.files)
                if disclosure:
                    content["disclosure"] = disclosure
                plaintext = plaintexts[cache_key] = json_plaintext(content)
            files.extend(self._file_rows(message, now))
            reply_to = message.reply_to
            rows.append({
                "key": message.key,
                "kind": message.kind.value,
                "platform": message.destination.platform.value,
                "destination": str(message.destination),
                "contact": message.contact,
                "reference": message.reference,
                "protect_content": message.protect_content,
                "reply_to_chat": str(reply_to.chat) if reply_to else None,
                "reply_to_message": reply_to.message_id if reply_to else None,
                "content": self._sealer.seal(plaintext, aad=outbox_aad(message.key), case=message.reference),
                "state": "pending",
                "attempts": 0,
                "not_before": message.not_before,
                "created_at": now,
            })
        if rows:
            self._conn.execute(_ENQUEUE(self._conn), rows)
        if files:  # a second enqueue of a key keeps the first row's files too
            self._conn.execute(_ENQUEUE_FILES(self._conn), files)

    def _file_rows(self, message: OutboundMessage, now: datetime) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        for position, file in enumerate(message.files):
            if file.data is None:
                raise ValueError("a file to send with a message needs its bytes")
            aad = outbox_file_aad(message.key, position)
            rows.append({"outbox_key": message.key, "position": position, "size": len(file.data), "created_at": now,
                         "meta": seal_json(self._sealer, {"name": file.name, "mime": file.mime}, aad=aad,
                                           case=message.reference),
                         "data": self._sealer.seal(file.data, aad=aad, case=message.reference)})
        return rows

    def _files(self, key: str, count: int, reference: str | None) -> tuple[Attachment, ...]:
        """The `count` files of the row `key`, opened; raises when one is missing (removed by retention)."""
        c = outbox_files.c
        rows = self._conn.execute(select(outbox_files).where(c.outbox_key == key).order_by(c.position)).all()
        if [row.position for row in rows] != list(range(count)):
            raise LookupError("the files of an outbox row are not all there")
        files = []
        for row in rows:
            aad = outbox_file_aad(key, row.position)
            meta = open_json(self._sealer, row.meta, aad=aad, case=reference)
            data = self._sealer.open(bytes(row.data), aad=aad, case=reference)
            files.append(Attachment(meta["name"], meta["mime"], len(data), data))
        return tuple(files)

    def _drop_files(self, *keys: str) -> None:
        """A row sent or given up on needs its files no more."""
        self._conn.execute(delete(outbox_files).where(outbox_files.c.outbox_key.in_(keys)))

    def lease(
        self, now: datetime, limit: int, lease_for: timedelta, platforms: set[str] | None = None
    ) -> list[LeasedMessage | UnreadableRow]:
        """Lease up to `limit` due messages, at most one per destination, marking them sending.

        A destination's next message is its lowest-id unfinished row that is due, or that was
        tried already (a retry keeps its place at the head of the queue). It is leased only when
        it is pending or its lease ran out, and nothing else to that destination is in flight.
        A row whose case was erased is not handed out: it is marked failed (ERASED) and the
        destination's next row is looked at. A row that cannot be opened otherwise (damaged) comes
        back as an UnreadableRow for the worker to set aside, so one bad row never keeps the others
        from being leased.
        """
        c = outbox.c
        query = _LEASE_OF if platforms is not None else _LEASE
        params: dict[str, object] = {"now": now}
        if platforms is not None:
            params["platforms"] = sorted(platforms)
        lease_until = now + lease_for
        leased: list[LeasedMessage | UnreadableRow] = []
        while len(leased) < limit:
            rows = self._conn.execute(query, {**params, "limit": limit - len(leased)}).all()
            batch: list[LeasedMessage | UnreadableRow] = []
            for row in rows:
                try:
                    batch.append(self._leased(row, lease_until))
                except ContentErased:  # its case was erased: never to be sent, and nothing is wrong
                    self._give_up(row, ERASED)
                except Exception as error:  # damaged or tampered with: the worker sets it aside and tells
                    batch.append(UnreadableRow(key=row.key, kind=row.kind, reference=row.reference,
                                               contact=row.contact, attempts=row.attempts + 1,
                                               cause=type(error).__name__))
            if batch:
                self._conn.execute(
                    update(outbox)
                    .where(c.key.in_([message.key for message in batch]))
                    .values(state="sending", lease_until=lease_until, attempts=c.attempts + 1,
                            last_error=case((c.state == "sending", _UNKNOWN + "lease-expired"), else_=c.last_error))
                )
                leased.extend(batch)
            if len(batch) == len(rows):
                break  # nothing was given up on, so nothing else became next in line
        return leased

    def _give_up(self, row, code: str) -> None:  # noqa: ANN001 - a Row of outbox
        """A row whose case was erased is never sent: it is marked failed with `code`, and the others
        go on."""
        log.warning("outbox row %s is not sent: its text is %s", row.key, code)
        self._conn.execute(update(outbox).where(outbox.c.id == row.id)
                           .values(state="failed", lease_until=None, last_error=code))
        self._drop_files(row.key)
        # An item's copy that will never go says so in /status, rather than staying "queued".
        self._conn.execute(update(deliveries).where(deliveries.c.outbox_key == row.key,
                                                    deliveries.c.state == "queued").values(state="failed"))

    def mark_sent(self, key: str, platform_message_id: str | None, at: datetime, *, files: bool = True) -> None:
        """`files=False`: the caller knows the row carried no files of its own (the delivery worker, from
        what it leased), which spares a statement on every send."""
        self._set(key, state="sent", platform_message_id=platform_message_id, sent_at=at, lease_until=None)
        if files:
            self._drop_files(key)

    def record_parts(self, key: str, parts: Sequence[str]) -> None:
        """The ids of the messages the row `key` became so far (a connector records them as it sends
        each, so a restart mid-send neither sends them again nor forgets them); not content. Each is
        dated when first recorded: when it went, near enough (Telegram's 48 hours to delete it)."""
        if any(not part or part.split() != [part] for part in parts):
            raise ValueError("a platform message id has no spaces")
        platform = self._conn.execute(update(outbox).where(outbox.c.key == key)
                                      .values(platform_parts=" ".join(parts) or None)
                                      .returning(outbox.c.platform)).scalar_one_or_none()
        if platform is None:
            return
        # Each part is found by its id too (sent_by_message): written here, the one place parts are.
        p = outbox_parts.c
        self._conn.execute(delete(outbox_parts).where(p.outbox_key == key, p.message_id.not_in(parts)))
        if parts:
            now = self._clock.now()
            self._conn.execute(_RECORD_PARTS(self._conn), [{"platform": platform, "message_id": part, "outbox_key": key,
                                                            "sent_at": now} for part in parts])

    def parts_sent(self, key: str) -> tuple[str, ...]:
        """What record_parts last recorded for the row `key` (none: nothing, or it was one message)."""
        value = self._conn.execute(select(outbox.c.platform_parts).where(outbox.c.key == key)).scalar_one_or_none()
        return tuple(value.split()) if value else ()

    def parts_of(self, platform: Platform, platform_message_id: str) -> tuple[str, ...]:
        """Every message of the row sent on `platform` as `platform_message_id` (the one it is known by),
        in the order sent; none when it was that one message alone, or is not the bot's."""
        c = outbox.c
        value = self._conn.execute(
            select(c.platform_parts).where(c.platform_message_id == platform_message_id, c.platform == platform.value,
                                           c.platform_parts.is_not(None)).limit(1)
        ).scalar_one_or_none()
        return tuple(value.split()) if value else ()

    def approval_by_message(self, platform: Platform, platform_message_id: str) -> str | None:
        """The item reference an approval request sent as `platform_message_id` asked to release (a
        connector reads a reaction on it as /approve); None for any other message."""
        c = outbox.c
        return self._conn.execute(
            select(c.reference).where(c.platform_message_id == platform_message_id, c.platform == platform.value,
                                      c.kind == MessageKind.APPROVAL.value, c.state == "sent").limit(1)
        ).scalar_one_or_none()

    def sent_by_message(self, platform: Platform, platform_message_id: str) -> SentMessage | None:
        """What the bot sent as `platform_message_id` (its kind, item, addressee, the item's originator),
        for a connector to judge a reply to it (alerts.messages.reply_reference); None when no sent row
        carried it. Any message the row became counts (record_parts: a Telegram copy's photo, its text's
        second part), not only the one it is known by."""
        params = {"platform": platform.value, "message_id": platform_message_id}
        row = self._conn.execute(_BY_MESSAGE, params).first() or self._conn.execute(_BY_PART, params).first()
        if row is None:
            return None
        try:
            kind = MessageKind(row.kind)
        except ValueError:  # a kind this version does not know invites nothing
            return None
        return SentMessage(kind, row.reference, row.contact, row.originator)

    def release(self, key: str) -> None:
        """Hand a leased row back untried (its platform was not connected): due at once when it is,
        the attempt it was leased with not counted."""
        self._conn.execute(update(outbox).where(outbox.c.key == key, outbox.c.state == "sending")
                           .values(state="pending", lease_until=None, attempts=outbox.c.attempts - 1))

    def retry_later(self, key: str, at: datetime, error_code: str, outcome_unknown: bool = False) -> bool:
        """Send again no earlier than `at`; the message keeps its place before later ones.
        `outcome_unknown`: the attempt may have arrived; the row stays a possible repeat until sent.
        Only a row still being sent goes back in line: one cancelled while its send was in flight
        (/withdraw, /correct) stays cancelled, never sent later; False then."""
        unknown = (_UNKNOWN + _code(error_code))[:100]
        last_error = literal(unknown) if outcome_unknown else case(
            (outbox.c.last_error.like(_UNKNOWN + "%"), literal(unknown)), else_=literal(_code(error_code)))
        return self._set_sending(key, state="pending", not_before=at, lease_until=None, last_error=last_error)

    def mark_failed(self, key: str, error_code: str) -> Failed:
        """Given up on. The messages of the row that reached its reader before it failed (record_parts:
        a copy's photo, its text's first parts), in the order sent; the row is then known by the
        first of them (its platform_message_id, where parts_of finds them all), so that taking the
        copy back reaches them although it was never delivered whole. A row cancelled while its send
        was in flight keeps its state and code (Failed.cancelled); what of it reached is recorded all the same."""
        code = _code(error_code)
        reached = self.parts_sent(key)
        known_by = ({"platform_message_id": func.coalesce(outbox.c.platform_message_id, reached[0])}
                    if reached else {})
        failed = self._set_sending(key, state="failed", lease_until=None, last_error=code, **known_by)
        if not failed and known_by:
            self._conn.execute(update(outbox).where(outbox.c.key == key, outbox.c.state == "failed")
                               .values(**known_by))
        self._drop_files(key)
        return Failed(reached, cancelled=not failed)

    def cancel(self, reference: str, kinds: AbstractSet[MessageKind], error_code: str, *,
               only: AbstractSet[str] | None = None) -> Cancelled:
        """The item's unsent rows of `kinds` (pending, or leased: a send in flight that lands after
        all is recorded as sent by the worker, which then treats it as the caller planned) are
        marked failed with `error_code`; their keys, in the order they were enqueued, and the leased
        ones. `only`: of these, just the rows with these keys."""
        c = outbox.c
        if only is not None and not only:
            return Cancelled()
        where = (c.reference == reference, c.state.in_(_UNFINISHED), c.kind.in_(sorted(k.value for k in kinds)),
                 *((c.key.in_(sorted(only)),) if only is not None else ()))
        # Locked as read (PostgreSQL), so no row is leased between reading its state and failing it.
        rows = self._conn.execute(select(c.key, c.state, c.platform_parts).where(*where).order_by(c.id)
                                  .with_for_update(of=outbox)).all()
        keys = tuple(row.key for row in rows)
        if keys:
            self._conn.execute(update(outbox).where(*where).values(state="failed", lease_until=None,
                                                                  last_error=_code(error_code)))
            self._drop_files(*keys)
        # Part of a row between two attempts went already (a copy's photo): known by the first of its
        # messages, as mark_failed leaves it. One in flight is left to the worker: it may go on yet.
        reached = {row.key: row.platform_parts.split()[0] for row in rows
                   if row.state != "sending" and row.platform_parts}
        for key, first in reached.items():
            self._conn.execute(update(outbox).where(c.key == key, c.platform_message_id.is_(None))
                               .values(platform_message_id=first))
        return Cancelled(keys, frozenset(row.key for row in rows if row.state == "sending"), reached)

    def entries(self, keys: AbstractSet[str]) -> dict[str, OutboxEntry]:
        if not keys:
            return {}
        c = outbox.c
        rows = self._conn.execute(select(c.key, c.state, c.platform_message_id, c.sent_at, c.last_error)
                                  .where(c.key.in_(sorted(keys)))).all()
        return {row.key: OutboxEntry(row.state, row.platform_message_id, row.sent_at, row.last_error) for row in rows}

    def release_held(self, error_code: str, now: datetime) -> int:
        """Rows held back by `error_code` become due now; they keep their attempts and their place in line."""
        c = outbox.c
        result = self._conn.execute(update(outbox).where(
            c.state == "pending", c.last_error.in_([_code(error_code), (_UNKNOWN + error_code)[:100]]),
            c.not_before > now).values(not_before=now))
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

    def _set_sending(self, key: str, **values: object) -> bool:
        """The worker's record of a send's outcome: written only while the row is being sent, so a row
        cancelled meanwhile stays as cancel() left it; False then. KeyError for a key that is no row."""
        c = outbox.c
        result = self._conn.execute(update(outbox).where(c.key == key, c.state == "sending").values(**values))
        if result.rowcount:
            return True
        if self._conn.execute(select(c.id).where(c.key == key)).first() is None:
            raise KeyError("no outbox row with that key")
        return False

    def _set(self, key: str, **values: object) -> None:
        result = self._conn.execute(update(outbox).where(outbox.c.key == key).values(**values))
        if result.rowcount == 0:
            raise KeyError("no outbox row with that key")

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
            possible_repeat=row.state == "sending" or (row.last_error or "").startswith(_UNKNOWN),
            attachments=tuple(content.get("attachments", ())),
            attention=tuple(UserRef.parse(user) for user in content.get("attention", ())),
            files=self._files(row.key, int(content["files"]), row.reference) if content.get("files") else (),
            disclosure=Disclosure(content["disclosure"]) if content.get("disclosure") else None,
        )


def cancel_case(connection: Connection, reference: str) -> int:
    """Erasure: the case's messages not yet sent never will be. They are marked failed with the code
    `erased` (their text, sealed under the case key, is gone with it); returns how many."""
    result = connection.execute(
        update(outbox).where(outbox.c.reference == reference, outbox.c.state.in_(_UNFINISHED))
        .values(state="failed", lease_until=None, last_error=ERASED)
    )
    connection.execute(delete(outbox_files).where(outbox_files.c.outbox_key.in_(
        select(outbox.c.key).where(outbox.c.reference == reference))))
    return result.rowcount or 0


def purge_files(connection: Connection, before: datetime) -> int:
    """Retention: files of messages made before `before` and still kept (their row never went) are
    removed; the row, if it is ever leased, is then set aside rather than sent without them."""
    result = connection.execute(delete(outbox_files).where(outbox_files.c.created_at < before))
    return result.rowcount or 0


def _code(error_code: str) -> str:
    if not _ERROR_CODE.match(error_code):
        raise ValueError("an outbox error must be a short code (letters, digits, . _ : -), not a message")
    return error_code

