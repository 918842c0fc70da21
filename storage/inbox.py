"""The inbox: every platform event the bot read, recorded once, before it is acted on.

A connector records a batch of events together with its new sync token or update offset (see
storage.cursors) in one transaction, and only then tells the platform it has them. Recording an
event id a second time does nothing, so an event read again after a crash is not run twice.
An event is named by its platform (the sender's) and the platform's event id.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, bindparam, select, tuple_, update

from alerts.clock import Clock
from alerts.identity import ChatRef, MessageRef, Platform, UserRef
from alerts.messages import Attachment, InboundMessage, Mention
from storage.content import inbox_aad, open_json, seal_json
from storage.db import InsertFor
from storage.sealing import ContentErased, ContentSealer, SealError
from storage.tables import inbox

_DONE_PER_STATEMENT = 400  # events per UPDATE of a batch's rows: 2 parameters each, under SQLite's old 999

# The statements of every accepted message, built once: their values come as parameters.
_RECORD = InsertFor(lambda insert: insert(inbox).on_conflict_do_nothing(index_elements=["platform", "event_id"]))
_RECORD_ONE = InsertFor(lambda insert: insert(inbox).on_conflict_do_nothing(
    index_elements=["platform", "event_id"]).returning(inbox.c.id))
_PENDING = (select(inbox.c.platform, inbox.c.event_id, inbox.c.sender, inbox.c.chat, inbox.c.received_at,
                   inbox.c.content)
            .where(inbox.c.state == "pending").order_by(inbox.c.id).limit(bindparam("limit", type_=Integer)))
_MARK_DONE = (update(inbox).where(tuple_(inbox.c.platform, inbox.c.event_id).in_(bindparam("events", expanding=True)))
              .values(state="done", error_ref=None))
# The row by its event; the new content comes as the parameter `content`.
_RESEAL = update(inbox).where(inbox.c.platform == bindparam("row_platform"),
                              inbox.c.event_id == bindparam("row_event_id"))


class SqlInbox:
    def __init__(self, connection: Connection, sealer: ContentSealer, clock: Clock) -> None:
        self._conn = connection
        self._sealer = sealer
        self._clock = clock

    def record(self, message: InboundMessage) -> bool:
        """Record an event; False when this platform's event id was recorded before."""
        # RETURNING, not rowcount: drivers disagree on rowcount for an INSERT that returns rows.
        return self._conn.execute(_RECORD_ONE(self._conn), self._row(message)).first() is not None

    def _row(self, message: InboundMessage) -> dict[str, Any]:
        platform = message.sender.platform.value
        return {"platform": platform, "event_id": message.event_id, "sender": str(message.sender),
                "chat": str(message.chat), "received_at": message.received_at,
                "content": seal_json(self._sealer, _content(message), aad=inbox_aad(platform, message.event_id)),
                "state": "pending"}

    def record_many(self, messages: list[InboundMessage]) -> None:
        """record() each of `messages` (a connector's sync), in one executemany. Which of them were
        new is not told; events recorded before stay as they were."""
        if messages:
            self._conn.execute(_RECORD(self._conn), [self._row(m) for m in messages])

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
        rows = self._conn.execute(_PENDING, {"limit": limit}).all()
        return [self._message(row) for row in rows]

    def mark_all_done(self, messages: list[InboundMessage], at: datetime | None = None) -> None:
        """Mark `messages` handled, a few hundred to a statement."""
        at = at or self._clock.now()
        self._drop_attachment_bytes(messages)
        events = [(m.sender.platform.value, m.event_id) for m in messages]
        for start in range(0, len(events), _DONE_PER_STATEMENT):
            self._conn.execute(_MARK_DONE, {"events": events[start:start + _DONE_PER_STATEMENT], "processed_at": at})

    def mark_failed(self, message: InboundMessage, error_ref: str, at: datetime | None = None) -> None:
        """Give up on an event; `error_ref` names the log entry, it holds no content."""
        self._drop_attachment_bytes([message])
        result = self._conn.execute(
            update(inbox)
            .where(inbox.c.platform == message.sender.platform.value, inbox.c.event_id == message.event_id)
            .values(state="failed", processed_at=at or self._clock.now(), error_ref=error_ref)
        )
        if result.rowcount == 0:
            raise KeyError("no inbox row for that platform event")

    def _drop_attachment_bytes(self, messages: list[InboundMessage]) -> None:
        """Handled: the bytes of attachments that no item took (a refused command) are not kept. Those
        an item took were filed under its case key already, without the bytes (file_under_case)."""
        for message in messages:
            if not any(a.data is not None for a in message.attachments):
                continue
            platform = message.sender.platform.value
            where = (inbox.c.platform == platform, inbox.c.event_id == message.event_id)
            blob = self._conn.execute(select(inbox.c.content).where(*where)).scalar_one_or_none()
            aad = inbox_aad(platform, message.event_id)
            try:
                content = open_json(self._sealer, blob, aad=aad) if blob is not None else None
            except SealError:  # sealed under a case key: filed, without the bytes
                continue
            if content is None or not any("data" in a for a in content.get("attachments", ())):
                continue
            kept = seal_json(self._sealer, _content(message, with_data=False), aad=aad)
            self._conn.execute(update(inbox).where(*where).values(content=kept))
    def get(self, platform: str, event_id: str) -> InboundMessage | None:
        """The recorded event, whatever its state; None when it was never recorded."""
        c = inbox.c
        row = self._conn.execute(
            select(c.platform, c.event_id, c.sender, c.chat, c.received_at, c.content)
            .where(c.platform == platform, c.event_id == event_id)
        ).first()
        return self._message(row) if row is not None else None

    def _message(self, row: Any) -> InboundMessage:
        content = open_json(self._sealer, row.content, aad=inbox_aad(row.platform, row.event_id))
        reply = content["reply_to"]
        return InboundMessage(
            event_id=row.event_id,
            sender=UserRef.parse(row.sender),
            chat=ChatRef.parse(row.chat),
            text=content["text"],
            received_at=row.received_at,
            reply_to=MessageRef(ChatRef.parse(reply["chat"]), reply["message_id"]) if reply else None,
            message_id=content.get("message_id"),
            direct=content.get("direct") is True,
            pressed=content.get("pressed"),
            attachments=tuple(_attachment(a) for a in content.get("attachments", ())),
            remark=content.get("remark"),
            edit_of=content.get("edit_of"),
            mentions=tuple(Mention(text, UserRef.parse(user)) for text, user in content.get("mentions", ())),
            answer_to=_ref(content.get("answer_to")),
        )


def _ref(data: Any) -> MessageRef | None:
    if not isinstance(data, dict):
        return None
    return MessageRef(ChatRef.parse(data["chat"]), data["message_id"])


def _attachment(data: dict[str, Any]) -> Attachment:
    raw = data.get("data")
    return Attachment(data["name"], data["mime"], int(data["size"]),
                      base64.b64decode(raw) if isinstance(raw, str) else None)


def _content(message: InboundMessage, with_data: bool = True) -> dict[str, Any]:
    reply_to = message.reply_to
    content: dict[str, Any] = {
        "text": message.text,
        "reply_to": {"chat": str(reply_to.chat), "message_id": reply_to.message_id} if reply_to else None,
    }
    if message.message_id is not None:
        content["message_id"] = message.message_id
    if message.direct:
        content["direct"] = True
    if message.pressed is not None:
        content["pressed"] = message.pressed
    if message.attachments:  # the bytes until the message is filed under its item (then in `attachments`)
        content["attachments"] = [
            {"name": a.name, "mime": a.mime, "size": a.size,
             **({"data": base64.b64encode(a.data).decode()} if with_data and a.data is not None else {})}
            for a in message.attachments]
    if message.remark is not None:
        content["remark"] = message.remark
    if message.edit_of is not None:
        content["edit_of"] = message.edit_of
    if message.mentions:
        content["mentions"] = [[m.text, str(m.user)] for m in message.mentions]
    if message.answer_to is not None:
        content["answer_to"] = {"chat": str(message.answer_to.chat), "message_id": message.answer_to.message_id}
    return content


def file_under_case(connection: Connection, sealer: ContentSealer, message: InboundMessage, case: str) -> None:
    """The recorded text of `message`, which is about the item `case`, sealed again under the case's
    key (it was recorded under the master key, before anyone knew which item it is about), so that
    erasing the case erases it too. For a case already erased the text is dropped: nothing may outlive
    the erasure."""
    platform = message.sender.platform.value
    aad = inbox_aad(platform, message.event_id)
    try:
        sealed = seal_json(sealer, _content(message, with_data=False), aad=aad, case=case)
    except ContentErased:
        sealed = seal_json(sealer, {"text": "", "reply_to": None}, aad=aad)
    connection.execute(_RESEAL, {"row_platform": platform, "row_event_id": message.event_id, "content": sealed})
