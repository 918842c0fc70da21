"""Crypto upkeep (key uploads, queries, claims, to-device messages) and device trust.

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
import logging
from typing import Any

from nio import AsyncClient, ErrorResponse, JoinedMembersResponse, KeysQueryResponse
from nio.crypto import TrustState

from bot.config.connectors import DeviceTrust
from bot.connectors.matrix.core import Session
from bot.connectors.matrix.errors import UnverifiedDevices, from_response
from bot.connectors.matrix.model import TRUST_NAMES, DeviceInfo, SecurityEvent, SecurityKind
from bot.connectors.errors import NotConnected, PermanentFailure

log = logging.getLogger(__name__)


class DeviceTrustKeeper:
    def __init__(self, session: Session, policy: DeviceTrust = DeviceTrust.TOFU,
                 unverified_retry: float = 300.0) -> None:
        self._session = session
        self.policy = policy
        self._unverified_retry = unverified_retry
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
                response = await self._session.call(
                    client.share_group_session(room_id, ignore_unverified_devices=self.ignore_unverified),
                    "share keys", request_sent=False)
                if isinstance(response, ErrorResponse):
                    raise from_response(response, "share keys")

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


def _ignore_one(client: AsyncClient, device: Any) -> bool:
    try:
        client.ignore_device(device)
        return True
    except Exception:
        return False
