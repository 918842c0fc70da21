"""What a Matrix sync batch becomes: inbox messages (the sync round itself is in connector.py).

One sync loop; every sync passes `since` from the bot's database, never nio's memory or store. After
nio has decrypted a batch, its texts and reactions go to the inbox together with the batch's
`next_batch` as the cursor "matrix.cursor", in one transaction (`ingest`); only then does the loop
move on. A crash anywhere before that commit means the same batch is fetched again, and the inbox
(unique on platform and event id) keeps each event once. When a sync's timeline was cut short
(`limited`), the gap back to the previous token is read with /messages, so nothing in between is
lost. On the very first start (no cursor) the initial sync's token is stored and its timeline is not
read: what was said before the bot arrived is not replayed as commands. The same holds in a room the
bot joins later: only events after its own join count, except in a direct chat a directory contact
opened with the bot: there the inviter's messages since the room was created are taken too (many
clients send the first message with the new room, before the bot could join).

What each event becomes is sansio/inbound.py's to say; the Receiver only looks up what a reaction or
reply points at (a delivery, by find_delivery; what the bot recorded it sent there, by find_sent; an
approval request, by find_approval; else whether the bot sent it), and fetches the photo or file of
a message that became a command (media.fetch), never that of one that did not.

An event the bot cannot decrypt yet is kept (undecrypted.json) and its room key requested; it is
tried again after every sync, and given up after a day.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from collections.abc import Awaitable, Callable
from typing import Any

from nio import MegolmEvent, MessageDirection, RoomGetEventResponse, RoomMessagesResponse, SyncResponse

from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage, MessageKind, SentMessage
from alerts.attachments import AttachmentPolicy
from bot.connectors.matrix import media
from bot.connectors.matrix.core import Session
from bot.connectors.matrix.errors import from_response
from bot.connectors.matrix.files import read_json, write_json
from bot.connectors.matrix.model import TIMELINE_TYPES, FindApproval, FindDelivery
from bot.connectors.matrix.sansio.inbound import (
    COMMAND_PREFIXES,
    MatrixReaction,
    MatrixText,
    Target,
    direct_inviter,
    is_create,
    is_own_join,
    own_join_index,
    reaction_message,
    read_event,
    text_message,
)
from bot.connectors.matrix.sansio.rooms import is_direct_chat
from handlers.ports import DirectorySource
from handlers.command_list import COMMANDS

log = logging.getLogger(__name__)

UNDECRYPTED_KEEP_SECONDS = 24 * 3600
PRE_JOIN_PAGES = 5  # of 100 events: how far back a new direct chat is read for messages before the join


class Receiver:
    attachments = AttachmentPolicy()  # the [attachments] limits (wiring.py sets the configured ones)

    def __init__(self, session: Session, directory: DirectorySource, find_delivery: FindDelivery | None) -> None:
        self._session = session
        self._directory = directory
        self._find_delivery = find_delivery
        self._undecrypted: dict[str, dict[str, Any]] = {}
        # Direct chats a directory contact opened with the bot, by room: the inviter, whose messages
        # written before the bot joined are taken as if they came after (clients send the first one
        # with the room). Invites fills it.
        self.direct_inviters: dict[str, str] = {}
        # Whether a sender's next text in a room is to be recorded although it is no command: a command of
        # theirs awaits its text there (bot.runtime.app.Runtime.awaits_body; set by wiring.py).
        self.awaits_body: Callable[[UserRef, ChatRef], Awaitable[bool]] | None = None
        # Which held item a message of the bot's asked approvers to release (set by wiring.py).
        self.find_approval: FindApproval | None = None
        # What the bot recorded it sent as an event, for judging a reply to it (set by wiring.py).
        self.find_sent: Callable[[str], Awaitable[SentMessage | None]] | None = None
        self._collected: list[InboundMessage] = []  # what the sync batch being read holds so far

    def load(self) -> None:
        self._undecrypted = read_json(self._session.paths.undecrypted) or {}

    @property
    def _user_id(self) -> str:
        return self._session.user_id

    @property
    def _client(self) -> Any:
        assert self._session.client is not None
        return self._session.client

    async def collect(self, response: SyncResponse, since: str) -> list[InboundMessage]:
        messages: list[InboundMessage] = []
        self._collected = messages  # a text may be the text of a command earlier in this very batch
        pending_changed = False
        for room_id, info in response.rooms.join.items():
            events = list(info.timeline.events)
            joined_here = own_join_index(events, self._user_id)
            if joined_here is not None:
                before, events = events[:joined_here], events[joined_here + 1:]
                events = await self._before_join(room_id, before, info.timeline) + events
            elif info.timeline.limited and info.timeline.prev_batch:
                older = await self._backfill(room_id, info.timeline.prev_batch, since)
                log.info("Matrix: filled a gap of %d events in %s", len(older), room_id)
                events = older + events
            for event in events:
                if isinstance(event, MegolmEvent):
                    pending_changed |= await self._hold_undecrypted(event, room_id)
                    continue
                source = getattr(event, "source", None)
                if isinstance(source, dict):
                    message = await self._inbound(source, room_id)
                    if message is not None:
                        messages.append(message)
        if pending_changed:
            write_json(self._session.paths.undecrypted, self._undecrypted)
        return messages

    async def _backfill(self, room_id: str, prev_batch: str, since: str) -> list[Any]:
        """The events between `since` and a limited timeline's start, oldest first."""
        found: list[Any] = []
        start = prev_batch
        while True:
            response = await self._client.room_messages(room_id, start=start, end=since,
                                                        direction=MessageDirection.back, limit=100,
                                                        message_filter={"types": TIMELINE_TYPES})
            if not isinstance(response, RoomMessagesResponse):
                raise from_response(response, "messages")
            for event in response.chunk:  # newest first
                if is_own_join(getattr(event, "source", {}), self._user_id):
                    return list(reversed(found))
                found.append(event)
            if not response.chunk or not response.end or response.end == start:
                return list(reversed(found))
            start = response.end

    async def _before_join(self, room_id: str, before: list[Any], timeline: Any) -> list[Any]:
        """In a direct chat a directory contact opened with the bot, the inviter's events from before
        the bot's join, back to the room's creation; elsewhere none (no replay of old commands)."""
        inviter = self.direct_inviters.get(room_id) or direct_inviter(before, self._user_id)
        if inviter is None:
            return []
        if timeline.limited and timeline.prev_batch and not any(is_create(e) for e in before):
            before = await self._since_creation(room_id, timeline.prev_batch) + before
        self.direct_inviters.pop(room_id, None)  # only now: a failed read is done again with the sync
        taken = [e for e in before if getattr(e, "sender", None) == inviter
                 and (getattr(e, "source", None) or {}).get("type") in ("m.room.message", "m.room.encrypted")]
        if taken:
            log.info("Matrix: %d message(s) in direct chat %s predate the bot's join; taken", len(taken), room_id)
        return taken

    async def _since_creation(self, room_id: str, prev_batch: str) -> list[Any]:
        """The room's events before `prev_batch`, back to its creation (at most PRE_JOIN_PAGES pages), oldest first."""
        found: list[Any] = []
        start = prev_batch
        for _ in range(PRE_JOIN_PAGES):
            response = await self._client.room_messages(room_id, start=start, direction=MessageDirection.back,
                                                        limit=100, message_filter={"types": TIMELINE_TYPES})
            if not isinstance(response, RoomMessagesResponse):
                raise from_response(response, "messages")
            found.extend(response.chunk)  # newest first
            if any(is_create(e) for e in response.chunk) or not response.chunk or not response.end \
                    or response.end == start:
                break
            start = response.end
        return list(reversed(found))

    async def _inbound(self, source: dict[str, Any], room_id: str) -> InboundMessage | None:
        if source.get("sender") == self._user_id:
            return None
        room = self._client.rooms.get(room_id)
        read = read_event(source, room_id, self._user_id, self._own_name(room))
        if read is None:
            return None
        if isinstance(read, MatrixReaction):
            return reaction_message(read, await self._target(room_id, read.target), self._contact_id(read.sender))
        # A text, or a photo or file read as its caption: one path, so a photo sent in answer to a copy
        # is judged by the very rule (and lookups) a text reply is.
        # Who sent what a command replies to does not matter; what plain text replies to does.
        whose = not read.text.startswith(COMMAND_PREFIXES)
        targets = tuple([await self._target(room_id, t, whose) for t in read.targets])
        direct = is_direct_chat(self._directory.current(), room_id, room.users if room is not None else None,
                                self._user_id, read.sender)
        edited = await self._fed_back(room_id, read.edit_of, read.sender) if whose and read.edit_of else None
        # A photo's caption is its whole command: a photo is never the text a command awaits.
        awaited = whose and read.file is None and await self._awaited(read)
        message = text_message(read, targets, direct, awaited=awaited, edited=edited,
                               sender_contact=self._contact_id(read.sender))
        if message is None or read.file is None or message.remark is not None:
            return message  # a remark runs nothing: its photo is never fetched
        return replace(message, attachments=(await media.fetch(self._client, read.file, self.attachments),))

    def _own_name(self, room: Any) -> str | None:
        """The bot's display name in the room (its member event), as people there see it and type it."""
        me = room.users.get(self._user_id) if room is not None else None
        name = getattr(me, "display_name", None)
        return name if isinstance(name, str) and name.strip() else None

    async def _target(self, room_id: str, event_id: str, whose: bool = True) -> Target:
        """What a reaction or reply points at: a delivery, else (`whose`) an approval request, else
        whether the bot sent it."""
        found = await self._find_delivery(event_id) if self._find_delivery else None
        sent = await self.find_sent(event_id) if self.find_sent is not None and whose else None
        if found is not None:
            return Target(event_id, found, from_bot=True, sent=sent)
        if not whose:
            return Target(event_id)
        if sent is not None and sent.kind is not MessageKind.APPROVAL:
            return Target(event_id, from_bot=True, sent=sent)
        approval = await self.find_approval(event_id) if self.find_approval else None
        if approval is not None:
            return Target(event_id, from_bot=True, approval=approval)
        try:
            response = await self._client.room_get_event(room_id, event_id)
        except Exception:
            return Target(event_id)
        sender = getattr(getattr(response, "event", None), "sender", None)
        return Target(event_id, from_bot=isinstance(response, RoomGetEventResponse) and sender == self._user_id)

    async def _fed_back(self, room_id: str, event_id: str, sender: str) -> str | None:
        """The item `event_id` (by `sender`) was feedback on: a plain reply (in words, or a photo) to a
        message that invited one, by the rule its reply was taken by; else None. An edit names only its
        original, so the original is fetched (and decrypted) to see."""
        try:
            response = await self._client.room_get_event(room_id, event_id)
            event = response.event if isinstance(response, RoomGetEventResponse) else None
            if isinstance(event, MegolmEvent):
                event.room_id = room_id
                event = self._client.decrypt_event(event)
            source = getattr(event, "source", None)
        except Exception as exc:  # its key gone, or the server refused: the edit is left alone, as before
            log.debug("Matrix: the original of an edit could not be read: %s", type(exc).__name__)
            return None
        original = read_event(source, room_id, self._user_id) if isinstance(source, dict) else None
        if not isinstance(original, MatrixText) or original.sender != sender \
                or original.text.startswith(COMMAND_PREFIXES):
            return None
        contact = self._contact_id(sender)
        for target in original.targets:
            invited = (await self._target(room_id, target)).invites(contact)
            if invited is not None:
                return invited
        return None

    def _contact_id(self, user_id: str) -> str | None:
        try:
            contact = self._directory.current().contact_for(UserRef.parse(f"matrix:{user_id}"))
        except ValueError:
            return None
        return contact.id if contact is not None else None

    async def _awaited(self, read: MatrixText) -> bool:
        """Whether plain text may be the text of the sender's command (the dispatcher decides): one of
        theirs earlier in this batch, or one waiting in the database, awaits it in this room."""
        try:
            sender, chat = UserRef.parse(f"matrix:{read.sender}"), ChatRef.parse(f"matrix:{read.room_id}")
        except ValueError:
            return False
        if any(m.sender == sender and m.chat == chat and COMMANDS.takes_text(m.text) for m in self._collected):
            return True
        return self.awaits_body is not None and await self.awaits_body(sender, chat)

    # events we could not decrypt yet

    async def _hold_undecrypted(self, event: MegolmEvent, room_id: str) -> bool:
        if event.sender == self._user_id or event.event_id in self._undecrypted:
            return False
        self._undecrypted[event.event_id] = {"room_id": room_id, "source": event.source, "seen": time.time()}
        log.warning("Matrix: cannot decrypt %s in %s yet; asking for its key", event.event_id, room_id)
        try:
            event.room_id = room_id
            await self._client.request_room_key(event)
        except Exception as exc:  # a request already in flight, or the sender's devices unknown yet
            log.debug("room key request for %s: %s", event.event_id, exc)
        return True

    async def retry_undecrypted(self) -> list[InboundMessage]:
        if not self._undecrypted or self._session.client is None:
            return []
        messages, changed = [], False
        for event_id, held in list(self._undecrypted.items()):
            try:
                event = MegolmEvent.from_dict(held["source"])
                event.room_id = held["room_id"]
                decrypted = self._client.decrypt_event(event)
            except Exception:
                decrypted = None
            if decrypted is not None and not isinstance(decrypted, MegolmEvent) and isinstance(
                    getattr(decrypted, "source", None), dict):
                del self._undecrypted[event_id]
                changed = True
                message = await self._inbound(decrypted.source, held["room_id"])
                if message is not None:
                    messages.append(message)
            elif time.time() - float(held.get("seen", 0)) > UNDECRYPTED_KEEP_SECONDS:
                log.error("Matrix: gave up on %s in %s: its room key never came", event_id, held["room_id"])
                del self._undecrypted[event_id]
                changed = True
        if changed:
            write_json(self._session.paths.undecrypted, self._undecrypted)
        return messages
