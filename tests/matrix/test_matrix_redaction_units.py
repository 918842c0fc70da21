"""Removing a message on Matrix without a homeserver: a redaction with the reason; no power to
redact is the removal gateway's "not-allowed" (both told to delete it by hand); gone already is done.
And which rooms count as the sender's direct chat."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from nio import RoomRedactError, RoomRedactResponse

from alerts.directory import Directory, Room, RoomPurpose
from alerts.identity import ChatRef
from bot.connectors.matrix.membership import MatrixRoomAdmin
from bot.connectors.matrix.sansio.rooms import is_direct_chat
from bot.connectors.errors import PermanentFailure

ROOM = ChatRef.parse("matrix:!room:example.org")


class RedactingClient:
    access_token = "token"

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[tuple[str, str, str | None]] = []

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
