"""handlers.ports.Conversations: a command awaiting its text, what became of each command message, and
the guided forms being filled in on Matrix and the console.

An awaited command names the inbox event that holds its first message (sealed there), and an outcome
is a yes or no and an item reference; a form holds what the person wrote, so it is sealed, bound to
its sender and chat.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Connection, LargeBinary, String, Table, bindparam, delete, literal, null, \
    select, type_coerce, union_all

from alerts.identity import ChatRef, UserRef
from handlers.ports import AwaitedBody, CommandOutcome
from storage.content import open_json, seal_json
from storage.db import insert_for
from storage.schema import UtcDateTime, metadata
from storage.sealing import ContentSealer, SealError

awaited_bodies = Table(
    "awaited_bodies",
    metadata,
    Column("sender", String(300), primary_key=True),
    Column("chat", String(300), primary_key=True),
    Column("command", String(32), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("event_id", String(300), nullable=False),
    Column("since", UtcDateTime, nullable=False),
)

command_outcomes = Table(
    "command_outcomes",
    metadata,
    Column("platform", String(16), primary_key=True),
    Column("message_id", String(300), primary_key=True),
    Column("sender", String(300), nullable=False),
    Column("accepted", Boolean, nullable=False),
    Column("reference", String(32)),
    Column("at", UtcDateTime, nullable=False),
)

guided_forms = Table(
    "guided_forms",
    metadata,
    Column("sender", String(300), primary_key=True),
    Column("chat", String(300), primary_key=True),
    Column("content", LargeBinary, nullable=False),  # sealed JSON: the draft
)


# Both of what a person's next message in a chat may answer, in one round trip (most messages find
# neither): the command awaiting its text, then the open guided form, each a row when there is one.
_SENDER, _CHAT = bindparam("sender", type_=String()), bindparam("chat", type_=String())
_WAITING = union_all(
    select(literal("awaited").label("what"), type_coerce(null(), LargeBinary).label("content"),
           awaited_bodies.c.command, awaited_bodies.c.platform, awaited_bodies.c.event_id, awaited_bodies.c.since)
    .where(awaited_bodies.c.sender == _SENDER, awaited_bodies.c.chat == _CHAT),
    select(literal("form"), guided_forms.c.content, null(), null(), null(), null())
    .where(guided_forms.c.sender == _SENDER, guided_forms.c.chat == _CHAT),
)


def _form_aad(sender: UserRef, chat: ChatRef) -> bytes:
    return f"guided_forms|{sender}|{chat}".encode()


class SqlConversations:
    def __init__(self, connection: Connection, sealer: ContentSealer) -> None:
        self._conn = connection
        self._sealer = sealer

    def waiting(self, sender: UserRef, chat: ChatRef) -> tuple[dict[str, Any] | None, AwaitedBody | None]:
        form, awaited = None, None
        for row in self._conn.execute(_WAITING, {"sender": str(sender), "chat": str(chat)}):
            if row.what == "form":
                form = self._opened_form(row.content, sender, chat)
            else:
                awaited = AwaitedBody(sender, chat, row.command, row.platform, row.event_id, row.since)
        return form, awaited

    def awaited(self, sender: UserRef, chat: ChatRef) -> AwaitedBody | None:
        c = awaited_bodies.c
        row = self._conn.execute(select(awaited_bodies).where(c.sender == str(sender), c.chat == str(chat))).first()
        if row is None:
            return None
        return AwaitedBody(UserRef.parse(row.sender), ChatRef.parse(row.chat), row.command, row.platform,
                           row.event_id, row.since)

    def await_body(self, awaited: AwaitedBody) -> None:
        values: dict[str, Any] = {"command": awaited.command, "platform": awaited.platform,
                                  "event_id": awaited.event_id, "since": awaited.since}
        stmt = insert_for(self._conn, awaited_bodies).values(sender=str(awaited.sender), chat=str(awaited.chat),
                                                             **values)
        self._conn.execute(stmt.on_conflict_do_update(index_elements=["sender", "chat"], set_=values))

    def stop_awaiting(self, sender: UserRef, chat: ChatRef) -> None:
        c = awaited_bodies.c
        self._conn.execute(delete(awaited_bodies).where(c.sender == str(sender), c.chat == str(chat)))

    def note_outcome(self, platform: str, message_id: str, outcome: CommandOutcome, at: datetime) -> None:
        values: dict[str, Any] = {"sender": str(outcome.sender), "accepted": outcome.accepted,
                                  "reference": outcome.reference, "at": at}
        stmt = insert_for(self._conn, command_outcomes).values(platform=platform, message_id=message_id, **values)
        self._conn.execute(stmt.on_conflict_do_update(index_elements=["platform", "message_id"], set_=values))

    def outcome(self, platform: str, message_id: str) -> CommandOutcome | None:
        c = command_outcomes.c
        row = self._conn.execute(select(c.sender, c.accepted, c.reference)
                                 .where(c.platform == platform, c.message_id == message_id)).first()
        return CommandOutcome(UserRef.parse(row.sender), bool(row.accepted), row.reference) if row is not None else None

    def form(self, sender: UserRef, chat: ChatRef) -> dict[str, Any] | None:
        c = guided_forms.c
        blob = self._conn.execute(select(c.content).where(c.sender == str(sender), c.chat == str(chat))).scalar()
        return self._opened_form(blob, sender, chat) if blob is not None else None

    def _opened_form(self, blob: bytes, sender: UserRef, chat: ChatRef) -> dict[str, Any] | None:
        try:
            return open_json(self._sealer, blob, aad=_form_aad(sender, chat))
        except (SealError, ValueError):
            return None  # a form that cannot be opened (its key rotated away) is simply gone

    def keep_form(self, sender: UserRef, chat: ChatRef, form: dict[str, Any] | None) -> None:
        c = guided_forms.c
        self._conn.execute(delete(guided_forms).where(c.sender == str(sender), c.chat == str(chat)))
        if form is not None:
            self._conn.execute(guided_forms.insert().values(
                sender=str(sender), chat=str(chat), content=seal_json(self._sealer, form, aad=_form_aad(sender, chat))))
