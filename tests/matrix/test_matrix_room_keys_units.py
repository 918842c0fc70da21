"""Room keys reach every member device, with a real matrix-nio client and its Olm machine but no
homeserver: its requests are answered here. A device whose one-time key claim came back empty is
given the room's current group session at the next send once a claim succeeds; until then, within the
grace, the send waits (DevicesWithoutKeys); after it the send goes on; the bot's own other device never
holds a send back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import vodozemac
from nio import AsyncClient, AsyncClientConfig, KeysClaimResponse, ShareGroupSessionResponse, SyncResponse
from nio.crypto import OlmDevice
from nio.rooms import MatrixRoom
from nio.store import SqliteStore

from bot.config.connectors import DeviceTrust
from bot.connectors.matrix.core import Session
from bot.connectors.matrix.errors import DevicesWithoutKeys
from bot.connectors.matrix.session import KeyedClient, SessionPaths
from bot.connectors.matrix.trust import DeviceTrustKeeper, devices_without_key

BOT = "@bot:example.org"
TH = "@th:example.org"
ROOM = "!room:example.org"


class Phone:
    """A device elsewhere: its own Olm account, whose one-time keys the fake homeserver hands out."""

    def __init__(self, user_id: str, device_id: str) -> None:
        self.user_id, self.device_id = user_id, device_id
        self.account = vodozemac.Account()
        self.otks = 0  # one-time keys it has uploaded and not yet given out

    def device(self) -> OlmDevice:
        return OlmDevice(self.user_id, self.device_id,
                         {"ed25519": self.account.ed25519_key.to_base64(),
                          "curve25519": self.account.curve25519_key.to_base64()})

    def one_time_key(self) -> str | None:
        if not self.otks:
            return None
        self.otks -= 1
        self.account.generate_one_time_keys(1)
        key = next(iter(self.account.one_time_keys.values())).to_base64()
        self.account.mark_keys_as_published()
        return key


class World:
    def __init__(self, tmp: Path) -> None:
        self.client = AsyncClient("http://homeserver.invalid", BOT, device_id="BOTDEVICE", store_path=str(tmp),
                                  config=AsyncClientConfig(encryption_enabled=True, store=SqliteStore,
                                                           store_sync_tokens=False))
        self.client.restore_login(BOT, "BOTDEVICE", "token")
        self.phones: dict[tuple[str, str], Phone] = {}
        self.to_device: list[dict[str, Any]] = []  # the room keys sent, each {user: {device: ...}}
        room = MatrixRoom(ROOM, BOT)
        room.encrypted = True
        room.members_synced = True
        for user in (BOT, TH):
            room.add_member(user, None, None)
        self.client.rooms[ROOM] = room
        self.client.keys_claim = self._keys_claim  # type: ignore[method-assign]
        self.client._send = self._send  # type: ignore[method-assign]
        self.now = [1000.0]
        session = Session(BOT, SessionPaths(tmp / "session"))
        session.client = self.client
        self.keeper = DeviceTrustKeeper(session, DeviceTrust.TOFU, keys_grace=60.0, clock=lambda: self.now[0])
        self.keeper.claim_pauses = (0.0, 0.0)

    def phone(self, user_id: str, device_id: str, otks: int) -> Phone:
        phone = Phone(user_id, device_id)
        phone.otks = otks
        self.phones[(user_id, device_id)] = phone
        device = phone.device()
        self.client.device_store.add(device)
        assert self.client.olm is not None
        self.client.olm.store.save_device_keys({user_id: {device_id: device}})  # as a keys query stores them
        return phone

    async def _keys_claim(self, wanted: dict[str, list[str]]) -> KeysClaimResponse:
        assert self.client.olm is not None
        claimed = 0
        for user_id, devices in wanted.items():
            for device_id in devices:
                phone = self.phones[(user_id, device_id)]
                key = phone.one_time_key()
                if key is not None:  # what nio does with a claimed, signed key (minus the signature)
                    self.client.olm.create_session(key, phone.account.curve25519_key.to_base64())
                    claimed += 1
        return KeysClaimResponse({}, {})

    async def _send(self, response_class: type, method: str, path: str, data: Any = None,
                    response_data: tuple[Any, ...] | None = None, **_: Any) -> Any:
        assert response_class is ShareGroupSessionResponse and response_data is not None
        self.to_device.append(json.loads(data)["messages"])
        response = ShareGroupSessionResponse.from_dict({}, *response_data)
        await self.client.receive_response(response)
        return response

    def given(self) -> list[tuple[str, str]]:
        return [(user, device) for messages in self.to_device for user, devices in messages.items()
                for device in devices]

    def outbound(self) -> Any:
        assert self.client.olm is not None
        return self.client.olm.outbound_group_sessions[ROOM]


@pytest.fixture
async def world(tmp_path: Path):  # noqa: ANN201
    w = World(tmp_path)
    yield w
    await w.client.close()


async def test_a_device_whose_claim_came_back_empty_is_given_the_same_session_at_the_next_send(world: World) -> None:
    world.phone(TH, "PHONE", otks=5)
    tablet = world.phone(TH, "TABLET", otks=0)  # its keys ran out, or the claim raced another client's
    with pytest.raises(DevicesWithoutKeys) as held:
        await world.keeper.prepare_encrypted(ROOM)
    assert held.value.retryable and held.value.devices == ((TH, "TABLET"),)
    assert held.value.retried_after(99, 8)  # waiting for keys never uses up the delivery's attempts
    assert world.given() == [(TH, "PHONE")]
    session_id = world.outbound().id

    tablet.otks = 5  # it uploaded keys again
    await world.keeper.prepare_encrypted(ROOM)
    assert world.given() == [(TH, "PHONE"), (TH, "TABLET")]  # the tablet once, the phone not again
    assert world.outbound().id == session_id and world.outbound().shared
    assert devices_without_key(world.client, ROOM) == []


async def test_after_the_grace_the_send_goes_on_and_later_sends_still_offer_the_key(world: World) -> None:
    world.phone(TH, "PHONE", otks=5)
    tablet = world.phone(TH, "TABLET", otks=0)
    with pytest.raises(DevicesWithoutKeys):
        await world.keeper.prepare_encrypted(ROOM)
    world.now[0] += 61
    await world.keeper.prepare_encrypted(ROOM)  # past the grace: not held back any longer
    assert world.outbound().shared and [d.id for d in devices_without_key(world.client, ROOM)] == ["TABLET"]
    tablet.otks = 1
    await world.keeper.prepare_encrypted(ROOM)
    assert (TH, "TABLET") in world.given() and devices_without_key(world.client, ROOM) == []


async def test_the_bots_own_other_device_never_holds_a_send_back(world: World) -> None:
    world.phone(TH, "PHONE", otks=5)
    world.phone(BOT, "STANDBY", otks=0)
    await world.keeper.prepare_encrypted(ROOM)
    assert world.given() == [(TH, "PHONE")]


async def test_a_blacklisted_device_is_not_waited_for(world: World) -> None:
    world.phone(TH, "PHONE", otks=5)
    world.phone(TH, "STOLEN", otks=0)
    world.client.blacklist_device(world.client.device_store[TH]["STOLEN"])
    await world.keeper.prepare_encrypted(ROOM)
    assert world.given() == [(TH, "PHONE")] and devices_without_key(world.client, ROOM) == []


async def test_the_bot_uploads_one_time_keys_again_once_all_were_claimed(tmp_path: Path) -> None:
    client = KeyedClient("http://homeserver.invalid", BOT, device_id="BOTDEVICE", store_path=str(tmp_path),
                         config=AsyncClientConfig(encryption_enabled=True, store=SqliteStore, store_sync_tokens=False))
    client.restore_login(BOT, "BOTDEVICE", "token")
    try:
        assert client.olm is not None
        client.olm.account.shared = True  # its identity keys and a full set of one-time keys went up
        for count, batch in ((50, "s1"), (0, "s2")):  # then every one of them was claimed before a sync
            response = SyncResponse.from_dict({"next_batch": batch,
                                               "device_one_time_keys_count": {"signed_curve25519": count}})
            assert isinstance(response, SyncResponse)
            await client.receive_response(response)
        assert client.should_upload_keys and client.olm.uploaded_key_count == 0
    finally:
        await client.close()
