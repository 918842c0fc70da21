"""The Matrix connector: matrix-nio with end-to-end encryption (vodozemac), the bot's own sync loop,
sends with the outbox key as transaction id, direct chats on demand, reactions and replies.

Receiving. One sync loop; every sync passes `since` from the bot's database, never nio's memory or
store. After nio has decrypted a batch, its texts and reactions go to the inbox together with the
batch's `next_batch` as the cursor "matrix.cursor", in one transaction (`ingest`); only then does the
loop move on. A crash anywhere before that commit means the same batch is fetched again, and the
inbox (unique on platform and event id) keeps each event once. When a sync's timeline was cut short
(`limited`), the gap back to the previous token is read with /messages, so nothing in between is lost.
On the very first start (no cursor) the initial sync's token is stored and its timeline is not read:
what was said before the bot arrived is not replayed as commands. The same holds in a room the bot
joins later: only events after its own join count.

What is recorded: texts that are commands (they begin with / or !); replies and thread replies to a
delivered item, as "/reply REF text" (with the quoted reply fallback removed); reactions ✅ 👍 ✔️ ☑️ by
the delivery's recipient on a delivered item, as "/ack REF". Ordinary conversation is never stored.

Invites. Accepted from a room registered in the directory, from a directory contact with the admin or
coordinator role, or, for a direct chat (is_direct), from any directory contact. Anything else is
rejected. Both outcomes go to the security hook (the lead audits them).

Sending. m.notice with a plain `body` and an HTML `formatted_body` (render.py). A delivery to a person
goes to the bot's direct chat with them: created on demand (is_direct, encrypted, trusted private
chat), remembered in `direct_rooms.json` (0600, written before the first send into it) and in the
bot's m.direct account data, and reused until the person leaves it. The outbox key is the transaction
id, so a resend after a crash (same device) is de-duplicated by the homeserver. After a 429 the rate
gate keeps every rate-limited request back until the window has passed; a send waits and retries
within `rate_wait_budget` seconds, then hands RateLimited (with the time left) to the worker.

Device trust (config device_trust):
  tofu      a device seen for the first time is trusted on first use: keys are shared with it
            (nio's "ignored" state, which is not "verified"), and the security hook records it.
  verified  a send into an encrypted room that holds a device nobody verified (TOFU devices
            included) raises UnverifiedDevices: retryable, retried every `unverified_retry` seconds
            until an admin runs verify_device or blacklist_device; the hook alerts the admins once
            per device. If nobody decides before the worker's attempts run out, the delivery fails
            and its originator is told (the worker's usual path).
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    DirectRoomsResponse,
    ErrorResponse,
    InviteMemberEvent,
    JoinedMembersResponse,
    JoinResponse,
    KeysQueryResponse,
    MegolmEvent,
    MessageDirection,
    RoomCreateResponse,
    RoomGetStateResponse,
    RoomMessagesResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)
from nio.api import Api
from nio.crypto import TrustState
from nio.responses import EmptyResponse

from alerts.identity import ChatRef, MessageRef, Platform, UserRef
from alerts.messages import InboundMessage
from alerts.roles import Role
from alerts.routing import DestinationKind
from bot.config_connectors import DeviceTrust, MatrixSettings
from bot.connectors.base import Ingest, Outgoing
from bot.connectors.matrix.errors import (
    SessionExpired,
    UnverifiedDevices,
    from_exception,
    from_response,
)
from bot.connectors.matrix.files import read_json, write_json
from bot.connectors.matrix.gate import RateGate
from bot.connectors.matrix.inbound import MatrixReaction, MatrixText, read_event, reply_command
from bot.connectors.matrix.render import message_content
from bot.connectors.matrix.session import MatrixStartError, SessionPaths, open_session
from bot.credentials import SecretRef
from bot.errors import NotConnected, PermanentFailure, PlatformError, RateLimited, TransientFailure
from handlers.ports import DirectorySource

log = logging.getLogger(__name__)

CURSOR = "matrix.cursor"
TIMELINE_TYPES = ["m.room.message", "m.reaction", "m.room.encrypted", "m.room.member", "m.room.encryption",
                  "m.room.create", "m.room.tombstone"]
ENCRYPTION_STATE = {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
DIRECT_MARKER = "org.liaison_bot.direct"  # state event in each direct chat the bot makes: {"user_id": ...}
UNDECRYPTED_KEEP_SECONDS = 24 * 3600

# (item reference, recipient contact id) of the delivery a Matrix event id carried, or None.
FindDelivery = Callable[[str], Awaitable["tuple[str, str] | None"]]


class SecurityKind(enum.Enum):
    DEVICE_TRUSTED_ON_FIRST_USE = "device-trusted-on-first-use"
    DEVICE_BLOCKING = "device-unverified-blocking"  # verified-only policy: admins must decide
    DEVICE_VERIFIED = "device-verified"
    DEVICE_BLACKLISTED = "device-blacklisted"
    INVITE_ACCEPTED = "invite-accepted"
    INVITE_REFUSED = "invite-refused"


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """Something the audit log should record (and, for DEVICE_BLOCKING, the admins should be told)."""

    kind: SecurityKind
    user_id: str  # the device's owner, or the inviter
    device_id: str | None = None
    ed25519: str | None = None
    room_id: str | None = None
    detail: str = ""


SecurityHook = Callable[[SecurityEvent], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    user_id: str
    device_id: str
    display_name: str
    ed25519: str
    trust: str  # "verified", "tofu" (trusted on first use), "blacklisted", "unverified"


_TRUST_NAMES = {TrustState.verified: "verified", TrustState.ignored: "tofu", TrustState.blacklisted: "blacklisted",
                TrustState.unset: "unverified"}


def sync_filter(timeline_limit: int) -> dict[str, Any]:
    return {
        "presence": {"not_types": ["*"]},
        "account_data": {"types": ["m.direct"]},
        "room": {
            "timeline": {"types": TIMELINE_TYPES, "limit": timeline_limit},
            "ephemeral": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
            "include_leave": False,
        },
    }


class MatrixConnector:
    platform = Platform.MATRIX

    def __init__(
        self,
        *,
        homeserver: str,
        user_id: str,
        pickle_key: SecretRef,
        store_path: Path,
        directory: DirectorySource,
        password: SecretRef | None = None,
        access_token: SecretRef | None = None,
        device_name: str = "liaison-bot",
        device_trust: DeviceTrust = DeviceTrust.TOFU,
        find_delivery: FindDelivery | None = None,
        on_security: SecurityHook | None = None,
        timeline_limit: int = 50,
        sync_timeout_ms: int = 30_000,
        request_timeout: float = 30.0,
        rate_wait_budget: float = 45.0,
        room_wait: float = 60.0,
        unverified_retry: float = 300.0,
        start_timeout: float = 120.0,
    ) -> None:
        if password is None and access_token is None:
            raise ValueError("a Matrix connector needs a password or an access token")
        self._homeserver = homeserver.rstrip("/")
        self._user_id = user_id
        self._password = password
        self._access_token = access_token
        self._pickle_key = pickle_key
        self._device_name = device_name
        self._paths = SessionPaths(Path(store_path))
        self._directory = directory
        self._trust = device_trust
        self._find_delivery = find_delivery
        self._on_security = on_security
        self._filter = sync_filter(timeline_limit)
        self._sync_timeout_ms = sync_timeout_ms
        self._request_timeout = request_timeout
        self._rate_wait_budget = rate_wait_budget
        self._room_wait = room_wait
        self._unverified_retry = unverified_retry
        self._start_timeout = start_timeout

        self.connected = False
        self.client: AsyncClient | None = None
        self.gate = RateGate()
        self._ingest: Ingest | None = None
        self._since: str | None = None
        self._first = True  # the first sync of a session: full state, no long poll
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._tick = asyncio.Event()  # set (and replaced) after every sync
        self._crypto_lock = asyncio.Lock()
        self._dm_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._dms: dict[str, str] = {}
        self._created: set[str] = set()  # rooms this process created and may not have seen in a sync yet
        self._invites_done: set[str] = set()
        self._alerted: set[tuple[str, str]] = set()
        self._undecrypted: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_settings(cls, settings: MatrixSettings, directory: DirectorySource, *,
                      find_delivery: FindDelivery | None = None, on_security: SecurityHook | None = None,
                      **options: Any) -> MatrixConnector:
        if not settings.homeserver or not settings.user_id or settings.pickle_key is None:
            raise ValueError("matrix: homeserver, user_id and pickle_key are required")
        return cls(homeserver=settings.homeserver, user_id=settings.user_id, password=settings.password,
                   access_token=settings.access_token, pickle_key=settings.pickle_key,
                   device_name=settings.device_name, store_path=settings.store_path,
                   device_trust=settings.device_trust, directory=directory, find_delivery=find_delivery,
                   on_security=on_security, **options)

    @property
    def user_id(self) -> str:
        return self._user_id

    @property
    def device_id(self) -> str | None:
        return self.client.device_id if self.client else None

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self, ingest: Ingest, cursor: str | None) -> None:
        """Log in, run the first sync (recorded before returning), then keep syncing in the background.

        Raises MatrixStartError for what retrying cannot fix (credentials, pickle key). A homeserver
        that does not answer within `start_timeout` is not fatal: the loop keeps trying, and sends
        fail with NotConnected (retried by the worker) until it does.
        """
        self._ingest = ingest
        self._since = cursor
        self._dms = {k: v for k, v in (read_json(self._paths.direct_rooms) or {}).items() if isinstance(v, str)}
        self._undecrypted = read_json(self._paths.undecrypted) or {}
        self._task = asyncio.create_task(self._run(), name="matrix-sync")
        self._task.add_done_callback(_log_end)
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, timeout=self._start_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self._task in done:
            self._task.result()  # raises what ended the loop
            raise MatrixStartError("the Matrix sync loop ended during start")
        if not done:
            log.warning("Matrix: not connected after %.0fs; still trying in the background", self._start_timeout)

    async def stop(self) -> None:
        self.connected = False
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                if self.client is None:
                    self.client = await open_session(
                        homeserver=self._homeserver, user_id=self._user_id, password=self._password,
                        access_token=self._access_token, pickle_key=self._pickle_key,
                        device_name=self._device_name, paths=self._paths, request_timeout=self._request_timeout)
                    self._first = True
                    await self._crypto_upkeep()
                    await self._recover_direct_rooms()
                await self._sync_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except MatrixStartError:
                self.connected = False
                raise
            except SessionExpired:
                log.warning("Matrix: the session expired; logging in again")
                self.connected = False
                if self.client is not None:
                    await self.client.close()
                    self.client = None
                failures += 1
                await asyncio.sleep(min(30.0, 2.0 ** min(failures, 5)))
            except Exception as exc:  # network, 5xx, a database hiccup in ingest: try again from the cursor
                error = exc if isinstance(exc, PlatformError) else None
                if error is None:
                    log.exception("Matrix sync round failed")
                else:
                    log.warning("Matrix sync round failed: %s", error)
                self.connected = False
                failures += 1
                wait = min(30.0, 0.5 * 2.0 ** min(failures, 6))
                if isinstance(error, RateLimited) and error.retry_after:
                    wait = max(wait, error.retry_after)
                await asyncio.sleep(wait)

    # --- receiving ------------------------------------------------------------------------------

    async def _sync_once(self) -> None:
        client = self.client
        assert client is not None and self._ingest is not None
        since = self._since
        first = self._first
        # nio skips a response whose next_batch equals the one it remembers; ours is the only truth.
        client.next_batch = since or ""
        response = await client.sync(
            timeout=0 if first else self._sync_timeout_ms,
            sync_filter=self._filter,
            since=since,
            full_state=True if first and since else None,
        )
        if not isinstance(response, SyncResponse):
            raise from_response(response, "sync")
        await self._crypto_upkeep()
        await self._handle_invites(response)
        messages: list[InboundMessage] = []
        if since is not None:  # not on the very first start: what was said before the bot came is history
            messages = await self._collect(response, since)
        messages += await self._retry_undecrypted()
        await self._ingest(messages, cursor=(CURSOR, response.next_batch))
        self._since = response.next_batch
        if first:
            log.info("Matrix: connected as %s (device %s)", self._user_id, client.device_id)
        self._first = False
        self.connected = True
        self._ready.set()
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def _collect(self, response: SyncResponse, since: str) -> list[InboundMessage]:
        messages: list[InboundMessage] = []
        pending_changed = False
        for room_id, info in response.rooms.join.items():
            events = list(info.timeline.events)
            joined_here = _own_join_index(events, self._user_id)
            if joined_here is not None:
                events = events[joined_here + 1:]
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
            write_json(self._paths.undecrypted, self._undecrypted)
        return messages

    async def _backfill(self, room_id: str, prev_batch: str, since: str) -> list[Any]:
        """The events between `since` and a limited timeline's start, oldest first."""
        assert self.client is not None
        found: list[Any] = []
        start = prev_batch
        while True:
            response = await self.client.room_messages(room_id, start=start, end=since,
                                                       direction=MessageDirection.back, limit=100,
                                                       message_filter={"types": TIMELINE_TYPES})
            if not isinstance(response, RoomMessagesResponse):
                raise from_response(response, "messages")
            for event in response.chunk:  # newest first
                if _is_own_join(getattr(event, "source", {}), self._user_id):
                    return list(reversed(found))
                found.append(event)
            if not response.chunk or not response.end or response.end == start:
                return list(reversed(found))
            start = response.end

    async def _inbound(self, source: dict[str, Any], room_id: str) -> InboundMessage | None:
        if source.get("sender") == self._user_id:
            return None
        read = read_event(source, room_id)
        if read is None:
            return None
        try:
            sender = UserRef.parse(f"matrix:{read.sender}")
            chat = ChatRef.parse(f"matrix:{room_id}")
        except ValueError:
            return None
        if isinstance(read, MatrixReaction):
            return await self._reaction(read, sender, chat)
        return await self._text(read, sender, chat)

    async def _reaction(self, read: MatrixReaction, sender: UserRef, chat: ChatRef) -> InboundMessage | None:
        if not read.acknowledges or self._find_delivery is None:
            return None
        found = await self._find_delivery(read.target)
        if found is None:
            return None
        reference, contact_id = found
        contact = self._directory.current().contact_for(sender)
        if contact is None or contact.id != contact_id:
            return None  # somebody else's reaction on this delivery is not its recipient's acknowledgement
        return InboundMessage(read.event_id, sender, chat, f"/ack {reference}", read.at,
                              MessageRef(chat, read.target))

    async def _text(self, read: MatrixText, sender: UserRef, chat: ChatRef) -> InboundMessage | None:
        text, reply_to = read.text, None
        for target in read.targets:
            found = await self._find_delivery(target) if self._find_delivery else None
            if found is not None:
                text, reply_to = reply_command(found[0], read.text), MessageRef(chat, target)
                break
        if reply_to is None and read.targets:
            reply_to = MessageRef(chat, read.targets[-1])
        if not text.startswith(("/", "!")):
            return None  # ordinary conversation: never stored
        return InboundMessage(read.event_id, sender, chat, text, read.at, reply_to)

    # --- events we could not decrypt yet --------------------------------------------------------

    async def _hold_undecrypted(self, event: MegolmEvent, room_id: str) -> bool:
        if event.sender == self._user_id or event.event_id in self._undecrypted:
            return False
        self._undecrypted[event.event_id] = {"room_id": room_id, "source": event.source, "seen": time.time()}
        log.warning("Matrix: cannot decrypt %s in %s yet; asking for its key", event.event_id, room_id)
        try:
            assert self.client is not None
            event.room_id = room_id
            await self.client.request_room_key(event)
        except Exception as exc:  # a request already in flight, or the sender's devices unknown yet
            log.debug("room key request for %s: %s", event.event_id, exc)
        return True

    async def _retry_undecrypted(self) -> list[InboundMessage]:
        if not self._undecrypted or self.client is None:
            return []
        messages, changed = [], False
        for event_id, held in list(self._undecrypted.items()):
            try:
                event = MegolmEvent.from_dict(held["source"])
                event.room_id = held["room_id"]
                decrypted = self.client.decrypt_event(event)
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
            write_json(self._paths.undecrypted, self._undecrypted)
        return messages

    # --- invites --------------------------------------------------------------------------------

    async def _handle_invites(self, response: SyncResponse) -> None:
        for room_id, info in response.rooms.invite.items():
            if room_id in self._invites_done:
                continue
            inviter, is_direct = None, False
            for event in info.invite_state:
                # nio moves an invite member event's content out of its source, into .content
                if isinstance(event, InviteMemberEvent) and event.state_key == self._user_id:
                    inviter = event.sender
                    is_direct = bool((event.content or {}).get("is_direct"))
            accept, why = self._invite_allowed(room_id, inviter, is_direct)
            self._invites_done.add(room_id)
            try:
                if accept:
                    await self._join(room_id)
                else:
                    assert self.client is not None
                    await self._call(self.client.room_leave(room_id), "reject invite", request_sent=True)
            except PlatformError as error:
                log.warning("Matrix: answering the invite to %s failed: %s", room_id, error)
                self._invites_done.discard(room_id)
                continue
            kind = SecurityKind.INVITE_ACCEPTED if accept else SecurityKind.INVITE_REFUSED
            log.info("Matrix: invite to %s from %s %s (%s)", room_id, inviter, kind.value, why)
            await self._security(SecurityEvent(kind, inviter or "", room_id=room_id, detail=why))

    def _invite_allowed(self, room_id: str, inviter: str | None, is_direct: bool) -> tuple[bool, str]:
        directory = self._directory.current()
        if directory.room(ChatRef(Platform.MATRIX, room_id)) is not None:
            return True, "a registered room"
        contact = None
        if inviter:
            try:
                contact = directory.contact_for(UserRef.parse(f"matrix:{inviter}"))
            except ValueError:
                contact = None
        if contact is None:
            return False, "neither a registered room nor an inviter in the directory"
        if contact.has(Role.ADMIN) or contact.has(Role.COORDINATOR):
            return True, f"invited by {contact.id} ({'admin' if contact.has(Role.ADMIN) else 'coordinator'})"
        if is_direct:
            return True, f"a direct chat with {contact.id}"
        return False, f"{contact.id} may only open a direct chat with the bot; rooms are added by admins"

    async def _join(self, room_id: str) -> None:
        assert self.client is not None
        deadline = time.monotonic() + self._rate_wait_budget
        while True:
            await self.gate.wait()
            response = await self._call(self.client.join(room_id), "join", request_sent=True)
            if isinstance(response, JoinResponse):
                return
            await self._raise_or_wait(response, "join", deadline)

    # --- crypto upkeep and device trust ---------------------------------------------------------

    async def _crypto_upkeep(self) -> None:
        client = self.client
        if client is None or client.olm is None:
            return
        async with self._crypto_lock:
            calls = []
            if client.should_upload_keys:
                calls.append(("keys_upload", client.keys_upload))
            if client.should_query_keys:
                calls.append(("keys_query", client.keys_query))
            if client.should_claim_keys:
                calls.append(("keys_claim", lambda: client.keys_claim(client.get_users_for_key_claiming())))
            for name, call in calls:
                response = await call()
                if isinstance(response, ErrorResponse):
                    log.warning("Matrix %s failed: %s", name, response)
            for response in await client.send_to_device_messages():
                if isinstance(response, ErrorResponse):
                    log.warning("Matrix to-device send failed: %s", response)
            await self._trust_new_devices()

    async def _trust_new_devices(self) -> None:
        """TOFU: every device seen for the first time gets keys (nio's "ignored"), recorded by the hook."""
        client = self.client
        if self._trust is not DeviceTrust.TOFU or client is None or client.olm is None:
            return
        fresh = [d for d in client.device_store if d.trust_state is TrustState.unset and not d.deleted
                 and not (d.user_id == self._user_id and d.id == client.device_id)]
        if not fresh:
            return
        try:
            client.olm.store.ignore_devices(fresh)  # one write for the lot; sets each device's trust_state
        except AssertionError:  # a device whose keys are not stored yet: one by one, skipping those
            fresh = [d for d in fresh if _ignore_one(client, d)]
        for device in fresh:
            log.info("Matrix: trusting %s's device %s on first use", device.user_id, device.id)
            await self._security(SecurityEvent(SecurityKind.DEVICE_TRUSTED_ON_FIRST_USE, device.user_id, device.id,
                                               device.ed25519))

    async def _prepare_encrypted(self, room_id: str) -> None:
        """Members and device keys known, trust policy applied, a group session shared: the send
        itself then only encrypts. Serialised, so two sends never claim keys for the same device."""
        client = self.client
        assert client is not None and client.olm is not None
        async with self._crypto_lock:
            room = client.rooms[room_id]
            if not room.members_synced:
                response = await self._call(client.joined_members(room_id), "members", request_sent=False)
                if not isinstance(response, JoinedMembersResponse):
                    raise from_response(response, "members")
            if client.should_query_keys:
                response = await self._call(client.keys_query(), "keys", request_sent=False)
                if not isinstance(response, KeysQueryResponse):
                    raise from_response(response, "keys")
        await self._trust_new_devices()
        if self._trust is DeviceTrust.VERIFIED:
            await self._refuse_unverified(room_id)
        async with self._crypto_lock:
            if client.olm.should_share_group_session(room_id) and room_id not in client.sharing_session:
                response = await self._call(
                    client.share_group_session(room_id, ignore_unverified_devices=self._trust is DeviceTrust.TOFU),
                    "share keys", request_sent=False)
                if isinstance(response, ErrorResponse):
                    raise from_response(response, "share keys")

    async def _refuse_unverified(self, room_id: str) -> None:
        client = self.client
        assert client is not None
        room = client.rooms[room_id]
        blocking = []
        for user_id in room.users:
            for device in client.device_store.active_user_devices(user_id):
                if user_id == self._user_id and device.id == client.device_id:
                    continue
                if device.trust_state not in (TrustState.verified, TrustState.blacklisted):
                    blocking.append(device)
        if not blocking:
            return
        for device in blocking:
            if (device.user_id, device.id) not in self._alerted:
                self._alerted.add((device.user_id, device.id))
                await self._security(SecurityEvent(SecurityKind.DEVICE_BLOCKING, device.user_id, device.id,
                                                   device.ed25519, room_id,
                                                   "verify or blacklist it; deliveries to this room wait"))
        raise UnverifiedDevices([(d.user_id, d.id) for d in blocking], room_id, retry_after=self._unverified_retry)

    # admin operations (the lead wires an admin command to these)

    async def devices(self, user_id: str) -> list[DeviceInfo]:
        """The user's devices as the bot knows them (their keys are fetched first if unknown)."""
        await self._ensure_keys(user_id)
        assert self.client is not None
        return [DeviceInfo(d.user_id, d.id, d.display_name, d.ed25519, _TRUST_NAMES[d.trust_state])
                for d in self.client.device_store.active_user_devices(user_id)]

    async def verify_device(self, user_id: str, device_id: str, by: str = "") -> bool:
        """Mark a device verified (keys are shared with it from now on); False if it was already."""
        device = await self._device(user_id, device_id)
        assert self.client is not None
        changed = self.client.verify_device(device)
        self._alerted.discard((user_id, device_id))
        await self._security(SecurityEvent(SecurityKind.DEVICE_VERIFIED, user_id, device_id, device.ed25519,
                                           detail=f"by {by}" if by else ""))
        return changed

    async def blacklist_device(self, user_id: str, device_id: str, by: str = "") -> bool:
        """Never share keys with this device again (new group sessions are made without it)."""
        device = await self._device(user_id, device_id)
        assert self.client is not None
        changed = self.client.blacklist_device(device)
        self._alerted.discard((user_id, device_id))
        await self._security(SecurityEvent(SecurityKind.DEVICE_BLACKLISTED, user_id, device_id, device.ed25519,
                                           detail=f"by {by}" if by else ""))
        return changed

    async def _device(self, user_id: str, device_id: str):  # noqa: ANN202 - nio OlmDevice
        await self._ensure_keys(user_id)
        assert self.client is not None
        try:
            return self.client.device_store[user_id][device_id]
        except KeyError:
            raise PermanentFailure("unknown-device", f"{user_id} has no device {device_id}") from None

    async def _ensure_keys(self, user_id: str) -> None:
        client = self.client
        if client is None or client.olm is None:
            raise NotConnected("not-connected", "matrix")
        async with self._crypto_lock:
            if user_id not in client.device_store.users:
                client.olm.users_for_key_query.add(user_id)
            if client.should_query_keys:
                response = await self._call(client.keys_query(), "keys", request_sent=False)
                if not isinstance(response, KeysQueryResponse):
                    raise from_response(response, "keys")

    async def _security(self, event: SecurityEvent) -> None:
        if self._on_security is None:
            return
        try:
            await self._on_security(event)
        except Exception:
            log.exception("the Matrix security hook failed for %s", event.kind.value)

    # --- sending --------------------------------------------------------------------------------

    async def send(self, message: Outgoing) -> str:
        client = self.client
        if client is None or not self._ready.is_set():
            raise NotConnected("not-connected", "matrix")
        destination = message.destination
        log.debug("Matrix send %s to %s (attempt %d)", message.key, destination, message.attempt)
        if destination.kind is DestinationKind.DIRECT:
            address = destination.address
            if not isinstance(address, UserRef) or address.platform is not Platform.MATRIX:
                raise PermanentFailure("bad-destination", str(destination))
            room_id = await self._direct_room(address.user_id)
            await self._joined(room_id)
            # Until the person's invite is in our view of the room, a group session would be shared
            # without them and they could never read this message: wait for it (a new room's events
            # may come in two syncs).
            await self._until_synced(lambda: address.user_id in client.rooms[room_id].users, room_id)
        else:
            address = destination.address
            if not isinstance(address, ChatRef) or address.platform is not Platform.MATRIX:
                raise PermanentFailure("bad-destination", str(destination))
            room_id = address.chat_id
        await self._joined(room_id)
        return await self.room_send(room_id, message_content(message, room_id), message.key)

    async def room_send(self, room_id: str, content: dict[str, Any], tx_id: str,
                        event_type: str = "m.room.message") -> str:
        """Send one event with `tx_id` as its transaction id; the event id, or a PlatformError."""
        client = self.client
        if client is None:
            raise NotConnected("not-connected", "matrix")
        deadline = time.monotonic() + self._rate_wait_budget
        while True:
            await self.gate.wait()
            room = client.rooms.get(room_id)
            if room is not None and room.encrypted:
                await self._prepare_encrypted(room_id)
                await self.gate.wait()
            response = await self._call(
                client.room_send(room_id, event_type, content, tx_id=tx_id,
                                 ignore_unverified_devices=self._trust is DeviceTrust.TOFU),
                "send", request_sent=True)
            if isinstance(response, RoomSendResponse):
                return response.event_id
            await self._raise_or_wait(response, "send", deadline)

    async def _raise_or_wait(self, response: Any, what: str, deadline: float) -> None:
        """Close the gate on a 429 and return when there is time to wait it out; raise otherwise."""
        error = from_response(response, what)
        if isinstance(error, RateLimited):
            wait = error.retry_after or 0.0
            self.gate.block(wait)
            log.info("Matrix %s rate-limited for %.3fs", what, wait)
            if time.monotonic() + wait <= deadline:
                return
            raise RateLimited(error.code, str(error), retry_after=self.gate.remaining)
        if isinstance(error, SessionExpired):
            self.connected = False
        raise error

    async def _call(self, call: Awaitable[Any], what: str, *, request_sent: bool) -> Any:
        try:
            return await call
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise from_exception(exc, what, request_sent=request_sent) from exc

    async def _joined(self, room_id: str) -> None:
        """Wait until the bot is in the room as its sync sees it (a room it just created or joined)."""
        client = self.client
        assert client is not None
        if room_id in client.rooms:
            return
        if room_id in client.invited_rooms:
            await self._join(room_id)
            self._created.add(room_id)
        if room_id not in self._created:
            raise PermanentFailure("not-in-room", f"the bot is not in {room_id}: invite it to the room")
        await self._until_synced(lambda: room_id in client.rooms, room_id)

    async def _until_synced(self, ready: Callable[[], bool], room_id: str) -> None:
        """Wait, sync after sync, until `ready()`; TransientFailure after `room_wait` seconds."""
        deadline = time.monotonic() + self._room_wait
        while not ready():
            left = deadline - time.monotonic()
            if left <= 0 or self._task is None or self._task.done():
                raise TransientFailure("room-not-synced", room_id)
            try:
                await asyncio.wait_for(self._tick.wait(), timeout=left)
            except asyncio.TimeoutError:
                pass

    async def _direct_room(self, user_id: str) -> str:
        """The bot's direct chat with the user: the known one while they are in it, else a new one."""
        async with self._dm_locks[user_id]:
            room_id = self._dms.get(user_id)
            if room_id is not None and self._dm_usable(room_id, user_id):
                return room_id
            # A direct chat we made but could not record (a crash right after creating it), or one the
            # person opened with the bot: reuse it rather than inviting them to yet another room.
            new_room = await self._existing_direct_room(user_id, exclude=room_id)
            if new_room is None:
                new_room = await self._create_direct_room(user_id)
            self._dms[user_id] = new_room
            write_json(self._paths.direct_rooms, self._dms)  # before the first send into it
            await self._publish_direct_rooms()
            if room_id is not None and self.client is not None and room_id in self.client.rooms:
                try:
                    await self.client.room_leave(room_id)  # the person left it: tidy up our side
                except Exception:
                    pass
            return new_room

    def _dm_usable(self, room_id: str, user_id: str) -> bool:
        client = self.client
        assert client is not None
        room = client.rooms.get(room_id)
        if room is None:
            return room_id in self._created  # created by us a moment ago, not synced yet
        return user_id in room.users  # joined or still invited

    async def _existing_direct_room(self, user_id: str, exclude: str | None) -> str | None:
        """An encrypted room, not registered in the directory, whose members (joined or invited) are
        exactly the bot and the user, and that is the bot's direct chat with them (its marker state
        event, which every direct chat the bot makes carries) or that they opened as a direct chat."""
        client = self.client
        assert client is not None
        directory = self._directory.current()
        for room_id, room in list(client.rooms.items()):
            if room_id == exclude or not room.encrypted or set(room.users) != {self._user_id, user_id}:
                continue
            if directory.room(ChatRef(Platform.MATRIX, room_id)) is not None:
                continue
            try:
                response = await client.room_get_state(room_id)
            except Exception:
                continue
            if isinstance(response, RoomGetStateResponse) and _is_direct_with(response.events, user_id):
                log.info("Matrix: reusing direct chat %s with %s", room_id, user_id)
                return room_id
        return None

    async def _create_direct_room(self, user_id: str) -> str:
        client = self.client
        assert client is not None
        deadline = time.monotonic() + self._rate_wait_budget
        while True:
            await self.gate.wait()
            response = await self._call(
                client.room_create(is_direct=True, invite=[user_id], preset=RoomPreset.trusted_private_chat,
                                   initial_state=[ENCRYPTION_STATE, {"type": DIRECT_MARKER, "state_key": "",
                                                                     "content": {"user_id": user_id}}]),
                "create direct chat", request_sent=True)
            if isinstance(response, RoomCreateResponse):
                self._created.add(response.room_id)
                log.info("Matrix: direct chat %s created for %s", response.room_id, user_id)
                return response.room_id
            await self._raise_or_wait(response, "create direct chat", deadline)

    async def _publish_direct_rooms(self) -> None:
        """The bot's m.direct account data, so that clients (and a bot that lost its store) know them."""
        client = self.client
        assert client is not None
        content: dict[str, list[str]] = {user: [room] for user, room in self._dms.items()}
        path = Api._build_path(["user", self._user_id, "account_data", "m.direct"],
                               {"access_token": client.access_token})
        try:
            response = await client._send(EmptyResponse, "PUT", path, json.dumps(content))
            if isinstance(response, ErrorResponse):
                log.warning("Matrix: could not update m.direct: %s", response)
        except Exception as exc:
            log.warning("Matrix: could not update m.direct: %s", exc)

    async def _recover_direct_rooms(self) -> None:
        """Direct chats the state file does not know (a lost store) from the bot's m.direct."""
        client = self.client
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


def _is_direct_with(state: Sequence[Any], user_id: str) -> bool:
    """The room state marks a direct chat with `user_id`: our marker, or is_direct on a member event."""
    for event in state:
        if not isinstance(event, dict):
            continue
        content = event.get("content") or {}
        if event.get("type") == DIRECT_MARKER and content.get("user_id") == user_id:
            return True
        if event.get("type") == "m.room.member":
            before = (event.get("unsigned") or {}).get("prev_content") or {}
            if content.get("is_direct") or before.get("is_direct"):
                return True
    return False


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Matrix: the connector stopped: %s", task.exception())


def _ignore_one(client: AsyncClient, device: Any) -> bool:
    try:
        client.ignore_device(device)
        return True
    except Exception:
        return False


def _is_own_join(source: Any, user_id: str) -> bool:
    if not isinstance(source, dict) or source.get("type") != "m.room.member" or source.get("state_key") != user_id:
        return False
    if (source.get("content") or {}).get("membership") != "join":
        return False
    before = ((source.get("unsigned") or {}).get("prev_content") or {}).get("membership")
    return before != "join"  # a join, not a display name change


def _own_join_index(events: Sequence[Any], user_id: str) -> int | None:
    for index in range(len(events) - 1, -1, -1):
        if _is_own_join(getattr(events[index], "source", None), user_id):
            return index
    return None


def now_utc() -> datetime:
    return datetime.now(timezone.utc)
