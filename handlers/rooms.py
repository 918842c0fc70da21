"""/room register and /room retire: admins keep the registered rooms, with what each is for.

A room holds the members of its organisations; a hub room (an airport, a seaport, a border crossing,
a sea area) or a topic room takes only items of its hubs or topics. The configuration can still seed
rooms; one retired here stays retired at the next start. Membership is not changed here: /room sync
(--apply) brings the room's members in, or shows who should leave.
"""

from __future__ import annotations

from dataclasses import replace

from alerts.audit import AuditAction
from alerts.directory import Room, RoomPurpose
from alerts.identity import ChatRef
from alerts.reachability import ROOM_EXAMPLES, example_platform, not_run
from handlers.commands import RoomRegisterCommand, RoomRetireCommand
from handlers.context import CommandContext


def describe(room: Room) -> str:
    what = []
    if room.hubs:
        what.append("hubs " + ", ".join(sorted(room.hubs)))
    if room.topics:
        what.append("topics " + ", ".join(sorted(room.topics)))
    return (f"{room.name} ({room.chat}) · {room.purpose.value} · {', '.join(sorted(room.organisations))}"
            + (f" · only items of {'; '.join(what)}" if what else ""))


def room_register(ctx: CommandContext, command: RoomRegisterCommand) -> None:
    directory = ctx.directory
    chat = ChatRef.parse(command.chat)
    unrun = not_run(chat.platform, ctx.platforms)
    if unrun is not None:  # fail closed: a room nothing could ever be posted in is not kept
        example = replace(command, chat=ROOM_EXAMPLES[example_platform(ctx.platforms)]).render()
        ctx.answer(f"Not registered: {chat} is on {chat.platform.value}, {unrun}: nothing could be posted "
                   f"there. Example: {example}")
        return
    codes = []
    for code in command.organisations:
        org = directory.organisation(code)
        if org is None:
            ctx.answer(f"{code} is not in the network. /contacts lists who is.")
            return
        codes.append(org.code)
    purpose = RoomPurpose(command.purpose)
    if purpose in (RoomPurpose.COUNTRY, RoomPurpose.ORGANISATION) and len(set(codes)) != 1:
        ctx.answer(f"A {purpose.value} room holds one organisation's members; give one in orgs:, or purpose:network.")
        return
    before = directory.room(chat)
    room = Room(chat, command.title, purpose, frozenset(codes), before.encrypted if before else False,
                frozenset(command.hubs), frozenset(command.topics))
    new = ctx.uow.directory_writer.register_room(room)
    ctx.audit(AuditAction.ADMIN, detail={"command": "room register", "room": str(chat), "name": room.name,
                                         "purpose": purpose.value, "organisations": ", ".join(sorted(codes)),
                                         "hubs": ", ".join(sorted(room.hubs)), "topics": ", ".join(sorted(room.topics)),
                                         "change": "registered" if new else "updated"})
    ctx.answer(f"{'Registered' if new else 'Updated'} {describe(room)}. Items are posted there only where their "
               "caveat allows. /room sync --apply brings its members in.")


def room_retire(ctx: CommandContext, command: RoomRetireCommand) -> None:
    chat = ChatRef.parse(command.chat)
    room = ctx.directory.room(chat)
    if room is None or not ctx.uow.directory_writer.retire_room(chat, ctx.now):
        retired = ctx.uow.directory_writer.retired_at(chat)
        if retired is not None:  # typed twice, or by two admins: say so, not "not registered"
            ctx.answer(f"{chat} was retired already, on {retired:%Y-%m-%d %H:%M} UTC: nothing is posted there. "
                       f"/room register {chat} … brings it back.")
            return
        ctx.answer(f"{chat} is not a registered room. /rooms lists them.")
        return
    ctx.audit(AuditAction.ADMIN, detail={"command": "room retire", "room": str(chat), "name": room.name,
                                         "reason": command.reason})
    ctx.answer(f"Retired {room.name} ({chat}): nothing more is posted there ({command.reason}). Nobody was removed "
               "from it; the configuration does not bring it back.")
