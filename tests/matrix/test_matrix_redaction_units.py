"""Removing a message on Matrix without a homeserver: a redaction with the reason; no power to
redact is the removal gateway's "not-allowed" (both told to delete it by hand); gone already is done.
And which rooms count as the sender's direct chat."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from nio import RoomRedactError, RoomRedactResponse

from alerts.directory import Directory, Room, RoomPurpose
from alerts.identity import ChatRef
from bot.connectors.matrix.membership import MatrixRoomAdmin
from bot.connectors.matrix.sansio.outbound import FILES_FIELD
from bot.connectors.matrix.sansio.rooms import is_direct_chat
from bot.connectors.errors import PermanentFailure

ROOM = ChatRef.parse("matrix:!room:example.org")
BOT = "@bot:example.org"


class RedactingClient:
    access_token = "token"
    user_id = BOT

    def __init__(self, answer: Any, events: dict[str, dict[str, Any]] | None = None) -> None:
        self.answer = answer
        self.events = events or {}  # event id -> its source, as the homeserver returns it
        self.calls: list[tuple[str, str, str | None]] = []

    async def room_get_event(self, room_id: str, event_id: str) -> Any:
        source = self.events.get(event_id, {"type": "m.room.message", "sender": "@a:example.org",
                                            "event_id": event_id, "content": {"msgtype": "m.text", "body": "typed"}})
        return SimpleNamespace(event=SimpleNamespace(source=source))

    async def room_redact(self, room_id: str, event_id: str, reason: str | None = None) -> Any:
        self.calls.append((room_id, event_id, reason))
        return self.answer


def test_a_redaction_carries_the_reason() -> None:
    client = RedactingClient(RoomRedactResponse("$redaction", "!room:example.org"))
    asyncio.run(MatrixRoomAdmin(lambda: client).remove_message(ROOM, "$typed", "TLP:RED goes only to direct chats"))
    assert client.calls == [("!room:example.org", "$typed", "TLP:RED goes only to direct chats")]


def test_no_power_to_redact_is_not_allowed_and_a_missing_event_is_done() -> None:
    forbidden = RoomRedactError.from_dict({"errcode": "M_FORBIDDEN", "error": "You don't have permission"}, "!room:example.org")
    with pytest.raises(PermanentFailure) as raised:
        asyncio.run(MatrixRoomAdmin(lambda: RedactingClient(forbidden)).remove_message(ROOM, "$typed", "why"))
    assert raised.value.code == "not-allowed"
    gone = RoomRedactError.from_dict({"errcode": "M_NOT_FOUND", "error": "Event not found"}, "!room:example.org")
    asyncio.run(MatrixRoomAdmin(lambda: RedactingClient(gone)).remove_message(ROOM, "$typed", "why"))


def test_a_copy_sent_with_photos_loses_them_first_and_only_the_bots_own_list_counts() -> None:
    """The text event the delivery recorded lists the photos sent before it (outside the encryption):
    they are redacted, then the text, so a retry still finds the list."""
    copy = {"type": "m.room.encrypted", "sender": BOT, "event_id": "$text",
            "content": {"algorithm": "m.megolm.v1.aes-sha2", FILES_FIELD: ["$photo1", "$photo2"]}}
    client = RedactingClient(RoomRedactResponse("$redaction", "!room:example.org"), {"$text": copy})
    asyncio.run(MatrixRoomAdmin(lambda: client).remove_message(ROOM, "$text", "the item was withdrawn"))
    assert [event for _, event, _ in client.calls] == ["$photo1", "$photo2", "$text"]
    # Someone else's message naming events is redacted alone: what it names is not the bot's to take.
    forged = {**copy, "sender": "@a:example.org", "event_id": "$typed"}
    client = RedactingClient(RoomRedactResponse("$redaction", "!room:example.org"), {"$typed": forged})
    asyncio.run(MatrixRoomAdmin(lambda: client).remove_message(ROOM, "$typed", "why"))
    assert [event for _, event, _ in client.calls] == ["$typed"]


@pytest.mark.parametrize(("users", "registered", "direct"), [
    (["@bot:example.org", "@a:example.org"], False, True),
    (["@bot:example.org", "@a:example.org", "@b:example.org"], False, False),
    (["@bot:example.org", "@a:example.org"], True, False),  # a registered room is shared, however empty
    (None, False, False),  # a room the sync has not shown yet is shared
])
def test_a_direct_chat_is_an_unregistered_room_of_the_two(users: list[str] | None, registered: bool,
                                                          direct: bool) -> None:
    rooms = (Room(ROOM, "Thailand", RoomPurpose.COUNTRY),) if registered else ()
    directory = Directory.build([], [], rooms)
    assert is_direct_chat(directory, ROOM.chat_id, users, "@bot:example.org", "@a:example.org") is direct
