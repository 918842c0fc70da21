"""device_trust = "verified": a device nobody verified blocks sends into its room and the admins are told;
an admin verifies it (the send goes through, and the device decrypts it) or blacklists it (the send goes
through, and that device cannot read it)."""

from __future__ import annotations


import pytest
import pytest_asyncio

from alerts.identity import ChatRef, Platform
from alerts.messages import MessageKind
from alerts.routing import Destination
from bot.connectors.base import Outgoing
from bot.connectors.matrix import SecurityKind
from bot.connectors.matrix.errors import UnverifiedDevices
from tests.matrix.people import Person
from tests.matrix.synapse import Synapse
from tests.matrix.world import verified_only_world

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


def notice(key: str, room: str, text: str) -> Outgoing:
    return Outgoing(key=key, kind=MessageKind.NOTICE, destination=Destination.chat(ChatRef(Platform.MATRIX, room)),
                    text=text, reference=None, contact=None, protect_content=False, reply_to=None, attempt=1)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def trust_world(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory):
    async with verified_only_world(synapse, tmp_path_factory.mktemp("matrix-trust"), "trust", sync_timeout_ms=5000) as world:
        yield world


async def test_an_unverified_device_blocks_until_an_admin_verifies_it(trust_world) -> None:
    bot, th, admin, room = trust_world
    # Bootstrap: under "verified" the admins' own devices are verified first, or the alerts about
    # other devices would wait in their (encrypted) direct chats too.
    assert await bot.connector.trust.verify_device(admin.user_id, admin.account.device_id, by="setup")
    with pytest.raises(UnverifiedDevices) as raised:
        await bot.connector.send(notice("trust-1", room, "Held until verified"))
    assert raised.value.retryable and (th.user_id, th.account.device_id) in raised.value.devices
    blocking = [e for e in bot.security if e.kind is SecurityKind.DEVICE_BLOCKING]
    assert [(e.user_id, e.device_id, e.room_id) for e in blocking] == [(th.user_id, th.account.device_id, room)]
    # The admins are told, in their direct chat with the bot (the wiring's hook queued a notice).
    await admin.wait_for(lambda: admin.invites, what="the admin's direct chat")
    (dm,) = admin.invites
    await admin.join(dm)
    await admin.wait_for(lambda: [e for _, e in admin.messages(dm) if th.account.device_id in e.body],
                         what="the admin alert")

    devices = await bot.connector.trust.devices(th.user_id)
    assert [(d.device_id, d.trust) for d in devices] == [(th.account.device_id, "unverified")]
    assert await bot.connector.trust.verify_device(th.user_id, th.account.device_id, by="trust-admin")
    event_id = await bot.connector.send(notice("trust-1", room, "Held until verified"))
    got = await th.wait_for(lambda: [e for _, e in th.messages(room) if e.event_id == event_id], what="the send")
    assert got[0].decrypted and got[0].body == "Held until verified"


async def test_a_blacklisted_device_is_left_out(trust_world, synapse: Synapse, tmp_path_factory) -> None:
    bot, th, _, room = trust_world
    # Somchai logs in on a second device (say, a stolen phone).
    second = Person(synapse.url, th.account, tmp_path_factory.mktemp("th-second"))
    status, body = synapse.request("POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": th.account.localpart},
        "password": th.account.password})
    assert status == 200, body
    second.account = type(th.account)(th.user_id, th.account.password, body["access_token"], body["device_id"])
    await second.login()
    try:
        client = bot.connector.client
        await second.wait_for(lambda: second.account.device_id in client.device_store.devices(th.user_id),
                              what="the bot learning of the new device")
        with pytest.raises(UnverifiedDevices):
            await bot.connector.send(notice("trust-2", room, "Not for the stolen phone"))
        assert await bot.connector.trust.blacklist_device(th.user_id, second.account.device_id, by="trust-admin")
        event_id = await bot.connector.send(notice("trust-2", room, "Not for the stolen phone"))
        await th.wait_for(lambda: [e for _, e in th.messages(room) if e.event_id == event_id], what="the send")
        await second.wait_for(lambda: [e for _, e in second.events if getattr(e, "event_id", None) == event_id],
                              what="the event on the second device")
        (seen,) = [e for _, e in second.events if getattr(e, "event_id", None) == event_id]
        assert not getattr(seen, "decrypted", False), "the blacklisted device got no key"
        kinds = [e.kind for e in bot.security if e.device_id == second.account.device_id]
        assert kinds == [SecurityKind.DEVICE_BLOCKING, SecurityKind.DEVICE_BLACKLISTED]
    finally:
        await second.close()
