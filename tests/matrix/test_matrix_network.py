"""The Matrix connector end to end, on a real Synapse, with real nio clients as the people.

One network for the module: an officer (Malaysia), Thailand's point of contact, an admin; a network
room (plain) and Thailand's own room (encrypted); the bot runs in the real runtime (bot.runtime.app) with the
Matrix connector wired as bot/connectors/matrix/wiring.py wires it.
"""

from __future__ import annotations

import asyncio
import re
import stat
import time
from pathlib import Path
from urllib.parse import quote
from typing import Any

import pytest
import pytest_asyncio

from alerts.identity import ChatRef, Platform
from alerts.items import Reference
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing import Destination
from bot.connectors.base import Outgoing
from bot.connectors.matrix import SecurityKind
from tests.matrix.people import Person
from tests.matrix.synapse import Synapse
from tests.matrix.world import RunningBot, network_toml, start_bot, write_config

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

PICKLE_KEY = "test-pickle-key-0123456789"
REF = re.compile(r"\b([AR]-\d{4}-\d{4})\b")


class World:
    def __init__(self, synapse: Synapse, root: Path, suffix: str = "") -> None:
        """`suffix` names the accounts apart, for another module's world on the same homeserver."""
        self.synapse = synapse
        self.root = root
        self.bot_account = synapse.register(f"liaison-bot{suffix}")
        synapse.override_ratelimit(self.bot_account.user_id, 0, 0)  # as the README tells admins to do
        self.officer = Person(synapse.url, synapse.register(f"aminah{suffix}"), root / "people" / "officer")
        self.th = Person(synapse.url, synapse.register(f"somchai{suffix}"), root / "people" / "th")
        self.admin = Person(synapse.url, synapse.register(f"rso-admin{suffix}"), root / "people" / "admin")
        self.bot: RunningBot | None = None

    async def setup(self) -> None:
        await asyncio.gather(self.officer.login(), self.th.login(), self.admin.login())
        bot = self.bot_account.user_id
        # The network room (plain) holds everyone; Thailand's room is encrypted and holds Thailand.
        self.network_room = await self.admin.create_room([bot, self.officer.user_id, self.th.user_id],
                                                         name="Network")
        self.th_room = await self.th.create_room([bot], encrypted=True, name="Thailand")
        await self.officer.wait_for(lambda: self.network_room in self.officer.invites, what="invite")
        await self.officer.join(self.network_room)
        await self.th.wait_for(lambda: self.network_room in self.th.invites, what="invite")
        await self.th.join(self.network_room)
        self.config = write_config(self.root / "bot", network_toml(
            homeserver=self.synapse.url, bot=bot, officer=self.officer.user_id, th=self.th.user_id,
            admin=self.admin.user_id,
            rooms=[(self.network_room, "Network", "network", '["all"]'),
                   (self.th_room, "Thailand", "country", '["TH"]')],
        ))
        self.bot = await start_bot(self.config, self.bot_account.password, PICKLE_KEY, room_admin=True,
                                   sync_timeout_ms=5000)
        # The bot accepted both invites, because both rooms are registered in the directory.
        for person, room in ((self.admin, self.network_room), (self.th, self.th_room)):
            await person.wait_for(lambda p=person, r=room: bot in p.client.rooms[r].users
                                  and not p.client.rooms[r].users[bot].invited, what=f"the bot in {room}")
        # Routing posts AMBER+STRICT in Thailand's room once the bot has seen it encrypted.
        directory = self.bot.runtime.directory
        await self.th.wait_for(lambda: directory.current().room(ChatRef(Platform.MATRIX, self.th_room)).encrypted,
                               what="the bot seeing Thailand's room encrypted")
        assert not directory.current().room(ChatRef(Platform.MATRIX, self.network_room)).encrypted

    async def close(self) -> None:
        if self.bot is not None:
            await self.bot.close()
        await asyncio.gather(self.officer.close(), self.th.close(), self.admin.close())

    def bot_messages(self, person: Person, room_id: str | None = None) -> list[tuple[str, Any]]:
        return person.messages(room_id, sender=self.bot_account.user_id)

    def item_state(self, reference: str, contact: str) -> str | None:
        assert self.bot is not None
        with self.bot.runtime.uow_factory(read_only=True) as uow:
            record = uow.items.get(Reference.parse(reference))
            delivery = record.delivery_to(contact) if record else None
            return delivery.state if delivery else None


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory):
    w = World(synapse, tmp_path_factory.mktemp("matrix-world"))
    await w.setup()
    try:
        yield w
    finally:
        await w.close()


async def officer_finds(world: World, match: Any, what: str, timeout: float = 90.0) -> list[Any]:
    """The bot's messages to the officer that `match`, in any room, joining the direct chat the bot
    opens with them on the way (receipts of AMBER+STRICT and RED items posted in a room go there)."""
    return [e for _, e in await finds(world, world.officer, match, what, timeout)]


async def finds(world: World, person: Person, match: Any, what: str, timeout: float = 90.0) -> list[tuple[str, Any]]:
    """The bot's messages to `person` that `match`, with their rooms, joining on the way any direct
    chat the bot opens with them."""
    deadline = time.monotonic() + timeout
    while True:
        for room_id in [r for r in person.invites if r not in person.client.rooms]:
            await person.join(room_id)
        found = [(r, e) for r, e in world.bot_messages(person) if match(e)]
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{person.user_id} waited {timeout:.0f}s in vain for {what}")
        await person.sync(timeout_ms=1000)


async def post_alert(world: World, text: str) -> tuple[str, Any]:
    """The officer posts in the network room; the reference from the bot's receipt (in the room, or
    in the officer's direct chat for AMBER+STRICT and RED, whose recipients the room must not see)."""
    await world.officer.say(world.network_room, text)
    found = await officer_finds(world, lambda e: " accepted (" in e.body and REF.search(e.body)
                                and e.event_id not in world.seen_receipts, "the receipt")
    receipt = found[-1]
    world.seen_receipts.add(receipt.event_id)
    return REF.search(receipt.body).group(1), receipt


@pytest.fixture(autouse=True)
def _receipts(world: World) -> None:
    if not hasattr(world, "seen_receipts"):
        world.seen_receipts = set()


async def test_an_amber_strict_alert_reaches_thailand_in_its_encrypted_room(world: World) -> None:
    reference, receipt = await post_alert(
        world, "!alert to:TH tlp:amber+strict topic:document-fraud grade:B2 priority:urgent\n"
               "Two travellers with altered passports, flight XX123 KUL-BKK 14:30 today.")
    assert receipt.source["content"]["msgtype"] == "m.notice"
    # The receipt names the recipients: in the officer's direct chat; the network room only hears where.
    in_room = [e.body for _, e in world.bot_messages(world.officer, world.network_room)]
    assert not any(reference in b for b in in_room)
    assert any("answered in your direct chat" in b for b in in_room)
    delivered = await world.th.wait_for(
        lambda: [e for _, e in world.bot_messages(world.th, world.th_room) if reference in e.body],
        what="the delivery in Thailand's room")
    event = delivered[0]
    assert event.decrypted, "Thailand's room is encrypted: the contact's client decrypted the delivery"
    assert event.body.startswith("[TLP:AMBER+STRICT] URGENT · document-fraud · from Malaysia\n"
                                 "Two travellers with altered passports")  # what a notification shows first
    assert f"{reference} · alert from" in event.body
    assert re.search(r"\nFeedback due \d\d [A-Z][a-z]{2} \d\d:\d\d UTC\n", event.body)  # a room: UTC, named
    # It asks Thailand's contact to act: an m.text that mentions them, so their phone notifies them
    # (the default push rules keep m.notice quiet), with its hints in Matrix's `!` commands.
    assert event.source["type"] == "m.room.message"
    content = event.source["content"]
    assert content["msgtype"] == "m.text" and content["format"] == "org.matrix.custom.html"
    assert content["m.mentions"] == {"user_ids": [world.th.user_id]}
    assert event.body.endswith(world.th.user_id) and f"https://matrix.to/#/{world.th.user_id}" in content["formatted_body"]
    assert f"!ack {reference}" in event.body and f"/ack {reference}" not in event.body
    html = content["formatted_body"]
    assert html.startswith('<strong><span data-mx-color="#FFC000" data-mx-bg-color="#000000">[TLP:AMBER+STRICT]</span>')
    assert "<br>" in html and "&lt;" not in html.split("<br>")[0]
    # Not in the network room: AMBER+STRICT stays within Thailand.
    assert not [e for _, e in world.bot_messages(world.officer, world.network_room) if "Two travellers" in e.body]
    world.amber = (reference, event)


async def test_a_red_alert_goes_to_a_direct_chat_made_once_and_reused(world: World) -> None:
    before = set(world.th.invites)
    reference, _ = await post_alert(world, "!alert to:@th-npoc tlp:red\nSource is a named airline employee.")
    invite = await world.th.wait_for(lambda: set(world.th.invites) - before, what="an invite to a direct chat")
    (dm,) = invite
    assert world.th.invites[dm]["content"].get("is_direct") is True
    await world.th.join(dm)
    first = await world.th.wait_for(
        lambda: [e for _, e in world.bot_messages(world.th, dm) if reference in e.body], what="the RED delivery")
    assert first[0].decrypted and first[0].body.startswith("[TLP:RED] from Malaysia\nSource is a named")
    assert 'data-mx-color="#FF2B2B"' in first[0].source["content"]["formatted_body"]
    # In the direct chat the mention is in the event only: the text does not name its one reader.
    assert first[0].source["content"]["msgtype"] == "m.text"
    assert first[0].source["content"]["m.mentions"] == {"user_ids": [world.th.user_id]}
    assert world.th.user_id not in first[0].body
    assert world.bot.connector.client.rooms[dm].encrypted

    second_ref, _ = await post_alert(world, "!alert to:@th-npoc tlp:red\nA second named source.")
    await world.th.wait_for(lambda: [e for _, e in world.bot_messages(world.th, dm) if second_ref in e.body],
                            what="the second RED delivery in the same direct chat")
    assert set(world.th.invites) - before == {dm}, "the direct chat was reused, not made again"
    dm_file = world.config.parent / "var" / "matrix" / "direct_rooms.json"
    assert stat.S_IMODE(dm_file.stat().st_mode) == 0o600


async def test_a_reaction_acknowledges_and_a_reply_is_relayed_to_the_originator(world: World) -> None:
    if not hasattr(world, "amber"):
        await test_an_amber_strict_alert_reaches_thailand_in_its_encrypted_room(world)
    reference, delivered = world.amber
    await world.th.react(world.th_room, delivered.event_id, "\u2705", encrypted=True)  # as Element sends it
    await world.th.wait_for(lambda: world.item_state(reference, "th-npoc") == "acknowledged",
                            what="the acknowledgement")

    await world.th.reply(world.th_room, delivered, "Confirmed, passport reported stolen 2026-10-02")
    await world.th.wait_for(lambda: world.item_state(reference, "th-npoc") == "answered", what="the feedback")
    # The feedback goes to the officer's direct chat with the bot (made on demand).
    relayed = await officer_finds(world, lambda e: "Confirmed, passport reported stolen" in e.body,
                                  "the relayed feedback")
    body = relayed[0].body
    assert reference in body and "Feedback from" in body
    assert "> <" not in body, "the reply fallback was stripped before the feedback was relayed"


async def test_a_reaction_on_a_reminder_acknowledges_as_on_the_delivery(world: World) -> None:
    """On a phone the reminder is what is in view: ✅ on it by its recipient is /ack, as on the delivery."""
    reference, _ = await post_alert(world, "!alert to:TH tlp:amber+strict topic:document-fraud\n"
                                           "A forged visa stamp seen at the land border.")
    await finds(world, world.th, lambda e: reference in e.body and "forged visa stamp" in e.body, "the delivery")
    await world.officer.say(world.network_room, f"!remind {reference}")
    [(room, reminder)] = await finds(world, world.th, lambda e: reference in e.body and "asks you to acknowledge"
                                     in e.body, "the reminder")
    assert world.item_state(reference, "th-npoc") != "acknowledged"
    said_nothing = [e.event_id for _, e in world.bot_messages(world.th) if "not a delivered alert" in e.body]
    await world.th.react(room, reminder.event_id, "\u2705", encrypted=world.th.client.rooms[room].encrypted)
    await world.th.wait_for(lambda: world.item_state(reference, "th-npoc") == "acknowledged",
                            what="the acknowledgement by a reaction on the reminder")
    # Answered as a typed /ack is, never with "not a delivered alert or request".
    await finds(world, world.th, lambda e: re.search(rf"[Aa]cknowledged {reference}\b", e.body) is not None,
                "the answer to the reaction")
    assert [e.event_id for _, e in world.bot_messages(world.th) if "not a delivered alert" in e.body] == said_nothing


async def test_an_edit_of_feedback_is_answered_that_it_went_as_first_written(world: World) -> None:
    """The edit (m.replace, as Element sends it) carries no relation to the delivery: the bot finds in
    its inbox that the original was feedback, and says so rather than nothing."""
    if not hasattr(world, "amber"):
        await test_an_amber_strict_alert_reaches_thailand_in_its_encrypted_room(world)
    reference, delivered = world.amber
    original = await world.th.reply(world.th_room, delivered, "Checked with the airline")
    await world.th.wait_for(lambda: world.item_state(reference, "th-npoc") == "answered", what="the feedback")
    await world.th.send(world.th_room, {"msgtype": "m.text", "body": "* Checked with the airline and the embassy",
                                        "m.new_content": {"msgtype": "m.text",
                                                          "body": "Checked with the airline and the embassy"},
                                        "m.relates_to": {"rel_type": "m.replace", "event_id": original}})
    [told] = await world.th.wait_for(
        lambda: [e for _, e in world.bot_messages(world.th, world.th_room)
                 if e.body.startswith(f"Your feedback on {reference} was passed on as you first wrote it")],
        what="the answer to the edited feedback")
    assert f"!reply {reference} your text" in told.body and told.source["content"]["msgtype"] == "m.notice"


async def test_a_reaction_or_reply_that_does_nothing_is_answered_with_why(world: World) -> None:
    if not hasattr(world, "amber"):
        await test_an_amber_strict_alert_reaches_thailand_in_its_encrypted_room(world)
    reference, delivered = world.amber
    await world.th.react(world.th_room, delivered.event_id, "\u2764\ufe0f", encrypted=True)
    why = await world.th.wait_for(
        lambda: [e for _, e in world.bot_messages(world.th, world.th_room) if "reaction does nothing" in e.body],
        what="the answer to a reaction that acknowledges nothing")
    assert "!ack" not in why[0].body and "\u2705" in why[0].body and reference in why[0].body
    assert why[0].source["content"]["msgtype"] == "m.notice"
    # A reply to one of the bot's answers, which is no item: said why, in the same room.
    await world.th.reply(world.th_room, why[0], "ok, noted")
    await world.th.wait_for(
        lambda: [e for _, e in world.bot_messages(world.th, world.th_room)
                 if "a reply on it does nothing" in e.body],
        what="the answer to a reply to a message that is no item")


async def test_a_thread_reply_is_feedback_too(world: World) -> None:
    reference, _ = await post_alert(world, "!alert to:TH tlp:amber+strict topic:people-smuggling\nBoat sighted.")
    delivered = (await world.th.wait_for(
        lambda: [e for _, e in world.bot_messages(world.th, world.th_room) if reference in e.body],
        what="the delivery"))[0]
    await world.th.reply(world.th_room, delivered, "Coast guard informed", thread=True)
    await world.th.wait_for(lambda: world.item_state(reference, "th-npoc") == "answered", what="thread feedback")


PASSPORT = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8 + b"altered passport page"


async def test_a_tick_or_a_reply_on_a_copys_photo_is_on_the_copy(world: World) -> None:
    """A copy with a photo is two events, the photo then the text; on a phone the photo is what is in
    view. Its recipient's ✅ on the photo acknowledges, their reply to it is feedback the originator
    receives, never "not a delivered alert or request"."""
    th = world.th
    said_nothing = [e.event_id for _, e in world.bot_messages(th) if "not a delivered alert" in e.body]
    await world.officer.send_file(world.network_room, PASSPORT, "page-2.png", "image/png",
                                  "!alert to:TH tlp:amber+strict topic:document-fraud\n\nPage 2 was replaced.")
    found = await officer_finds(world, lambda e: e.body.startswith("Alert A-") and " accepted (" in e.body
                                and e.event_id not in world.seen_receipts, "the receipt")
    world.seen_receipts.add(found[-1].event_id)
    reference = REF.search(found[-1].body).group(1)
    (text,) = await th.wait_for(
        lambda: [e for _, e in world.bot_messages(th, world.th_room) if f"{reference} · alert from" in e.body],
        what="the delivery's text")
    order = [e.event_id for _, e in world.bot_messages(th, world.th_room)]
    (photo,) = [e for _, e in world.bot_messages(th, world.th_room)
                if order.index(e.event_id) == order.index(text.event_id) - 1]
    assert photo.source["content"]["msgtype"] == "m.image" and await th.fetch_file(photo) == PASSPORT
    await th.wait_for(lambda: world.item_state(reference, "th-npoc") not in (None, "queued"), what="the send recorded")

    await th.react(world.th_room, photo.event_id, "\u2705", encrypted=True)
    await th.wait_for(lambda: world.item_state(reference, "th-npoc") == "acknowledged",
                      what="the acknowledgement by a reaction on the photo")
    await th.reply(world.th_room, photo, "Same forger as in March")
    await th.wait_for(lambda: world.item_state(reference, "th-npoc") == "answered", what="the feedback on the photo")
    relayed = await officer_finds(world, lambda e: "Same forger as in March" in e.body, "the relayed feedback")
    assert reference in relayed[0].body and "Feedback from" in relayed[0].body
    assert [e.event_id for _, e in world.bot_messages(th) if "not a delivered alert" in e.body] == said_nothing


RECORD = b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)) * 8 + b"our record of the passport"


async def test_a_photo_sent_in_answer_to_a_copys_photo_reaches_the_originator_as_feedback(world: World) -> None:
    """Somchai answers the photo of his copy with a photo of Thailand's own record, with no caption (as
    Element Web sends a photo). It is feedback on the copy, as a reply in words there is: the officer
    receives it with the photo, never "not a delivered alert or request" nor silence."""
    th = world.th
    said_nothing = [e.event_id for _, e in world.bot_messages(th) if "not a delivered alert" in e.body]
    await world.officer.send_file(world.network_room, PASSPORT, "page-4.png", "image/png",
                                  "!alert to:TH tlp:amber+strict topic:document-fraud\n\nIs this passport known?")
    found = await officer_finds(world, lambda e: e.body.startswith("Alert A-") and " accepted (" in e.body
                                and e.event_id not in world.seen_receipts, "the receipt")
    world.seen_receipts.add(found[-1].event_id)
    reference = REF.search(found[-1].body).group(1)
    (text,) = await th.wait_for(
        lambda: [e for _, e in world.bot_messages(th, world.th_room) if f"{reference} · alert from" in e.body],
        what="the delivery's text")
    order = [e.event_id for _, e in world.bot_messages(th, world.th_room)]
    (photo,) = [e for _, e in world.bot_messages(th, world.th_room)
                if order.index(e.event_id) == order.index(text.event_id) - 1]
    await th.wait_for(lambda: world.item_state(reference, "th-npoc") not in (None, "queued"), what="the send recorded")

    await th.send_file(world.th_room, RECORD, "record.png", "image/png", "record.png", reply_to=photo.event_id)
    await th.wait_for(lambda: world.item_state(reference, "th-npoc") == "answered", what="the photo as feedback")
    found = await finds(world, world.officer, lambda e: reference in e.body and "Feedback from" in e.body,
                        "the relayed feedback")
    room, relayed = found[-1]
    assert "(a photo, with no text)" in relayed.body
    in_room = [e for _, e in world.bot_messages(world.officer, room)]
    before = in_room[[e.event_id for e in in_room].index(relayed.event_id) - 1]
    assert before.source["content"]["msgtype"] == "m.image" and await world.officer.fetch_file(before) == RECORD
    told = await th.wait_for(lambda: [e for _, e in world.bot_messages(th, world.th_room)
                                      if e.body.startswith(f"Your feedback on {reference} goes to")],
                             what="the answer to Somchai")
    assert told and [e.event_id for _, e in world.bot_messages(th) if "not a delivered alert" in e.body] == said_nothing


async def test_a_command_in_a_thread_is_answered_in_that_thread(world: World) -> None:
    """A phone in the thread view sees only the thread: the answer goes there (and replies to the
    command for clients without threads), in an encrypted room too, where the homeserver and Element
    read the relation from outside the ciphertext."""
    root = await world.th.say(world.th_room, "Boat sighted off Koh Lipe, checking")
    command = await world.th.send(world.th_room, {
        "msgtype": "m.text", "body": "!help ack",
        "m.relates_to": {"rel_type": "m.thread", "event_id": root, "is_falling_back": True,
                         "m.in_reply_to": {"event_id": root}}})
    [answer] = await world.th.wait_for(
        lambda: [e for _, e in world.bot_messages(world.th, world.th_room) if e.body.startswith("!ack")],
        what="the answer to a command in a thread")
    assert answer.decrypted
    assert answer.source["content"]["m.relates_to"] == {"rel_type": "m.thread", "event_id": root,
                                                        "is_falling_back": True,
                                                        "m.in_reply_to": {"event_id": command}}
    # The homeserver counts it in the thread (what Element's thread view lists).
    status, found = world.synapse.request(
        "GET", f"/_matrix/client/v1/rooms/{quote(world.th_room)}/relations/{quote(root)}/m.thread",
        token=world.th.account.access_token)
    assert status == 200 and answer.event_id in [e["event_id"] for e in found["chunk"]]
    # A command in the room's timeline is answered as a reply to it.
    plain = await world.th.say(world.th_room, "!help snooze")
    [reply] = await world.th.wait_for(
        lambda: [e for _, e in world.bot_messages(world.th, world.th_room) if e.body.startswith("!snooze")],
        what="the answer to a command in the timeline")
    assert reply.source["content"]["m.relates_to"] == {"m.in_reply_to": {"event_id": plain}}


async def test_the_same_transaction_id_twice_makes_one_event(world: World) -> None:
    connector = world.bot.connector
    message = Outgoing(key="liaison-dedupe-test-0001", kind=MessageKind.NOTICE,
                       destination=Destination.chat(ChatRef(Platform.MATRIX, world.network_room)),
                       text="Dedupe probe", reference=None, contact=None, protect_content=False, reply_to=None,
                       attempt=1)
    first = await connector.send(message)
    second = await connector.send(message)  # a retry after a crash between the send and its record
    assert first == second
    events = world.synapse.room_events(world.network_room, world.officer.account.access_token)
    assert [e["event_id"] for e in events if e.get("content", {}).get("body") == "Dedupe probe"] == [first]


async def test_files_are_private_and_nio_keeps_no_sync_token(world: World) -> None:
    store = world.config.parent / "var" / "matrix"
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    for path in [store / "session.json", *sorted((store / "crypto").iterdir())]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert world.bot.connector.client.config.store_sync_tokens is False
    assert world.bot.connector.client.store.load_sync_token() is None
    cursor = world.bot.runtime.cursor("matrix.cursor")
    assert cursor, "the sync token lives in the bot's database"


async def test_an_uninvited_room_is_refused(world: World) -> None:
    stranger = Person(world.synapse.url, world.synapse.register("stranger"), world.root / "people" / "stranger")
    await stranger.login()
    try:
        room = await stranger.create_room([world.bot_account.user_id], name="Unknown")
        await stranger.wait_for(lambda: [e for e in world.bot.security
                                         if e.kind is SecurityKind.INVITE_REFUSED and e.room_id == room],
                                what="the bot refusing the invite")
        assert room not in world.bot.connector.client.rooms
    finally:
        await stranger.close()


async def test_with_a_low_rate_limit_everything_arrives_and_no_request_is_sent_inside_a_429_window(
        world: World) -> None:
    bot = world.bot
    connector = bot.connector
    requests: list[tuple[float, str, str]] = []
    windows: list[tuple[float, float]] = []
    client = connector.client
    original_send, original_block = client.send, connector.session.gate.block

    async def send(method: str, path: str, *args: Any, **kwargs: Any):
        if "/send/" in path or "/createRoom" in path or "/join" in path:
            requests.append((time.monotonic(), method, path.split("?")[0]))
        return await original_send(method, path, *args, **kwargs)

    def block(seconds: float) -> None:
        windows.append((time.monotonic(), seconds))
        original_block(seconds)

    client.send, connector.session.gate.block = send, block
    world.synapse.override_ratelimit(world.bot_account.user_id, 1, 2)
    texts = [f"Rate probe {i}" for i in range(8)]
    try:
        with bot.runtime.uow_factory() as uow:
            for i, text in enumerate(texts):
                room = world.network_room if i % 2 else world.th_room
                uow.outbox.enqueue(OutboundMessage(key=f"rate-probe-{i}-{time.time_ns()}", kind=MessageKind.NOTICE,
                                                   destination=Destination.chat(ChatRef(Platform.MATRIX, room)),
                                                   text=text))
            uow.commit()
        bot.runtime.worker.wake()
        await world.th.wait_for(
            lambda: {t for t in texts for _, e in world.bot_messages(world.th) if e.body == t} == set(texts),
            timeout=180, what="every rate-limited message")
    finally:
        client.send, connector.session.gate.block = original_send, original_block
        world.synapse.override_ratelimit(world.bot_account.user_id, 0, 0)
    assert windows, "the homeserver's rate limit was reached (the test must exercise 429s)"
    for at, seconds in windows:
        inside = [r for r in requests if at < r[0] < at + seconds]
        assert not inside, f"requests sent inside the 429 window opened at {at} for {seconds}s: {inside}"
    for text in texts:  # each exactly once
        assert sum(1 for _, e in world.bot_messages(world.th) if e.body == text) == 1
