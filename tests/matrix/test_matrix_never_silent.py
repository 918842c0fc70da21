"""Never silent on Matrix: a command written into a new direct chat before the bot joined it is taken,
and a send whose outcome was unknown is found by its key in the room rather than sent twice.

On the module network of test_matrix_network (a real Synapse, the real runtime)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
import pytest_asyncio
from nio import RoomCreateResponse, RoomPreset

from alerts.identity import ChatRef, Platform
from alerts.messages import MessageKind
from alerts.routing import Destination
from bot.connectors.base import POSSIBLE_REPEAT, Outgoing
from bot.connectors.matrix.sansio.outbound import KEY_FIELD
from tests.matrix.people import ENCRYPTION
from tests.matrix.synapse import Synapse
from tests.matrix.test_matrix_network import REF, World

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """The network of test_matrix_network, with accounts of its own on the shared homeserver."""
    w = World(synapse, tmp_path_factory.mktemp("matrix-never-silent"), suffix="-ns")
    await w.setup()
    try:
        yield w
    finally:
        await w.close()


def probe(world: World, key: str, room: str, text: str, *, possible_repeat: bool = False) -> Outgoing:
    return Outgoing(key=key, kind=MessageKind.NOTICE, destination=Destination.chat(ChatRef(Platform.MATRIX, room)),
                    text=text, reference=None, contact=None, protect_content=False, reply_to=None, attempt=2,
                    possible_repeat=possible_repeat)


def second_device(world: World) -> str:
    """The bot's account logged in again: another device, as the standby is after a failover."""
    status, body = world.synapse.request("POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": world.bot_account.user_id},
        "password": world.bot_account.password})
    assert status == 200, body
    assert body["device_id"] != world.bot.connector.client.device_id
    return body["access_token"]


async def test_a_command_sent_with_a_new_direct_chat_before_the_bot_joined_is_answered(
        world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    connector = world.bot.connector
    held = asyncio.Event()
    answer_invites = connector.invites.handle

    async def after_the_message(response) -> None:  # noqa: ANN001 - a SyncResponse
        await held.wait()
        await answer_invites(response)

    # The bot answers the invite only once the officer's first message is in the room, as happens
    # when a client sends it together with the new room.
    monkeypatch.setattr(connector.invites, "handle", after_the_message)
    officer = world.officer
    created = await officer.client.room_create(is_direct=True, invite=[world.bot_account.user_id],
                                               preset=RoomPreset.trusted_private_chat, initial_state=[ENCRYPTION])
    assert isinstance(created, RoomCreateResponse), created
    dm = created.room_id
    await officer.wait_for(lambda: dm in officer.client.rooms, what="the new direct chat")
    await officer.say(dm, "!alert to:TH tlp:green topic:document-fraud\nWritten before the bot joined.")
    await officer.say(dm, "Thanks in advance")  # conversation, not a command: not stored
    assert dm not in connector.client.rooms
    held.set()
    receipt = await officer.wait_for(
        lambda: [e for _, e in world.bot_messages(officer, dm) if " accepted (" in e.body], what="the receipt")
    assert len(receipt) == 1 and REF.search(receipt[0].body)


async def test_a_possible_repeat_already_in_the_room_from_another_device_is_not_sent_again(world: World) -> None:
    token = second_device(world)
    key = "liaison-failover-probe-0001"
    room = world.network_room
    status, body = world.synapse.request(
        "PUT", f"/_matrix/client/v3/rooms/{quote(room)}/send/m.room.message/other-device-txn", {
            "msgtype": "m.notice", "body": "Failover probe", KEY_FIELD: key}, token=token)
    assert status == 200, body
    found = await world.bot.connector.send(probe(world, key, room, "Failover probe", possible_repeat=True))
    assert found == body["event_id"]
    events = world.synapse.room_events(room, world.officer.account.access_token)
    assert [e["event_id"] for e in events if e.get("content", {}).get(KEY_FIELD) == key] == [found]


async def test_a_possible_repeat_not_found_in_the_room_is_sent_marked_as_one(world: World) -> None:
    key = "liaison-unknown-outcome-probe-0001"
    sent = await world.bot.connector.send(probe(world, key, world.network_room, "Lost probe", possible_repeat=True))
    events = world.synapse.room_events(world.network_room, world.officer.account.access_token)
    [event] = [e for e in events if e.get("content", {}).get(KEY_FIELD) == key]
    assert event["event_id"] == sent
    assert event["content"]["body"] == f"{POSSIBLE_REPEAT}\nLost probe"


async def test_an_encrypted_event_carries_its_key_outside_the_ciphertext(world: World) -> None:
    key = "liaison-encrypted-probe-0001"
    sent = await world.bot.connector.send(probe(world, key, world.th_room, "Encrypted probe"))
    events = world.synapse.room_events(world.th_room, world.th.account.access_token)
    [event] = [e for e in events if e["event_id"] == sent]
    assert event["type"] == "m.room.encrypted" and "Encrypted probe" not in str(event)
    assert event["content"][KEY_FIELD] == key  # what a standby without the room key can still find
    again = await world.bot.connector.send(probe(world, key, world.th_room, "Encrypted probe", possible_repeat=True))
    assert again == sent
