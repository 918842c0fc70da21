"""On Matrix (a real Synapse, the real runtime): a command sent without its text takes the sender's
next message as its text; an edited command (m.replace); a stranger's refusal stays out of the room.

A world of its own (accounts "…-cv") on the shared homeserver, built like test_matrix_network's."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from nio import RoomCreateResponse, RoomPreset
from sqlalchemy import func, select

from storage.tables import items
from tests.matrix.people import ENCRYPTION, Person
from tests.matrix.synapse import Synapse
from tests.matrix.test_matrix_network import PICKLE_KEY, REF, World
from tests.matrix.world import start_bot

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

PROMPT = "Send the text of your alert now, or !cancel."


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    w = World(synapse, tmp_path_factory.mktemp("matrix-conversation"), suffix="-cv")
    await w.setup()
    try:
        yield w
    finally:
        await w.close()


def item_count(world: World) -> int:
    assert world.bot is not None
    with world.bot.runtime.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(items)).scalar_one()


async def bot_says(world: World, person: Person, room: str, match, what: str) -> list:  # noqa: ANN001
    return await person.wait_for(lambda: [e for _, e in world.bot_messages(person, room) if match(e.body)], what=what)


async def test_an_alert_in_two_messages_is_sent_once_with_its_text(world: World) -> None:
    officer, room = world.officer, world.network_room
    before = item_count(world)
    await officer.say(room, "!alert to:TH tlp:green topic:document-fraud")
    await bot_says(world, officer, room, lambda b: b.startswith(PROMPT), "the prompt, naming !cancel")
    await world.th.say(room, "what is this about?")  # someone else in the room: not the text
    await officer.say(room, "Boat sighted off Songkhla at dawn")
    [receipt] = await bot_says(world, officer, room, lambda b: " accepted (TLP:GREEN" in b, "the receipt")
    reference = REF.search(receipt.body)
    assert reference is not None and item_count(world) == before + 1
    assert world.item_state(reference[1], "th-npoc") is not None


async def test_cancel_ends_the_wait(world: World) -> None:
    officer, room = world.officer, world.network_room
    before = item_count(world)
    await officer.say(room, "!alert to:TH")
    await officer.wait_for(lambda: sum(e.body.startswith(PROMPT) for _, e in world.bot_messages(officer, room)) >= 2,
                           what="the second prompt")
    await officer.say(room, "!cancel")
    await bot_says(world, officer, room, lambda b: b == "Cancelled: your alert was not sent.", "cancelled")
    assert item_count(world) == before


async def test_an_edited_command_is_taken_once_refused_and_answered_once_accepted(world: World) -> None:
    officer, room = world.officer, world.network_room
    before = item_count(world)
    original = await officer.say(room, "!alert to:TH tlp:orange Edited travellers")
    await bot_says(world, officer, room, lambda b: "orange" in b, "the refusal")

    async def edit(text: str) -> str:
        return await officer.send(room, {"msgtype": "m.text", "body": f"* {text}",
                                         "m.new_content": {"msgtype": "m.text", "body": text},
                                         "m.relates_to": {"rel_type": "m.replace", "event_id": original}})

    earlier = {e.event_id for _, e in world.bot_messages(officer, room)}
    await edit("!alert to:TH tlp:green Edited travellers")
    [receipt] = await officer.wait_for(lambda: [e for _, e in world.bot_messages(officer, room)
                                                if e.event_id not in earlier and " accepted (" in e.body],
                                       what="the receipt")
    assert item_count(world) == before + 1
    reference = REF.search(receipt.body)
    assert reference is not None
    await edit("!alert to:TH tlp:green Edited travellers, three of them")
    await bot_says(world, officer, room, lambda b: b.startswith(f"Your alert {reference[1]} was already sent"),
                   "the answer to the second edit")
    assert item_count(world) == before + 1


async def test_a_strangers_refusal_goes_to_a_direct_chat_never_to_the_room(world: World) -> None:
    stranger = Person(world.synapse.url, world.synapse.register("mallory-cv"), world.root / "people" / "mallory")
    await stranger.login()
    try:
        room = world.network_room
        await world.admin.invite(room, stranger.user_id)
        await stranger.wait_for(lambda: room in stranger.invites, what="the invite")
        await stranger.join(room)
        await stranger.say(room, "!alert to:TH hello")
        deadline = time.monotonic() + 90
        while not [e for _, e in world.bot_messages(stranger) if "not in this network's directory" in e.body]:
            assert time.monotonic() < deadline, "the refusal never reached the stranger's direct chat"
            for invited in [r for r in stranger.invites if r not in stranger.client.rooms]:
                await stranger.join(invited)
            await stranger.sync(timeout_ms=1000)
        [(dm, _)] = [(r, e) for r, e in world.bot_messages(stranger) if "not in this network's directory" in e.body]
        assert dm != room
        await world.officer.say(room, "!whoami")  # answered after the stranger's command: the room was passed
        await bot_says(world, world.officer, room, lambda b: "answered in your direct chat" in b,
                       "the /whoami answer's pointer (the answer itself: in the direct chat)")
        assert not [e for _, e in world.bot_messages(world.officer, room) if "directory" in e.body]
    finally:
        await stranger.close()


async def test_the_guided_form_in_a_direct_chat_with_numbered_choices(world: World) -> None:
    officer, bot = world.officer, world.bot_account.user_id
    created = await officer.client.room_create(is_direct=True, invite=[bot], preset=RoomPreset.trusted_private_chat,
                                               initial_state=[ENCRYPTION])
    assert isinstance(created, RoomCreateResponse), created
    dm = created.room_id
    await officer.wait_for(lambda: dm in officer.client.rooms and bot in officer.client.rooms[dm].users
                           and not officer.client.rooms[dm].users[bot].invited, what="the bot in the direct chat")
    before = item_count(world)

    async def answer(text: str, expect: str) -> str:
        seen = {e.event_id for _, e in world.bot_messages(officer, dm)}
        await officer.say(dm, text)
        [reply] = await officer.wait_for(lambda: [e for _, e in world.bot_messages(officer, dm)
                                                  if e.event_id not in seen], what=f"the answer to {text!r}")
        assert expect in reply.body, reply.body
        return reply.body

    first = await answer("!alert", "Who should receive it?")
    assert "1. All members" in first and first.endswith("Reply with a number or a word, or !cancel to stop.")
    assert "3. AMBER" in await answer("TH", "Which TLP?")
    await answer("2", "Priority?")                      # GREEN, by its number
    await answer("urgent", "Topic?")                    # by its word
    await answer("-", "Source reliability?")
    await answer("B2", "Incident fields, if any")
    await answer("1", "Now write the text")                 # no incident fields
    summary = await answer("Boat sighted off Songkhla, from the form", "Ready to send this alert:")
    assert "1. Send" in summary
    await answer("1", " accepted (TLP:GREEN")
    assert item_count(world) == before + 1


async def test_both_messages_sent_while_the_bot_was_down_make_one_alert(world: World) -> None:
    """Read in one sync batch after a restart: the text follows its command in the same batch."""
    officer, room = world.officer, world.network_room
    assert world.bot is not None
    before, seen = item_count(world), {e.event_id for _, e in world.bot_messages(officer, room)}
    await world.bot.close()
    world.bot = None
    await officer.say(room, "!alert to:TH tlp:green")
    await officer.say(room, "Sent while the bot was down")
    world.bot = await start_bot(world.config, world.bot_account.password, PICKLE_KEY, room_admin=True,
                                sync_timeout_ms=5000)
    answers = await officer.wait_for(
        lambda: [e for _, e in world.bot_messages(officer, room) if e.event_id not in seen and " accepted (" in e.body],
        what="the receipt")
    assert len(answers) == 1 and "TLP:GREEN" in answers[0].body
    assert item_count(world) == before + 1
