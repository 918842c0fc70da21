"""The inbox: every platform event the bot read, recorded once, before it is acted on.

A connector records a batch of events together with its new sync token or update offset (see
storage.cursors) in one transaction, and only then tells the platform it has them. Recording an
event id a second time does nothing, so an event read again after a crash is not run twice.
An event is named by its platform (the sender's) and the platform's event id.

Recording, reading and finishing events run as driver SQL (storage.keys.driver): once per
message, they cost more through SQLAlchemy than the rest of handling a small command.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, Callable

from sqlalchemy import Connection

from alerts.clock import Clock
from alerts.identity import ChatRef, MessageRef, Platform, UserRef
from alerts.messages import InboundMessage
from storage.content import inbox_aad, open_json, seal_json
from storage.keys.driver import Binder, execute, fetch_one, insert_many, insert_sql, submit, together
from storage.sealing import ContentErased, ContentSealer
from storage.write_behind import held_writes
from storage.tables import inbox

_RECORD_COLUMNS = ("platform", "event_id", "sender", "chat", "received_at", "content", "state")
_RECORD_MANY = insert_sql("inbox", _RECORD_COLUMNS, conflict=("platform", "event_id"))
# RETURNING, not rowcount: drivers disagree on rowcount for an INSERT that returns rows.
_RECORD = _RECORD_MANY + " RETURNING id"
_RECORD_ROW = Binder(inbox.c[name] for name in _RECORD_COLUMNS)
_FAIL = "UPDATE inbox SET state = 'failed', processed_at = ?, error_ref = ? WHERE platform = ? AND event_id = ?"
_FAIL_ROW = Binder((inbox.c.processed_at, inbox.c.error_ref, inbox.c.platform, inbox.c.event_id))
# A batch's messages are marked done by one UPDATE: one statement, not one per message.
_DONE_ROW = Binder((inbox.c.state, inbox.c.processed_at))
_DONE_PER_STATEMENT = 400  # 2 parameters each, under the 999 an older SQLite allows
# Read by every batch, so driver SQL too; received_at is then read back as UtcDateTime reads it.
_PENDING = ("SELECT platform, event_id, sender, chat, received_at, content FROM inbox WHERE state = 'pending' "
            "ORDER BY id LIMIT ?")
_RECEIVED_AT: dict[tuple[str, str], Callable[[Any], Any] | None] = {}


def _received_at(connection: Connection) -> Callable[[Any], Any] | None:
    dialect = connection.dialect
    key = (dialect.name, dialect.driver)
    if key not in _RECEIVED_AT:
        _RECEIVED_AT[key] = inbox.c.received_at.type.dialect_impl(dialect).result_processor(dialect, None)
    return _RECEIVED_AT[key]


# A message about an item: its text sealed again, under the item's case key (file_under_case).
_FILE = "UPDATE inbox SET content = ? WHERE platform = ? AND event_id = ?"
_FILE_ROW = Binder((inbox.c.content, inbox.c.platform, inbox.c.event_id))

_DONE_UNNEST = ("UPDATE inbox SET state = ?, processed_at = ?, error_ref = NULL "
                "WHERE (platform, event_id) IN (SELECT * FROM unnest(?::text[], ?::text[]))")


@lru_cache(maxsize=64)
def _done_sql(count: int) -> str:
    events = ", ".join(["(?, ?)"] * count)
    return f"UPDATE inbox SET state = ?, processed_at = ?, error_ref = NULL WHERE (platform, event_id) IN ({events})"


class SqlInbox:
    def __init__(self, connection: Connection, sealer: ContentSealer, clock: Clock) -> None:
        self._conn = connection
        self._sealer = sealer
        self._clock = clock

    def record(self, message: InboundMessage) -> bool:
        """Record an event; False when this platform's event id was recorded before."""
        return fetch_one(self._conn, _RECORD, _RECORD_ROW(self._conn, self._row(message))) is not None

    def _row(self, message: InboundMessage) -> tuple:
        platform = message.sender.platform.value
        return (platform, message.event_id, str(message.sender), str(message.chat), message.received_at,
                seal_json(self._sealer, _content(message), aad=inbox_aad(platform, message.event_id)), "pending")

    def record_many(self, messages: list[InboundMessage]) -> None:
        """record() each of `messages` (a connector's sync), in one statement: one round trip on
        PostgreSQL. Which of them were new is not told; events recorded before stay as they were."""
        with together(self._conn):  # psycopg's executemany in a pipeline: short SQL, parsed once
            insert_many(self._conn, _RECORD_MANY, _RECORD_ROW.rows(self._conn, (self._row(m) for m in messages)))

    def record_event(
        self,
        platform: Platform,
        event_id: str,
        sender: UserRef,
        chat: ChatRef,
        text: str,
        received_at: datetime,
        reply_to: MessageRef | None = None,
    ) -> bool:
        """record() from the event's parts, for connectors that have no InboundMessage yet."""
        if sender.platform is not platform or chat.platform is not platform:
            raise ValueError("the sender and chat of an event are on the event's platform")
        return self.record(InboundMessage(event_id, sender, chat, text, received_at, reply_to))

    def pending(self, limit: int) -> list[InboundMessage]:
        """Events not yet handled, in the order they were recorded."""
        cursor = submit(self._conn, _PENDING, (limit,))
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()
        received_at = _received_at(self._conn)
        return [self._message(row, received_at) for row in rows]

    def mark_all_done(self, messages: list[InboundMessage], at: datetime | None = None) -> None:
        """Mark `messages` handled, in one statement (one round trip on PostgreSQL)."""
        if not messages:
            return
        done = _DONE_ROW(self._conn, ("done", at or self._clock.now()))
        if self._conn.dialect.name == "postgresql":
            # Two arrays, not two parameters per message: psycopg parses a long statement anew each time.
            platforms, events = zip(*((m.sender.platform.value, m.event_id) for m in messages))
            execute(self._conn, _DONE_UNNEST, done + [list(platforms), list(events)])
            return
        for start in range(0, len(messages), _DONE_PER_STATEMENT):
            chunk = messages[start:start + _DONE_PER_STATEMENT]
            events = [value for m in chunk for value in (m.sender.platform.value, m.event_id)]
            execute(self._conn, _done_sql(len(chunk)), done + events)

    def mark_failed(self, message: InboundMessage, error_ref: str, at: datetime | None = None) -> None:
        """Give up on an event; `error_ref` names the log entry, it holds no content."""
        row = (at or self._clock.now(), error_ref, message.sender.platform.value, message.event_id)
        if execute(self._conn, _FAIL, _FAIL_ROW(self._conn, row)) == 0:
            raise KeyError("no inbox row for that platform event")

    def _message(self, row: tuple, received_at: Callable[[Any], Any] | None) -> InboundMessage:
        """The message of a _PENDING row; `received_at` reads its time back (_received_at)."""
        platform, event_id, sender, chat, received, sealed = row
        content = open_json(self._sealer, sealed, aad=inbox_aad(platform, event_id))
        reply = content["reply_to"]
        return InboundMessage(
            event_id=event_id,
            sender=UserRef.parse(sender),
            chat=ChatRef.parse(chat),
            text=content["text"],
            received_at=received_at(received) if received_at is not None else received,
            reply_to=MessageRef(ChatRef.parse(reply["chat"]), reply["message_id"]) if reply else None,
            message_id=content.get("message_id"),
            direct=content.get("direct") is True,
        )


def _content(message: InboundMessage) -> dict[str, Any]:
    reply_to = message.reply_to
    content: dict[str, Any] = {
        "text": message.text,
        "reply_to": {"chat": str(reply_to.chat), "message_id": reply_to.message_id} if reply_to else None,
    }
    if message.message_id is not None:
        content["message_id"] = message.message_id
    if message.direct:
        content["direct"] = True
    return content


def file_under_case(connection: Connection, sealer: ContentSealer, message: InboundMessage, case: str) -> None:
    """The recorded text of `message`, which is about the item `case`, sealed again under the case's
    key (it was recorded under the master key, before anyone knew which item it is about), so that
    erasing the case erases it too. For a case already erased the text is dropped: nothing may outlive
    the erasure. Held back with the transaction's other writes where they are held (one statement per
    message, sent with them), else run now.
    """
    platform = message.sender.platform.value
    aad = inbox_aad(platform, message.event_id)
    try:
        sealed = seal_json(sealer, _content(message), aad=aad, case=case)
    except ContentErased:
        sealed = seal_json(sealer, {"text": "", "reply_to": None}, aad=aad)
    params = _FILE_ROW(connection, (sealed, platform, message.event_id))
    held = held_writes(connection)
    if held is not None:
        held.last(("inbox-file", platform, message.event_id), _FILE, params)
    else:
        execute(connection, _FILE, params)
