"""The registered Matrix rooms, watched from the sync stream: their members (the roster behind /rooms
and /room sync), their encryption and the bot's power in them (room safety).

The connector calls a RoomWatch after each sync has been recorded (its sync observer). After the
first sync of a session every registered Matrix room is looked at; after the others only the
registered rooms whose member, power level or encryption state changed in that sync (timeline or
state section), and those the bot left or was removed from. A look is one GET /rooms/{id}/state:
one request gives the members joined and invited (so an invitation still to be accepted is not
"missing"), the power levels and the encryption, as the homeserver has them now.

What to make of the looks (roster, audit, admins) is the `report` callback's business
(bot/connectors/matrix/room_reports.py), and what a room's state says is sansio/rooms.py's; the
watch only looks.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from nio import AsyncClient, RoomGetStateResponse, SyncResponse

from alerts.directory import Room
from alerts.identity import Platform
from bot.connectors.matrix.errors import from_exception, from_response
from bot.connectors.matrix.sansio.rooms import RoomLook, look_at
from bot.connectors.errors import PermanentFailure, PlatformError
from handlers.ports import DirectorySource

log = logging.getLogger(__name__)

WATCHED = frozenset({"m.room.member", "m.room.power_levels", "m.room.encryption", "m.room.create",
                     "m.room.tombstone"})

# (the rooms looked at with what was seen, at start): the looks of one sync round
Report = Callable[[list[tuple[Room, RoomLook]], bool], Awaitable[None]]


class RoomWatch:
    def __init__(self, client_of: Callable[[], AsyncClient | None], user_id: str, directory: DirectorySource,
                 report: Report) -> None:
        self._client_of = client_of
        self._user_id = user_id
        self._directory = directory
        self._report = report

    @classmethod
    def for_connector(cls, connector: Any, directory: DirectorySource, report: Report) -> RoomWatch:
        return cls(lambda: connector.client, connector.user_id, directory, report)

    def registered(self) -> list[Room]:
        return [r for r in self._directory.current().rooms if r.chat.platform is Platform.MATRIX]

    async def __call__(self, response: SyncResponse, first: bool) -> None:
        """The sync observer: never raises (a failed look is logged, and tried again at the next change
        or start)."""
        rooms = self.registered()
        if not first:
            touched = changed_rooms(response)
            rooms = [r for r in rooms if r.chat.chat_id in touched]
        if not rooms:
            return
        looks = []
        for room in rooms:
            try:
                looks.append((room, await self.look(room.chat.chat_id)))
            except PlatformError as error:
                log.warning("Matrix: could not look at %s: %s", room.chat.chat_id, error)
        if looks:
            try:
                await self._report(looks, first)
            except Exception:
                log.exception("Matrix: recording what the room watch saw failed")

    async def look(self, room_id: str) -> RoomLook:
        client = self._client_of()
        if client is None:
            raise PermanentFailure("not-connected", "matrix")
        try:
            response = await client.room_get_state(room_id)
        except Exception as exc:
            raise from_exception(exc, "room state", request_sent=False) from exc
        if isinstance(response, RoomGetStateResponse):
            return look_at(room_id, response.events, self._user_id)
        error = from_response(response, "room state")
        if error.code in ("M_FORBIDDEN", "M_NOT_FOUND"):  # never a member: nothing to see
            return RoomLook(room_id, in_room=False)
        raise error


def changed_rooms(response: SyncResponse) -> set[str]:
    """Rooms whose watched state changed in this sync, and rooms the bot left or was removed from."""
    found = set(response.rooms.leave)
    for room_id, info in response.rooms.join.items():
        if _touches(info.timeline.events) or _touches(info.state):
            found.add(room_id)
    return found


def _touches(events: Iterable[Any]) -> bool:
    for event in events:
        source = getattr(event, "source", None)
        if isinstance(source, dict) and source.get("type") in WATCHED and "state_key" in source:
            return True
    return False
