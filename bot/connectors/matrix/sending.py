"""Sending (Sender), and the bot's direct chats (DirectChats).

The content of each event is sansio/outbound.py's. A delivery to a person goes to
the bot's direct chat with them: created on demand (is_direct, encrypted, trusted private chat),
remembered in `direct_rooms.json` (0600, written before the first send into it) and in the bot's
m.direct account data, and reused until the person leaves it. The outbox key is the transaction id,
so a resend after a crash (same device) is de-duplicated by the homeserver; it is also in the event
(outbound.KEY_FIELD), so a possible repeat (after a failover the standby is another device) is first
looked for among the bot's latest events in the room and, if found, recorded as sent, not sent again.
A copy sent with photos or files is recorded with its outbox row as all its events (`record_parts`: the
photos as each goes, then the text, which stays the id the copy is known by), so a reply or ✅ on its
photo is one on the copy (storage.outbox.SqlOutbox.sent_by_message), and a copy whose text never went
is known by its photo, which /withdraw and /correct redact (an image is never edited into text). After a 429 the rate
gate keeps every rate-limited request back until the window has passed; a send waits and retries
within `rate_wait_budget` seconds, then hands RateLimited (with the time left) to the worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from typing import Any, Sequence

from nio import (
    AsyncClient,
    DirectRoomsResponse,
    ErrorResponse,
    MessageDirection,
    RoomMessagesResponse,
    RoomCreateResponse,
    RoomGetStateResponse,
    RoomPreset,
    RoomSendResponse,
)
from nio.api import Api
from nio.responses import EmptyResponse

from alerts.identity import ChatRef, Platform, UserRef
from alerts.routing import Destination, DestinationKind
from bot.connectors.base import Outgoing
from bot.connectors.errors import PermanentFailure, TransientFailure
from bot.connectors.matrix import media
from bot.connectors.matrix.core import Session
from bot.connectors.matrix.files import read_json, write_json
from bot.connectors.matrix.model import PartsOf, RecordParts
from bot.connectors.matrix.sansio.outbound import KEY_FIELD, edit_content, files_of, known_by_text, message_content
from bot.connectors.matrix.sansio.rooms import DIRECT_MARKER, is_direct_with
from bot.connectors.matrix.trust import DeviceTrustKeeper
from handlers.ports import DirectorySource

log = logging.getLogger(__name__)

ENCRYPTION_STATE = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
SUPERSEDED_REASON = "superseded: the new revision carries what is current"
SENT_BEFORE_WINDOW = 100  # the bot's own latest events in a room searched for an earlier send of a key


class DirectChats:
    """The bot's direct chat with each person: found, made and remembered."""

    def __init__(self, session: Session, directory: DirectorySource) -> None:
        self._session = session
        self._directory = directory
        self._dms: dict[str, str] = {}
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.created: set[str] = set()  # rooms this process created or joined and may not have seen in a sync yet

    def load(self) -> None:
        self._dms = {k: v for k, v in (read_json(self._session.paths.direct_rooms) or {}).items()
                     if isinstance(v, str)}

    def known(self, user_id: str) -> str | None:
        """The bot's direct chat with the user as it knows it now (never creates one): where a copy
        it sent them is, for a removal (bot.actions.removal)."""
        return self._dms.get(user_id)

    async def room_with(self, user_id: str) -> str:
        """The bot's direct chat with the user: the known one while they are in it, else a new one."""
        client = self._session.client
        assert client is not None
        async with self._locks[user_id]:
            room_id = self._dms.get(user_id)
            if room_id is not None and self._usable(room_id, user_id):
                return room_id
            # A direct chat we made but could not record (a crash right after creating it), or one the
            # person opened with the bot: reuse it rather than inviting them to yet another room.
            new_room = await self._existing(user_id, exclude=room_id)
            if new_room is None:
                new_room = await self._create(user_id)
            self._dms[user_id] = new_room
            write_json(self._session.paths.direct_rooms, self._dms)  # before the first send into it
            await self._publish()
            if room_id is not None and room_id in client.rooms:
                try:
                    await client.room_leave(room_id)  # the person left it: tidy up our side
                except Exception:
                    pass
            return new_room

    def _usable(self, room_id: str, user_id: str) -> bool:
        assert self._session.client is not None
        room = self._session.client.rooms.get(room_id)
        if room is None:
            return room_id in self.created  # created by us a moment ago, not synced yet
        return user_id in room.users  # joined or still invited

    async def _existing(self, user_id: str, exclude: str | None) -> str | None:
        """An encrypted room, not registered in the directory, whose members (joined or invited) are
        exactly the bot and the user, and that is the bot's direct chat with them (its marker state
        event, which every direct chat the bot makes carries) or that they opened as a direct chat."""
        client = self._session.client
        assert client is not None
        directory = self._directory.current()
        for room_id, room in list(client.rooms.items()):
            if room_id == exclude or not room.encrypted or set(room.users) != {self._session.user_id, user_id}:
                continue
            if directory.room(ChatRef(Platform.MATRIX, room_id)) is not None:
                continue
            try:
                response = await client.room_get_state(room_id)
            except Exception:
                continue
            if isinstance(response, RoomGetStateResponse) and is_direct_with(response.events, user_id):
                log.info("Matrix: reusing direct chat %s with %s", room_id, user_id)
                return room_id
        return None

    async def _create(self, user_id: str) -> str:
        state = [ENCRYPTION_STATE, {"type": DIRECT_MARKER, "state_key": "", "content": {"user_id": user_id}}]
        response = await self._session.limited(
            lambda c: c.room_create(is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat,
                                    initial_state=state), RoomCreateResponse, "create direct chat")
        self.created.add(response.room_id)
        log.info("Matrix: direct chat %s created for %s", response.room_id, user_id)
        return str(response.room_id)

    async def _publish(self) -> None:
        """The bot's m.direct account data, so that clients (and a bot that lost its store) know them."""
        client = self._session.client
        assert client is not None
        content: dict[str, list[str]] = {user: [room] for user, room in self._dms.items()}
        path = Api._build_path(["user", self._session.user_id, "account_data", "m.direct"],
                               {"access_token": client.access_token})
        try:
            response = await client._send(EmptyResponse, "PUT", path, json.dumps(content))
            if isinstance(response, ErrorResponse):
                log.warning("Matrix: could not update m.direct: %s", response)
        except Exception as exc:
            log.warning("Matrix: could not update m.direct: %s", exc)

    async def recover(self) -> None:
        """Direct chats the state file does not know (a lost store) from the bot's m.direct."""
        client = self._session.client
        assert client is not None
        try:
            response = await client.list_direct_rooms()
        except Exception:
            return
        if not isinstance(response, DirectRoomsResponse):
            return
        for user_id, rooms in response.rooms.items():
            if user_id not in self._dms and isinstance(rooms, list) and rooms and isinstance(rooms[-1], str):
                self._dms[user_id] = rooms[-1]


class Sender:
    """bot.connectors.base.Connector.send for Matrix: into a room, or into the person's direct chat; a
    send into an encrypted room applies the device trust policy first."""

    def __init__(self, session: Session, trust: DeviceTrustKeeper, direct: DirectChats) -> None:
        self._session = session
        self._trust = trust
        self._direct = direct
        # Where the events a copy became are recorded (wiring.py); None: not recorded, and a reply to
        # a copy's photo is not one to the copy.
        self.record_parts: RecordParts | None = None
        # Where they are looked up again (wiring.py): a copy known by its photo is redacted whole.
        self.parts_of: PartsOf | None = None

    async def send(self, message: Outgoing) -> str:
        client = self._session.live()
        destination = message.destination
        address = destination.address
        log.debug("Matrix send %s to %s (attempt %d)", message.key, destination, message.attempt)
        if destination.kind is DestinationKind.DIRECT:
            if not isinstance(address, UserRef) or address.platform is not Platform.MATRIX:
                raise PermanentFailure("bad-destination", str(destination))
            user_id = address.user_id
            room_id = await self._direct.room_with(user_id)
            await self._joined(room_id)
            # Until the person's invite is in our view of the room, a group session would be shared
            # without them and they could never read this message: wait for it (a new room's events
            # may come in two syncs).
            await self._session.until_synced(lambda: user_id in client.rooms[room_id].users, room_id)
        else:
            if not isinstance(address, ChatRef) or address.platform is not Platform.MATRIX:
                raise PermanentFailure("bad-destination", str(destination))
            room_id = address.chat_id
        await self._joined(room_id)
        if message.possible_repeat:
            # The transaction id only de-duplicates on the device that sent; the event's key works on any.
            found = await self._sent_before(room_id, message.key)
            if found is not None:
                event_id, files_before = found
                log.info("Matrix: %s was sent before as %s; not sent again", message.key, event_id)
                await self._record(message.key, files_before, event_id)
                return event_id
        files: list[str] = []
        if message.attachments:  # photos and files first, then the text (the delivery's event), which lists them
            files = await media.send_files(self, room_id, message, lambda sent: self._record(message.key, sent))
        event_id = await self.room_send(room_id, message_content(message, room_id, files), message.key)
        await self._record(message.key, files, event_id)
        return event_id

    async def _record(self, key: str, files: Sequence[str], event_id: str | None = None) -> None:
        """The copy's events recorded with its row: each photo or file as it goes, then all of them with
        the text (`event_id`). A copy whose text fails for good is then known by its first photo, so
        /withdraw and /correct reach what went (until the text went the row is not sent, and nothing
        answers to it). Not recorded, the send is tried again: the same device gets the same event ids
        back (transaction ids), so nothing repeats."""
        if not files or self.record_parts is None:
            return
        try:
            await self.record_parts(key, (*files, event_id) if event_id is not None else tuple(files))
        except Exception as error:  # the database
            raise TransientFailure("parts-not-recorded", "the events sent could not be recorded") from error

    async def parts(self, event_id: str) -> tuple[str, ...]:
        """Every event of the copy the bot sent as `event_id`, as recorded; none where nothing is (a
        copy of one event) or nothing can look it up."""
        return await self.parts_of(event_id) if self.parts_of is not None else ()

    async def edit(self, destination: Destination, event_id: str, text: str, key: str) -> None:
        """bot.actions.supersede.MessageEditor: an m.replace edit of the bot's own event, in the room
        it was sent to (a person's direct chat as the bot knows it; never a new one). The outbox key is
        the transaction id, so a repeat on the same device is de-duplicated by the homeserver. The edit
        changes the text event only (a photo is never made a text): the photos sent with it are
        redacted first, so that no earlier photo stays beside the mark as if current (the new copy
        carries the item's photos as they are now). A copy known by its photo (its text never went:
        known_by_text) has no text to edit: its events are redacted, as /withdraw redacts them, and
        PermanentFailure("not-a-text") has bot/actions/supersede.py tell the one line instead."""
        client = self._session.live()
        address = destination.address
        if destination.kind is DestinationKind.DIRECT:
            if not isinstance(address, UserRef) or address.platform is not Platform.MATRIX:
                raise PermanentFailure("bad-destination", str(destination))
            room_id = self._direct.known(address.user_id)
            if room_id is None:
                raise PermanentFailure("no-direct-chat", "the bot no longer knows that direct chat")
        else:
            if not isinstance(address, ChatRef) or address.platform is not Platform.MATRIX:
                raise PermanentFailure("bad-destination", str(destination))
            room_id = address.chat_id
        if room_id not in client.rooms:
            raise PermanentFailure("not-in-room", f"the bot is not in {room_id}")
        parts = await self.parts(event_id)
        if not known_by_text(event_id, parts):
            await media.redact_events(self._request, room_id, parts, SUPERSEDED_REASON)
            raise PermanentFailure("not-a-text", "the copy is known by a photo or file: its text never went")
        await media.redact_files(self._request, self._session.user_id, room_id, event_id, SUPERSEDED_REASON)
        await self.room_send(room_id, edit_content(event_id, text, key), key)

    async def _request(self, make: Any, ok: type, what: str) -> Any:
        return await self._session.limited(make, ok, what)

    async def _sent_before(self, room_id: str, key: str) -> tuple[str, tuple[str, ...]] | None:
        """The bot's recent event in the room that carries `key`, if there is one: its event id and the
        photos and files it lists as sent before it."""
        client = self._session.client
        assert client is not None
        await self._session.gate.wait()
        response = await self._session.call(
            client.room_messages(room_id, start=None, direction=MessageDirection.back, limit=SENT_BEFORE_WINDOW,
                                 message_filter={"senders": [self._session.user_id]}),
            "messages", request_sent=False)
        if not isinstance(response, RoomMessagesResponse):
            log.warning("Matrix: could not read %s to look for an earlier send: %s", room_id, response)
            return None  # sent again, marked as a possible repeat
        for event in response.chunk:
            source = getattr(event, "source", None)
            if not isinstance(source, dict):
                continue
            content = source.get("content")
            if isinstance(content, dict) and content.get(KEY_FIELD) == key:
                return str(source.get("event_id")), files_of(source, self._session.user_id)
        return None

    async def room_send(self, room_id: str, content: dict[str, Any], tx_id: str,
                        event_type: str = "m.room.message") -> str:
        """Send one event with `tx_id` as its transaction id; the event id, or a PlatformError."""
        async def send(client: AsyncClient) -> Any:
            room = client.rooms.get(room_id)
            if room is not None and room.encrypted:
                await self._trust.prepare_encrypted(room_id)
                await self._session.gate.wait()
            return await client.room_send(room_id, event_type, content, tx_id=tx_id,
                                          ignore_unverified_devices=self._trust.ignore_unverified)

        response = await self._session.limited(send, RoomSendResponse, "send")
        return str(response.event_id)

    async def _joined(self, room_id: str) -> None:
        """Wait until the bot is in the room as its sync sees it (a room it just created or joined)."""
        client = self._session.client
        assert client is not None
        if room_id in client.rooms:
            return
        if room_id in client.invited_rooms:
            await self._session.join(room_id)
            self._direct.created.add(room_id)
        if room_id not in self._direct.created:
            raise PermanentFailure("not-in-room", f"the bot is not in {room_id}: invite it to the room")
        await self._session.until_synced(lambda: room_id in client.rooms, room_id)
