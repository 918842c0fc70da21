"""Where admins are told what the bot finds on its own: a room's safety changed (the Matrix room
watch), an item the scheduler had to set aside."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from alerts.directory import RoomPurpose
from alerts.identity import Platform
from alerts.roles import Role
from alerts.routing import Destination
from handlers.ports import DirectorySource


class AdminsRuntime(Protocol):
    @property
    def directory(self) -> DirectorySource: ...

    @property
    def connectors(self) -> Mapping[Platform, object]: ...  # only which platforms are connected


def admin_destinations(runtime: AdminsRuntime) -> list[tuple[Destination, str | None]]:
    """Where admins are told things: the management rooms on a connected platform, else each
    admin's direct chat there. (destination, contact id or None for a room)"""
    directory = runtime.directory.current()
    connected = set(runtime.connectors)
    rooms: list[tuple[Destination, str | None]] = [(Destination.chat(r.chat), None) for r in directory.rooms
             if r.purpose is RoomPurpose.MANAGEMENT and r.chat.platform in connected]
    if rooms:
        return rooms
    found: list[tuple[Destination, str | None]] = []
    for admin in directory.with_role(Role.ADMIN):
        identity = next((i for i in admin.identities if i.platform in connected), None)
        if identity is not None:
            found.append((Destination.direct(identity), admin.id))
    return found
