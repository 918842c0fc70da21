"""/withdraw on a real Synapse: the copy in the recipient's direct chat is redacted (their own client
sees the redaction), and they are told in one line; a later command answers that it was withdrawn.
/correct on the same network: the earlier copy is edited in place (their client sees the m.replace).

On the network of test_matrix_network, with accounts of its own (suffix -wd) on the shared homeserver."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from nio import RedactionEvent

from bot.runtime.keys import ensure_keyring
from storage.audit.trail import read_entries
from tests.matrix.synapse import Synapse
from tests.matrix.test_matrix_network import REF, World, officer_finds, post_alert

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
        lambda: [e for _, e in world.bot_messages(th, dm) if f"\n{reference} · " in e.body],
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


async def test_a_correction_edits_the_earlier_copy_in_place_and_sends_the_new_revision(world: World) -> None:
    th = world.th
    before = set(th.invites)
    reference, _ = await post_alert(world, "!alert to:@th-npoc tlp:red\nThe boat leaves at 22:00.")
    found = await th.wait_for(
        lambda: [(r, e) for r, e in world.bot_messages(th) if f"\n{reference} · " in e.body]
        or set(th.invites) - before, what="the RED delivery, or an invite to the direct chat it is in")
    if isinstance(found, set):  # run alone: the direct chat is new
        await th.join(*found)
    (delivered,) = await th.wait_for(
        lambda: [(r, e) for r, e in world.bot_messages(th) if f"\n{reference} · " in e.body],
        what="the RED delivery")
    dm, first = delivered
    # Its send recorded: the correction meets the copy as sent, not as a send in flight.
    await th.wait_for(lambda: world.item_state(reference, "th-npoc") not in (None, "queued"), what="the send recorded")
    typed = await world.officer.say(world.network_room, f"!correct {reference}\n\nThe boat leaves at 23:30.")
    # The recipient's own client sees an edit (m.replace) of the bot's event, decrypted: the copy now
    # reads that it is superseded, above its banner, without its content.
    (edit,) = await th.wait_for(lambda: [e for _, e in world.bot_messages(th, dm) if _replaces(e) == first.event_id],
                                what="the edit of the rev 1 copy")
    assert edit.decrypted
    new = edit.source["content"]["m.new_content"]
    assert new["body"] == f"Superseded by {reference} rev 2 — see the new copy\n[TLP:RED] from Malaysia"
    assert "22:00" not in new["body"] and new["m.mentions"] == {}
    assert edit.source["content"]["body"] == "* " + new["body"]  # for clients without edits
    (revised,) = await th.wait_for(
        lambda: [e for _, e in world.bot_messages(th, dm) if f"\n{reference} rev 2 · " in e.body],
        what="rev 2")
    assert "23:30" in revised.body and revised.decrypted
    assert not [e for _, e in world.bot_messages(th, dm) if "is superseded by" in e.body]  # edited: no line
    # In the chat the edit comes before the new copy.
    order = [e.event_id for _, e in world.bot_messages(th, dm)]
    assert order.index(edit.event_id) < order.index(revised.event_id)
    # Typed in the network room, the RED correction is taken out of it, as a RED alert typed there is: here
    # the bot may not redact others' messages in that room, so the room and the officer are warned instead.
    await world.officer.wait_for(lambda: [e for e in _audit(world) if (e.detail or {}).get("message") == typed
                                          and e.detail.get("event") == "message-kept"], what="the removal tried")


def _replaces(event: Any) -> str | None:
    """The event id an m.replace edit replaces; None for any other event."""
    relation = getattr(event, "source", {}).get("content", {}).get("m.relates_to") or {}
    return relation.get("event_id") if relation.get("rel_type") == "m.replace" else None


def _audit(world: World) -> list:
    assert world.bot is not None
    runtime = world.bot.runtime
    keyring = ensure_keyring(runtime.settings.keys.path, io.StringIO())
    with runtime.engine.connect() as connection:
        return list(read_entries(connection, keyring))


PHOTO = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20 + b"boarding pass"  # bytes a phone might send


def _media(world: World, person: Any, room_id: str) -> list[Any]:
    """The bot's m.image and m.file events in the room, as the person's client decrypted them."""
    return [e for _, e in world.bot_messages(person, room_id)
            if e.source["content"].get("msgtype") in ("m.image", "m.file")]


def _redacted(person: Any, room_id: str) -> set[str]:
    return {e.redacts for r, e in person.events if r == room_id and isinstance(e, RedactionEvent)}


async def test_a_photo_alert_corrected_edits_only_its_text_and_withdrawn_loses_its_photo_too(world: World) -> None:
    """A copy with a photo is two events, the photo then the text (the one the delivery records). /correct
    edits the text alone and takes the earlier photo back (the new copy carries it); /withdraw redacts
    the current copy's photo and text."""
    th = world.th
    before = set(th.invites)
    await world.officer.send_file(world.network_room, PHOTO, "boarding-pass.jpg", "image/jpeg",
                                  "!alert to:@th-npoc tlp:red\n\nHer boarding pass shows the boat leaving at 22:00.")
    # This alert's receipt (a correction's receipt, "A-… rev 2 accepted", is another item's).
    found = await officer_finds(world, lambda e: e.body.startswith("Alert A-") and " accepted (" in e.body
                                and e.event_id not in world.seen_receipts, "the receipt")
    world.seen_receipts.add(found[-1].event_id)
    reference = REF.search(found[-1].body).group(1)
    copy = await th.wait_for(
        lambda: [(r, e) for r, e in world.bot_messages(th) if f"\n{reference} · " in e.body]
        or set(th.invites) - before, what="the RED delivery, or an invite to the direct chat it is in")
    if isinstance(copy, set):  # run alone: the direct chat is new
        await th.join(*copy)
    ((dm, text),) = await th.wait_for(
        lambda: [(r, e) for r, e in world.bot_messages(th) if f"\n{reference} · " in e.body],
        what="the RED delivery's text")
    # The photo came just before the text, encrypted; the recipient's own client decrypts both.
    order = [e.event_id for _, e in world.bot_messages(th, dm)]
    (photo,) = [e for e in _media(world, th, dm) if order.index(e.event_id) == order.index(text.event_id) - 1]
    assert photo.source["content"]["msgtype"] == "m.image" and "file" in photo.source["content"]
    assert await th.fetch_file(photo) == PHOTO and text.decrypted and "22:00" in text.body
    await th.wait_for(lambda: world.item_state(reference, "th-npoc") not in (None, "queued"), what="the send recorded")

    earlier = {e.event_id for _, e in world.bot_messages(th, dm)}  # an earlier test's edit is in this chat too
    await world.officer.say(world.network_room,
                            f"!correct {reference}\n\nHer boarding pass shows the boat leaving at 23:30.")
    (revised,) = await th.wait_for(
        lambda: [e for _, e in world.bot_messages(th, dm) if f"\n{reference} rev 2 · " in e.body], what="rev 2")
    assert "23:30" in revised.body and revised.decrypted
    # Exactly one edit, decrypted, of the text event, saying rev 2 supersedes it: the photo is never made text.
    edits = [e for _, e in world.bot_messages(th, dm) if _replaces(e) is not None and e.event_id not in earlier]
    assert [_replaces(e) for e in edits] == [text.event_id] and edits[0].decrypted
    new = edits[0].source["content"]["m.new_content"]
    assert new["msgtype"] == "m.text" and new["body"].startswith(f"Superseded by {reference} rev 2 — see the new copy")
    assert "22:00" not in new["body"]
    # The earlier photo is taken back, not left beside the mark as if current; rev 2 carries the photo again.
    await th.wait_for(lambda: photo.event_id in _redacted(th, dm), what="the redaction of the rev 1 photo")
    order = [e.event_id for _, e in world.bot_messages(th, dm)]
    (again,) = [e for e in _media(world, th, dm) if order.index(e.event_id) == order.index(revised.event_id) - 1]
    assert await th.fetch_file(again) == PHOTO
    assert text.event_id not in _redacted(th, dm) and again.event_id not in _redacted(th, dm)

    # Withdrawn: the current copy's photo and text are both redacted in the recipient's client.
    await world.officer.say(world.network_room, f"!withdraw {reference} wrong boat")
    await th.wait_for(lambda: {again.event_id, revised.event_id} <= _redacted(th, dm),
                      what="the redaction of the rev 2 photo and text")
    await th.wait_for(lambda: [e for _, e in world.bot_messages(th, dm) if "was withdrawn by" in e.body
                               and reference in e.body], what="the one line")
