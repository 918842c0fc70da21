"""Room keys reach every device of a room's members, on a real homeserver: a device the bot could not
claim a one-time key for when it shared the room's key (its keys ran out, it had just logged in, or the
claim raced another client's) is not left without it. The send waits for it within a grace, then the
copy is readable there; past the grace the send goes on, and the device is given the key at the next
send once it has keys again, so it reads that later copy."""

from __future__ import annotations

import asyncio

import pytest
import pytest_asyncio

from alerts.identity import ChatRef, Platform
from alerts.messages import MessageKind
from alerts.routing import Destination
from bot.connectors.base import Outgoing
from bot.connectors.matrix.errors import DevicesWithoutKeys
from bot.connectors.matrix.trust import devices_without_key
from tests.matrix.people import Person
from tests.matrix.synapse import Account, Synapse
from tests.matrix.world import network_toml, start_bot, write_config

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


def notice(key: str, room: str, text: str) -> Outgoing:
    return Outgoing(key=key, kind=MessageKind.NOTICE, destination=Destination.chat(ChatRef(Platform.MATRIX, room)),
                    text=text, reference=None, contact=None, protect_content=False, reply_to=None, attempt=1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def keys_world(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("matrix-room-keys")
    bot_account = synapse.register("keys-bot")
    synapse.override_ratelimit(bot_account.user_id, 0, 0)
    th = Person(synapse.url, synapse.register("keys-th"), root / "th")
    await th.login()
    room = await th.create_room([bot_account.user_id], encrypted=True, name="Thailand")
    config = write_config(root / "bot", network_toml(
        homeserver=synapse.url, bot=bot_account.user_id, officer="@keys-officer:localhost", th=th.user_id,
        admin="@keys-admin:localhost", rooms=[(room, "Thailand", "country", '["TH"]')]))
    bot = await start_bot(config, bot_account.password, "keys-pickle", sync_timeout_ms=5000)
    try:
        await th.wait_for(lambda: bot_account.user_id in th.client.rooms[room].users
                          and not th.client.rooms[room].users[bot_account.user_id].invited, what="the bot joining")
        yield bot, th, room, root
    finally:
        await bot.close()
        await th.close()


async def new_device(synapse: Synapse, th: Person, bot, root, name: str) -> Person:  # noqa: ANN001
    """Somchai logs in on another device (it uploads its keys); once the bot knows it, every one-time
    key it uploaded is claimed by someone else, and it does not sync again until the test says so."""
    status, body = synapse.request("POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": th.account.localpart},
        "password": th.account.password})
    assert status == 200, body
    device = Person(synapse.url, Account(th.user_id, th.account.password, body["access_token"], body["device_id"]),
                    root / name)
    await device.login()
    client = bot.connector.client
    await th.wait_for(lambda: device.account.device_id in client.device_store.devices(th.user_id),
                      what="the bot learning of the new device")
    await asyncio.to_thread(exhaust_one_time_keys, synapse, th.account.access_token, th.user_id,
                            device.account.device_id)
    return device


def exhaust_one_time_keys(synapse: Synapse, token: str, user_id: str, device_id: str) -> None:
    for _ in range(500):
        status, body = synapse.request("POST", "/_matrix/client/v3/keys/claim",
                                       {"one_time_keys": {user_id: {device_id: "signed_curve25519"}}}, token=token)
        assert status == 200, body
        if not body.get("one_time_keys", {}).get(user_id, {}).get(device_id):
            return
    raise AssertionError("the device's one-time keys never ran out")


def readable(person: Person, room: str, event_id: str) -> list:
    return [e for _, e in person.messages(room) if e.event_id == event_id]


async def test_a_send_waits_for_a_device_without_keys_then_that_device_reads_it(keys_world, synapse: Synapse) -> None:
    bot, th, room, root = keys_world
    tablet = await new_device(synapse, th, bot, root, "th-tablet")
    try:
        with pytest.raises(DevicesWithoutKeys) as held:
            await bot.connector.send(notice("keys-1", room, "For every device of Somchai"))
        assert held.value.devices == ((th.user_id, tablet.account.device_id),) and held.value.retryable
        await tablet.sync()  # the tablet comes online and uploads one-time keys again
        event_id = await bot.connector.send(notice("keys-1", room, "For every device of Somchai"))  # the retry
        for device in (th, tablet):
            got = await device.wait_for(lambda d=device: readable(d, room, event_id), what="the copy, decrypted")
            assert got[0].decrypted and got[0].body == "For every device of Somchai"
        assert not tablet.undecrypted()
    finally:
        await tablet.close()


async def test_past_the_grace_a_device_without_keys_reads_the_next_copy(keys_world, synapse: Synapse) -> None:
    bot, th, room, root = keys_world
    phone = await new_device(synapse, th, bot, root, "th-new-phone")  # a new device: a new room key is made
    bot.connector.trust.keys_grace = 0.0  # it has been out of reach for longer than the grace
    try:
        first = await bot.connector.send(notice("keys-2", room, "Sent while the new phone had no keys"))
        assert [d.id for d in devices_without_key(bot.connector.client, room)] == [phone.account.device_id]
        await th.wait_for(lambda: readable(th, room, first), what="the first copy on the old phone")
        await phone.sync()  # the new phone uploads one-time keys again
        later = await bot.connector.send(notice("keys-3", room, "A later copy"))
        got = await phone.wait_for(lambda: readable(phone, room, later), what="the later copy on the new phone")
        assert got[0].decrypted and got[0].body == "A later copy"
        assert devices_without_key(bot.connector.client, room) == []
    finally:
        bot.connector.trust.keys_grace = 60.0
        await phone.close()
