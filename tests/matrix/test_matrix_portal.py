"""/portal on Matrix: in a direct chat with the bot, a login link that logs the person in; in a
registered room, no link. A real Synapse and the real runtime (the world of test_matrix_network),
with the portal enabled beside the connector."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from unittest import mock

import pytest
import pytest_asyncio
from nio import RoomCreateResponse, RoomPreset

from tests.matrix import test_matrix_network
from tests.matrix.people import ENCRYPTION
from tests.matrix.synapse import Synapse
from tests.matrix.test_matrix_network import World
from tests.matrix.world import network_toml
from tests.portal.client import Client

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

LINK = re.compile(r"(http://127\.0\.0\.1:\d+/login/[A-Za-z0-9_-]+)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    portal = f'\n[portal]\nenabled = true\nlisten = "127.0.0.1:{_free_port()}"\n'
    w = World(synapse, Path(tmp_path_factory.mktemp("matrix-portal")), suffix="-portal")
    with mock.patch.object(test_matrix_network, "network_toml", lambda **kw: network_toml(**kw) + portal):
        await w.setup()
    try:
        yield w
    finally:
        await w.close()


async def test_portal_in_a_matrix_direct_chat_gives_a_link_that_logs_in(world: World) -> None:
    assert world.bot is not None
    th = world.th
    await th.say(world.network_room, "!portal")
    await th.wait_for(lambda: [e for _, e in world.bot_messages(th, world.network_room) if "direct chat" in e.body],
                      what="the refusal in the room")
    assert not [e for _, e in world.bot_messages(th, world.network_room) if "/login/" in e.body]
    created = await th.client.room_create(is_direct=True, invite=[world.bot_account.user_id],
                                          preset=RoomPreset.trusted_private_chat, initial_state=[ENCRYPTION])
    assert isinstance(created, RoomCreateResponse), created
    dm = created.room_id
    await th.wait_for(lambda: world.bot_account.user_id in th.client.rooms[dm].users
                      if dm in th.client.rooms else False, what="the bot in the direct chat")
    await th.say(dm, "!portal")
    found = await th.wait_for(lambda: [m.group(1) for _, e in world.bot_messages(th, dm)
                                       if (m := LINK.search(e.body))], what="the link")
    client = Client(world.bot.runtime.portal_url or "")
    answer = await asyncio.to_thread(client.log_in, found[0])
    assert answer.status == 303 and answer.headers["Location"] == "/board"
