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
from bot.connectors.matrix.receiving import Receiving
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


def _receiving(users: list[str], registered: bool = False) -> Any:
    rooms = (Room(ROOM, "Thailand", RoomPurpose.COUNTRY),) if registered else ()
    directory = Directory.build([], [], rooms)
    fake = SimpleNamespace(client=SimpleNamespace(rooms={ROOM.chat_id: SimpleNamespace(users=dict.fromkeys(users))}),
                           _directory=SimpleNamespace(current=lambda: directory), _user_id="@bot:example.org")
    return fake


@pytest.mark.parametrize(("users", "registered", "direct"), [
    (["@bot:example.org", "@a:example.org"], False, True),
    (["@bot:example.org", "@a:example.org", "@b:example.org"], False, False),
    (["@bot:example.org", "@a:example.org"], True, False),  # a registered room is shared, however empty
])
def test_a_direct_chat_is_an_unregistered_room_of_the_two(users: list[str], registered: bool, direct: bool) -> None:
    assert Receiving._direct_with(_receiving(users, registered), ROOM, "@a:example.org") is direct


def test_a_room_the_sync_has_not_shown_yet_is_shared() -> None:
    fake = _receiving([])
    fake.client.rooms = {}
    assert Receiving._direct_with(fake, ROOM, "@a:example.org") is False
