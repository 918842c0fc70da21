"""Crypto upkeep (key uploads, queries, claims, to-device messages) and device trust.

Device trust (config device_trust):
  tofu      a device seen for the first time is trusted on first use: keys are shared with it
            (nio's "ignored" state, which is not "verified"), and the security hook records it.
  verified  a send into an encrypted room that holds a device nobody verified (TOFU devices
            included) raises UnverifiedDevices: retryable, retried every `unverified_retry` seconds
            until an admin runs verify_device or blacklist_device; the hook alerts the admins once
            per device. If nobody decides before the worker's attempts run out, the delivery fails
            and its originator is told (the worker's usual path).

Room keys reach every member device the policy lets in. nio shares a room's group session once and
skips a device it could not claim a one-time key for (just logged in, its keys ran out, or the claim
raced another client's: Synapse on PostgreSQL then hands one of two concurrent claimers nothing), yet
marks the session shared and never tries that device again. So before every encrypted send the keeper
gives the current session to each member device still without it (`devices_without_key`), claiming
again for those with no Olm session, a few times within the send; a device still out of reach holds
the send back (DevicesWithoutKeys, retried) for `keys_grace` seconds, so that no copy goes where one of
its readers' devices could never decrypt it; after that the send goes on and the log names the device,
which is offered the session again at every later send.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from nio import AsyncClient, ErrorResponse, JoinedMembersResponse, KeysQueryResponse
from nio.crypto import TrustState

from bot.config.connectors import DeviceTrust
from bot.connectors.matrix.core import Session
from bot.connectors.matrix.errors import DevicesWithoutKeys, UnverifiedDevices, from_response
from bot.connectors.matrix.model import TRUST_NAMES, DeviceInfo, SecurityEvent, SecurityKind
from bot.connectors.errors import NotConnected, PermanentFailure

log = logging.getLogger(__name__)

KEYS_GRACE = 60.0  # seconds a send waits for a member device the room key cannot be given to yet
KEYS_RETRY = 5.0  # seconds before a send held back that way is tried again
# Pauses between the claim-and-share rounds within one send: a claim that raced another client's
# succeeds a moment later; a device that has just logged in uploads its one-time keys within seconds.
CLAIM_PAUSES = (0.25, 1.0)


class DeviceTrustKeeper:
    def __init__(self, session: Session, policy: DeviceTrust = DeviceTrust.TOFU,
                 unverified_retry: float = 300.0, keys_grace: float = KEYS_GRACE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._session = session
        self.policy = policy
        self._unverified_retry = unverified_retry
        self.keys_grace = keys_grace
        self.claim_pauses: tuple[float, ...] = CLAIM_PAUSES
        self._clock = clock
        # (room, user, device) -> when the device was first found without the room's key
        self._keyless_since: dict[tuple[str, str, str], float] = {}
        self._told_keyless: set[tuple[str, str, str]] = set()  # (session id, user, device) logged once
        # Serialises key uploads, queries, claims and group session shares: two sends must never claim
        # keys for the same device.
        self._lock = asyncio.Lock()
        self._alerted: set[tuple[str, str]] = set()  # devices the admins were told block deliveries

    @property
    def ignore_unverified(self) -> bool:
        return self.policy is DeviceTrust.TOFU

    async def upkeep(self) -> None:
        """After every sync: keys uploaded, queried and claimed, to-device messages sent, TOFU applied."""
        client = self._session.client
        if client is None or client.olm is None:
            return
        async with self._lock:
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
        client = self._session.client
        if self.policy is not DeviceTrust.TOFU or client is None or client.olm is None:
            return
        fresh = [d for d in client.device_store if d.trust_state is TrustState.unset and not d.deleted
                 and not (d.user_id == self._session.user_id and d.id == client.device_id)]
        if not fresh:
            return
        try:
            client.olm.store.ignore_devices(fresh)  # one write for the lot; sets each device's trust_state
        except AssertionError:  # a device whose keys are not stored yet: one by one, skipping those
            fresh = [d for d in fresh if _ignore_one(client, d)]
        for device in fresh:
            log.info("Matrix: trusting %s's device %s on first use", device.user_id, device.id)
            await self._session.security(SecurityEvent(SecurityKind.DEVICE_TRUSTED_ON_FIRST_USE, device.user_id, device.id,
                                               device.ed25519))

    async def prepare_encrypted(self, room_id: str) -> None:
        """Members and device keys known, trust policy applied, a group session shared: the send
        itself then only encrypts. Serialised, so two sends never claim keys for the same device."""
        client = self._session.client
        assert client is not None and client.olm is not None
        async with self._lock:
            room = client.rooms[room_id]
            if not room.members_synced:
                response = await self._session.call(client.joined_members(room_id), "members", request_sent=False)
                if not isinstance(response, JoinedMembersResponse):
                    raise from_response(response, "members")
            if client.should_query_keys:
                response = await self._session.call(client.keys_query(), "keys", request_sent=False)
                if not isinstance(response, KeysQueryResponse):
                    raise from_response(response, "keys")
        await self._trust_new_devices()
        if self.policy is DeviceTrust.VERIFIED:
            await self._refuse_unverified(room_id)
        async with self._lock:
            if client.olm.should_share_group_session(room_id) and room_id not in client.sharing_session:
                await self._share(room_id)
        await self._give_the_rest(room_id)

    async def _share(self, room_id: str) -> None:
        """nio's share: one-time keys claimed for devices without an Olm session, then the room's
        group session (the current one if it is not marked shared, else a new one) to every member
        device not given it yet. Called with the lock held."""
        client = self._session.client
        assert client is not None
        try:
            response = await self._session.call(
                client.share_group_session(room_id, ignore_unverified_devices=self.ignore_unverified),
                "share keys", request_sent=False)
        except BaseException:
            # nio sets its "sharing" mark before claiming keys and clears it only after: a claim that
            # raised (a timeout) leaves it behind, and every later send into the room would wait on it.
            stale = client.sharing_session.pop(room_id, None)
            if stale is not None:
                stale.set()
            raise
        if isinstance(response, ErrorResponse):
            raise from_response(response, "share keys")

    async def _give_the_rest(self, room_id: str) -> None:
        """The room's current group session given to every member device still without it; a reader's
        device still out of reach after the rounds holds the send back within its grace."""
        client = self._session.client
        assert client is not None and client.olm is not None
        missing: list[Any] = []
        for pause in (*self.claim_pauses, None):
            async with self._lock:
                missing = devices_without_key(client, room_id)
                session = client.olm.outbound_group_sessions.get(room_id)
                if missing and session is not None and room_id not in client.sharing_session:
                    # nio's own meaning of "shared" (its receive_response): given to every member
                    # device. Not shared, nio's next share gives this same session to those without
                    # it, claiming keys for them, and leaves the others be.
                    session.shared = False
                    await self._share(room_id)
                    missing = devices_without_key(client, room_id)
            if pause is None or not self._waiting(room_id, missing):
                break
            await asyncio.sleep(pause)
        self._hold_or_go(room_id, missing)

    def _waiting(self, room_id: str, missing: list[Any]) -> bool:
        """Whether a reader's device without the key is still within its grace (then it is worth
        claiming again within this send; past it, one round per send is enough)."""
        now = self._clock()
        return any(now - self._keyless_since.get((room_id, d.user_id, d.id), now) < self.keys_grace
                   for d in missing if d.user_id != self._session.user_id)

    def _hold_or_go(self, room_id: str, missing: list[Any]) -> None:
        client = self._session.client
        assert client is not None and client.olm is not None
        now = self._clock()
        keys = {(room_id, d.user_id, d.id) for d in missing}
        for key in [k for k in self._keyless_since if k[0] == room_id and k not in keys]:
            del self._keyless_since[key]  # given the key since: a later loss of it starts a new grace
        # The bot's own other devices (the standby instance) are not readers: never held back for.
        readers = [d for d in missing if d.user_id != self._session.user_id]
        waiting = [d for d in readers
                   if now - self._keyless_since.setdefault((room_id, d.user_id, d.id), now) < self.keys_grace]
        if waiting:
            log.info("Matrix: %d device(s) in %s have no room key yet; the send waits", len(waiting), room_id)
            raise DevicesWithoutKeys([(d.user_id, d.id) for d in waiting], room_id, retry_after=KEYS_RETRY)
        session = client.olm.outbound_group_sessions.get(room_id)
        for device in readers:
            told = (session.id if session is not None else "", device.user_id, device.id)
            if told not in self._told_keyless:
                self._told_keyless.add(told)
                log.warning("Matrix: %s's device %s in %s could not be given the room key for %.0fs (no one-time "
                            "key to claim); sending without it: that device cannot read what is sent now",
                            device.user_id, device.id, room_id, self.keys_grace)

    async def _refuse_unverified(self, room_id: str) -> None:
        client = self._session.client
        assert client is not None
        room = client.rooms[room_id]
        blocking = []
        for user_id in room.users:
            for device in client.device_store.active_user_devices(user_id):
                if user_id == self._session.user_id and device.id == client.device_id:
                    continue
                if device.trust_state not in (TrustState.verified, TrustState.blacklisted):
                    blocking.append(device)
        if not blocking:
            return
        for device in blocking:
            if (device.user_id, device.id) not in self._alerted:
                self._alerted.add((device.user_id, device.id))
                await self._session.security(SecurityEvent(SecurityKind.DEVICE_BLOCKING, device.user_id, device.id,
                                                   device.ed25519, room_id,
                                                   "verify or blacklist it; deliveries to this room wait"))
        raise UnverifiedDevices([(d.user_id, d.id) for d in blocking], room_id, retry_after=self._unverified_retry)

    # admin operations: the /device command (bot/actions/devices.py)

    async def devices(self, user_id: str) -> list[DeviceInfo]:
        """The user's devices as the bot knows them (their keys are fetched first if unknown)."""
        await self._ensure_keys(user_id)
        assert self._session.client is not None
        return [DeviceInfo(d.user_id, d.id, d.display_name, d.ed25519, TRUST_NAMES[d.trust_state])
                for d in self._session.client.device_store.active_user_devices(user_id)]

    async def verify_device(self, user_id: str, device_id: str, by: str = "") -> bool:
        """Mark a device verified (keys are shared with it from now on); False if it was already."""
        device = await self._device(user_id, device_id)
        assert self._session.client is not None
        changed = self._session.client.verify_device(device)
        self._alerted.discard((user_id, device_id))
        await self._session.security(SecurityEvent(SecurityKind.DEVICE_VERIFIED, user_id, device_id, device.ed25519,
                                           detail=f"by {by}" if by else ""))
        return changed

    async def blacklist_device(self, user_id: str, device_id: str, by: str = "") -> bool:
        """Never share keys with this device again (new group sessions are made without it)."""
        device = await self._device(user_id, device_id)
        assert self._session.client is not None
        changed = self._session.client.blacklist_device(device)
        self._alerted.discard((user_id, device_id))
        await self._session.security(SecurityEvent(SecurityKind.DEVICE_BLACKLISTED, user_id, device_id, device.ed25519,
                                           detail=f"by {by}" if by else ""))
        return changed

    async def _device(self, user_id: str, device_id: str):  # noqa: ANN202 - nio OlmDevice
        await self._ensure_keys(user_id)
        assert self._session.client is not None
        try:
            return self._session.client.device_store[user_id][device_id]
        except KeyError:
            raise PermanentFailure("unknown-device", f"{user_id} has no device {device_id}") from None

    async def _ensure_keys(self, user_id: str) -> None:
        client = self._session.client
        if client is None or client.olm is None:
            raise NotConnected("not-connected", "matrix")
        async with self._lock:
            if user_id not in client.device_store.users:
                client.olm.users_for_key_query.add(user_id)
            if client.should_query_keys:
                response = await self._session.call(client.keys_query(), "keys", request_sent=False)
                if not isinstance(response, KeysQueryResponse):
                    raise from_response(response, "keys")


def devices_without_key(client: AsyncClient, room_id: str) -> list[Any]:
    """The devices of the room's members (joined or invited) that the room's current outbound group
    session was not given to, apart from those left out on purpose: the client's own device and
    blacklisted devices (nio's users_ignored). Empty while the room has no outbound session."""
    assert client.olm is not None
    session = client.olm.outbound_group_sessions.get(room_id)
    room = client.rooms.get(room_id)
    if session is None or room is None:
        return []
    found = []
    for user_id in room.users:
        for device in client.device_store.active_user_devices(user_id):
            key = (user_id, device.id)
            if device.id == client.device_id or key in session.users_shared_with or key in session.users_ignored:
                continue
            if client.olm.is_device_blacklisted(device):
                continue
            found.append(device)
    return found


def _ignore_one(client: AsyncClient, device: Any) -> bool:
    try:
        client.ignore_device(device)
        return True
    except Exception:
        return False
