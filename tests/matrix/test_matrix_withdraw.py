"""/withdraw on a real Synapse: the copy in the recipient's direct chat is redacted (their own client
sees the redaction), and they are told in one line; a later command answers that it was withdrawn.

On the network of test_matrix_network, with accounts of its own (suffix -wd) on the shared homeserver."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from nio import RedactionEvent

from tests.matrix.synapse import Synapse
from tests.matrix.test_matrix_network import World, officer_finds, post_alert

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    w = World(synapse, tmp_path_factory.mktemp("matrix-withdraw"), suffix="-wd")
    await w.setup()
    w.seen_receipts = set()  # type: ignore[attr-defined]
    try:
        yield w
    finally:
        await w.close()


async def test_a_withdrawn_alert_is_redacted_in_the_recipients_direct_chat_and_they_are_told(world: World) -> None:
    th = world.th
    before = set(th.invites)
    reference, _ = await post_alert(world, "!alert to:@th-npoc tlp:red\nSource is a named airline employee.")
    (dm,) = await th.wait_for(lambda: set(th.invites) - before, what="an invite to a direct chat")
    await th.join(dm)
    (delivered,) = await th.wait_for(
        lambda: [e for _, e in world.bot_messages(th, dm) if e.body.startswith(f"[TLP:RED] {reference}")],
        what="the RED delivery")

    await world.officer.say(world.network_room, f"!withdraw {reference} sent to the wrong person")
    await th.wait_for(lambda: [e for r, e in th.events if r == dm and isinstance(e, RedactionEvent)
                               and e.redacts == delivered.event_id], what="the redaction of the copy")
    (told,) = await th.wait_for(lambda: [e for _, e in world.bot_messages(th, dm) if "was withdrawn by" in e.body],
                                what="the one line")
    assert told.body.startswith(f"[TLP:RED] {reference} was withdrawn by Aminah (Malaysia) on ")
    assert told.body.endswith(": sent to the wrong person. Disregard it; the bot removes its copy.")
    # The officer's answer about a RED item goes to their direct chat, not the network room.
    await officer_finds(world, lambda e: e.body.startswith(f"Withdrew {reference}. 1 delivered copy to be removed"),
                        "the answer to /withdraw")
    assert not [e for _, e in world.bot_messages(world.officer, world.network_room) if "wrong person" in e.body]

    await th.say(dm, f"!ack {reference}")
    await th.wait_for(lambda: [e for _, e in world.bot_messages(th, dm)
                               if e.body.startswith(f"{reference}: withdrawn on ")
                               and "(sent to the wrong person). It is closed" in e.body], what="the /ack answered")
