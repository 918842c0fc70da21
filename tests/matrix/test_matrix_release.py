"""Two-person release on Matrix, on a real Synapse: an approver approves a held TLP:RED alert by
reacting ✅ on the bot's approval request (it becomes /approve from whoever reacted), and the item
goes to its recipient; its originator reacting the same way is refused and nothing is sent.

A world of its own (accounts "…-rl") on the shared homeserver, with release on (`required = ["red"]`)
and an approver in Malaysia."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from alerts.items import Reference
from alerts.release import ReleaseState
from tests.matrix.people import Person
from tests.matrix.synapse import Synapse
from tests.matrix.test_matrix_network import PICKLE_KEY, REF
from tests.matrix.world import RunningBot, network_toml, start_bot, write_config

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]


@dataclass
class ReleaseWorld:
    bot_user: str
    officer: Person
    approver: Person
    th: Person
    admin: Person
    network_room: str
    bot: RunningBot

    def from_bot(self, person: Person, match: Callable[[str], bool]) -> list[tuple[str, Any]]:
        return [(r, e) for r, e in person.messages(sender=self.bot_user) if match(e.body)]

    async def finds(self, person: Person, match: Callable[[str], bool], what: str,
                    timeout: float = 90.0) -> list[tuple[str, Any]]:
        """The bot's messages to `person` that match, in any room, joining the direct chats the bot
        opens with them on the way."""
        deadline = time.monotonic() + timeout
        while True:
            for room_id in [r for r in person.invites if r not in person.client.rooms]:
                await person.join(room_id)
            found = self.from_bot(person, match)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{person.user_id} waited {timeout:.0f}s in vain for {what}")
            await person.sync(timeout_ms=1000)

    def release(self, reference: str) -> tuple[ReleaseState | None, int]:
        """The item's release state and how many deliveries it has."""
        with self.bot.runtime.uow_factory(read_only=True) as uow:
            held = uow.releases.get(reference)
            record = uow.items.get(Reference.parse(reference))
        return (held.state if held else None), (len(record.deliveries) if record else 0)


APPROVER = """
[[network.contacts]]
id = "my-approver"
name = "Farid"
organisation = "MY"
roles = ["approver"]
identities = ["matrix:{user}"]
"""


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ReleaseWorld]:
    root: Path = tmp_path_factory.mktemp("matrix-release")
    bot_account = synapse.register("liaison-bot-rl")
    synapse.override_ratelimit(bot_account.user_id, 0, 0)
    officer, approver, th, admin = (Person(synapse.url, synapse.register(f"{name}-rl"), root / name)
                                    for name in ("aminah", "farid", "somchai", "rso-admin"))
    people = (officer, approver, th, admin)
    await asyncio.gather(*(p.login() for p in people))
    bot_user = bot_account.user_id
    room = await admin.create_room([bot_user, officer.user_id], name="Network")
    await officer.wait_for(lambda: room in officer.invites, what="the invite to the network room")
    await officer.join(room)
    toml = network_toml(homeserver=synapse.url, bot=bot_user, officer=officer.user_id, th=th.user_id,
                        admin=admin.user_id, rooms=[(room, "Network", "network", '["all"]')])
    assert "required = []" in toml
    toml = toml.replace("required = []", 'required = ["red"]') + APPROVER.format(user=approver.user_id)
    bot = await start_bot(write_config(root / "bot", toml), bot_account.password, PICKLE_KEY, sync_timeout_ms=5000)
    try:
        await admin.wait_for(lambda: bot_user in admin.client.rooms[room].users
                             and not admin.client.rooms[room].users[bot_user].invited, what="the bot in the room")
        yield ReleaseWorld(bot_user, officer, approver, th, admin, room, bot)
    finally:
        await bot.close()
        await asyncio.gather(*(p.close() for p in people))


async def test_an_approvers_reaction_releases_a_held_red_alert_and_its_originators_is_refused(
        world: ReleaseWorld) -> None:
    officer, approver, th = world.officer, world.approver, world.th
    await officer.say(world.network_room, "!alert to:@th-npoc tlp:red\nThe boat leaves pier 4 at 22:00.")
    [(_, held)] = await world.finds(officer, lambda b: " is held (TLP:RED" in b, "the receipt saying it is held")
    reference = REF.search(held.body).group(1)
    [(dm, asked)] = await world.finds(approver, lambda b: f"approve the release of alert {reference}" in b,
                                      "the approval request")
    # On Matrix the request says how to approve by reaction, and how to decline (typed, with a reason).
    assert (f"Approve: react ✅ to this message (or !approve {reference}) · "
            f"Decline: !decline {reference} your reason") in asked.body
    assert "The boat leaves pier 4" in asked.body and asked.decrypted
    assert world.release(reference) == (ReleaseState.PENDING, 0)

    # The originator, let into the approver's direct chat, reacts ✅ on the request: refused, nothing sent.
    await approver.invite(dm, officer.user_id)
    await officer.wait_for(lambda: dm in officer.invites, what="the invite to the approver's direct chat")
    await officer.join(dm)
    await officer.react(dm, asked.event_id, "\u2705", encrypted=True)
    await world.finds(officer, lambda b: f"You sent {reference}, so you cannot approve or decline it" in b,
                      "the refusal of the originator's reaction")
    assert world.release(reference) == (ReleaseState.PENDING, 0)
    assert not world.from_bot(th, lambda b: "The boat leaves pier 4" in b)

    # The approver reacts ✅ (as Element sends it): approved by them, and on its way to Thailand.
    await approver.react(dm, asked.event_id, "\u2705", encrypted=True)
    await world.finds(approver, lambda b: b.startswith(f"Approved: {reference} is on its way to Somchai"),
                      "the approver's answer")
    [(_, delivered)] = await world.finds(th, lambda b: "The boat leaves pier 4" in b, "the released delivery")
    assert delivered.body.startswith("[TLP:RED] from Malaysia\n") and delivered.decrypted
    state, deliveries = world.release(reference)
    assert state is ReleaseState.APPROVED and deliveries == 1
    with world.bot.runtime.uow_factory(read_only=True) as uow:
        assert uow.releases.get(reference).decided_by == "my-approver"
    await world.finds(officer, lambda b: b.startswith(f"Farid (Malaysia) approved {reference}."),
                      "the originator told of the approval")
