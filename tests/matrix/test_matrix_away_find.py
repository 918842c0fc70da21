"""/away, /back and /find on a real Synapse, with real nio clients as the people.

Delegation: Thailand's contact sets /away with a backup in their own organisation (an officer there); a new alert to
them reaches the delegate headed "For …", who acknowledges it with a reaction and answers with a
Matrix reply on their behalf (the originator is told for whom); /back sums up what arrived.
Search: /find shows an officer the item they sent, and never one between others; typed in a shared
room, its lines go to the officer's direct chat.

A world of its own (accounts "…-af") on the shared homeserver; items go to direct chats.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from nio import RoomCreateResponse, RoomPreset

from tests.matrix.people import ENCRYPTION, Person
from tests.matrix.synapse import Synapse
from tests.matrix.test_matrix_network import PICKLE_KEY, REF
from tests.matrix.world import RunningBot, network_toml, start_bot, write_config

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

SUFFIX = "-af"
OFFICER, NPOC, DEPUTY = "Aminah (Malaysia)", "Somchai (Thailand)", "Niran (Thailand)"


@dataclass
class AwayWorld:
    bot_user: str
    bot: RunningBot
    officer: Person
    th: Person
    deputy: Person
    room: str  # the network room, shared by the three
    dms: dict[str, str]  # user id -> their direct chat with the bot

    def said(self, person: Person, match: Callable[[str], bool], room: str | None = None) -> list[Any]:
        return [e for _, e in person.messages(room, sender=self.bot_user) if match(e.body)]

    async def finds(self, person: Person, match: Callable[[str], bool], what: str, room: str | None = None,
                    timeout: float = 90.0) -> list[Any]:
        """The bot's messages to `person` that match, joining any chat the bot invites them to meanwhile."""
        deadline = time.monotonic() + timeout
        while True:
            for room_id in [r for r in person.invites if r not in person.client.rooms]:
                await person.join(room_id)
            found = self.said(person, match, room)
            if found:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"{person.user_id} waited {timeout:.0f}s in vain for {what}")
            await person.sync(timeout_ms=1000)

    async def command(self, person: Person, text: str, match: Callable[[str], bool], what: str) -> Any:
        """`person` types `text` in their direct chat; the bot's first new answer there that matches."""
        dm = self.dms[person.user_id]
        seen = {e.event_id for _, e in person.messages(dm, sender=self.bot_user)}
        await person.say(dm, text)
        fresh = await person.wait_for(lambda: [e for e in self.said(person, match, dm) if e.event_id not in seen],
                                      what=what)
        return fresh[0]


async def _direct_chat(person: Person, bot: str) -> str:
    created = await person.client.room_create(is_direct=True, invite=[bot], preset=RoomPreset.trusted_private_chat,
                                              initial_state=[ENCRYPTION])
    assert isinstance(created, RoomCreateResponse), created
    dm = created.room_id
    await person.wait_for(lambda: dm in person.client.rooms and bot in person.client.rooms[dm].users
                          and not person.client.rooms[dm].users[bot].invited, what="the bot in the direct chat")
    return dm


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[AwayWorld]:
    root: Path = tmp_path_factory.mktemp("matrix-away-find")
    bot_account = synapse.register(f"liaison-bot{SUFFIX}")
    synapse.override_ratelimit(bot_account.user_id, 0, 0)
    officer = Person(synapse.url, synapse.register(f"aminah{SUFFIX}"), root / "officer")
    th = Person(synapse.url, synapse.register(f"somchai{SUFFIX}"), root / "th")
    deputy = Person(synapse.url, synapse.register(f"niran{SUFFIX}"), root / "deputy")
    people = (officer, th, deputy)
    await asyncio.gather(*(p.login() for p in people))
    bot = bot_account.user_id
    room = await officer.create_room([bot, th.user_id, deputy.user_id], name="Network")
    for person in (th, deputy):
        await person.wait_for(lambda p=person: room in p.invites, what="the invite to the network room")
        await person.join(room)
    deputy_contact = (f'[[network.contacts]]\nid = "th-deputy"\nname = "Niran"\norganisation = "TH"\n'
                      f'roles = ["officer"]\nidentities = ["matrix:{deputy.user_id}"]\n')
    config = write_config(root / "bot", network_toml(
        homeserver=synapse.url, bot=bot, officer=officer.user_id, th=th.user_id,
        admin=f"@rso-admin{SUFFIX}:localhost", rooms=[(room, "Network", "network", '["all"]')], post="direct",
        extra_contacts=deputy_contact))
    running = await start_bot(config, bot_account.password, PICKLE_KEY, room_admin=True, sync_timeout_ms=5000)
    try:
        await officer.wait_for(lambda: bot in officer.client.rooms[room].users
                               and not officer.client.rooms[room].users[bot].invited, what="the bot in the room")
        dms = {p.user_id: await _direct_chat(p, bot) for p in people}
        yield AwayWorld(bot, running, officer, th, deputy, room, dms)
    finally:
        await running.close()
        await asyncio.gather(*(p.close() for p in people))


async def _alert(world: AwayWorld, person: Person, text: str) -> str:
    receipt = await world.command(person, text, lambda body: " accepted (" in body and bool(REF.search(body)),
                                  "the receipt")
    found = REF.search(receipt.body)
    assert found is not None
    return found.group(1)


async def test_a_delegate_receives_acknowledges_and_replies_for_someone_away_who_is_told_when_back(
        world: AwayWorld) -> None:
    officer, th, deputy = world.officer, world.th, world.deputy
    last_day = date.today() + timedelta(days=5)
    until = f"{last_day:%d %b %Y}"
    set_away = await world.command(th, f"!away until:{last_day:%Y-%m-%d} backup:@th-deputy on leave",
                                   lambda body: body.startswith("You are away until"), "the answer to /away")
    assert f"{DEPUTY} receives new items and reminders and may acknowledge and reply for you" in set_away.body
    await world.finds(deputy, lambda body: body.startswith(f"You stand in for {NPOC}, who is away until {until}"),
                      "the delegate told")

    reference = await _alert(world, officer, "!alert to:@th-npoc tlp:amber topic:people-smuggling\n"
                                             "Boat sighted off Satun, twelve passengers.")
    await world.finds(officer, lambda body: f"{NPOC} is away until {until}; it goes to {DEPUTY}, who stands in."
                      in body, "the receipt naming the delegate")
    (copy,) = await world.finds(deputy, lambda body: f"\n{reference} · " in body and "Boat sighted" in body,
                                "the copy for the person away")
    assert copy.body.startswith(f"For {NPOC}, who is away until {until}:\n[TLP:AMBER] ")
    deputy_dm = next(r for r, e in deputy.messages(sender=world.bot_user) if e.event_id == copy.event_id)

    # Acknowledged with a reaction on the copy, as on any delivery: for the person away.
    await deputy.react(deputy_dm, copy.event_id, "\u2705", encrypted=deputy.client.rooms[deputy_dm].encrypted)
    await world.finds(officer, lambda body: body.startswith(f"{reference}: acknowledged by {DEPUTY} for {NPOC}"),
                      "the acknowledgement for the person away")
    # Answered with a Matrix reply to the copy: the originator's feedback says for whom.
    await deputy.reply(deputy_dm, copy, "Confirmed: the boat is the Kanya 3, held at Satun pier.")
    (feedback,) = await world.finds(officer, lambda body: "held at Satun pier" in body, "the feedback")
    assert f"Feedback from {DEPUTY} for {NPOC}" in feedback.body
    await world.finds(deputy, lambda body: body.startswith(f"Your feedback on {reference} for {NPOC} goes to "
                                                            f"{OFFICER}"), "the delegate's answer")

    back = await world.command(th, "!back", lambda body: body.startswith("Welcome back"), "the answer to /back")
    (summary,) = await world.finds(th, lambda body: body.startswith("Welcome back. While you were away"),
                                   "the summary")
    assert f"{DEPUTY} stood in for you." in summary.body
    assert f"• {reference} [TLP:AMBER] from {OFFICER}: answered " in summary.body
    assert f"What {DEPUTY} did for you: acknowledged {reference}; replied to {reference}." in summary.body
    assert back.body == "Welcome back: new items go to you again."
    await world.finds(deputy, lambda body: body == f"{NPOC} is back: you no longer stand in for them.",
                      "the delegate told the person is back")
    # The item went to the delegate, not to the person away.
    assert not world.said(th, lambda body: "Boat sighted" in body and "Welcome back" not in body)


async def test_find_shows_an_officer_their_item_and_never_one_between_others(world: AwayWorld) -> None:
    officer, th, deputy = world.officer, world.th, world.deputy
    mine = await _alert(world, officer, "!alert to:@th-npoc tlp:amber topic:document-fraud\n"
                                        "Altered passports on flight XX123, cargo hold.")
    theirs = await _alert(world, deputy, "!alert to:@th-npoc tlp:amber topic:document-fraud\n"
                                         "Zulu cargo manifest does not match the hold.")
    # The recipient finds both: the words do match the item the officer must not see.
    both = await world.command(th, "!find cargo", lambda body: body.startswith("Found, newest first"),
                               "the recipient's /find")
    assert f"{theirs} TLP:AMBER" in both.body and f"{mine} TLP:AMBER" in both.body

    found = await world.command(officer, "!find cargo", lambda body: body.startswith("Found, newest first"),
                                "the officer's /find")
    assert f"{mine} TLP:AMBER" in found.body and "Altered passports on flight XX123" in found.body
    assert theirs not in found.body and "Zulu" not in found.body
    nothing = await world.command(officer, "!find zulu manifest",
                                  lambda body: body.startswith(("Nothing found", "Found, newest first")),
                                  "the officer's /find for the other item's words")
    assert nothing.body == "Nothing found among the items you may see."
    refused = await world.command(officer, f"!history {theirs}", lambda body: theirs in body,
                                  "the officer's /history of the other item")
    assert refused.body == f"Only the originator, recipients, coordinators and auditors can see {theirs}."

    # Typed in the shared room, the lines (which carry AMBER text) go to the officer's direct chat.
    seen = {e.event_id for e in world.said(officer, lambda body: body.startswith("Found, newest first"))}
    await officer.say(world.room, "!find passports")
    await world.finds(officer, lambda body: body.startswith("Aminah: answered in your direct chat with the bot"),
                      "the pointer in the room", room=world.room)
    fresh = await officer.wait_for(lambda: [(r, e) for r, e in officer.messages(sender=world.bot_user)
                                            if e.body.startswith("Found, newest first") and e.event_id not in seen],
                                   what="the moved answer")
    ((where, answer),) = fresh
    assert where != world.room and f"{mine} TLP:AMBER" in answer.body
    assert not world.said(officer, lambda body: "Altered passports" in body, room=world.room)
    for person in (th, deputy):  # nothing of it reached the others in the room
        assert not world.said(person, lambda body: "Altered passports" in body, room=world.room)
