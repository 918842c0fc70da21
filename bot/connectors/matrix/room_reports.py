"""What the bot makes of the room watch's looks (bot/connectors/matrix/room_watch.py), and how the
Matrix room admin and the watch are plugged into a runtime:

    matrix = matrix_connector_for(runtime)
    add_receiver(runtime, matrix)
    attach_room_admin(runtime, matrix)

For each look, in one transaction:
- the room's roster (storage.roster.SqlRoomRoster) becomes the members seen, so /rooms and
  /room sync count the room as it is, with no wait on the homeserver while a command runs;
- the look is compared with the previous one (kept as "matrix-room-safety:<room id>" in the cursors
  table, so a change made while the bot was down is found at the next start; the directory reads
  each room's encryption from it, and is reloaded when that changes, so that routing never posts
  AMBER or above in a room that is not encrypted now); each change is
  recorded in the audit log and told to the admins, a loss of safety (the bot lost power or left,
  encryption changed away from Megolm) as a warning;
- after the first sync of a session, the power check: rooms where the bot lacks a power it needs are
  logged, recorded and told to the admins, every start until fixed.

The admins are told in the registered management rooms on a connected platform, or, where there is
none, each in their direct chat. Texts name rooms, users and power levels; never an alert's content.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import TYPE_CHECKING, Any

from alerts.audit import AuditAction, AuditEvent, BOT_ACTOR
from alerts.directory import Room
from alerts.messages import MessageKind, OutboundMessage
from bot.runtime.admins import admin_destinations
from bot.connectors.matrix.membership import MatrixRoomAdmin
from bot.connectors.matrix.sansio.rooms import Finding, RoomLook, changes, describe_lacking
from bot.connectors.matrix.sansio.rooms import roster as roster_of
from bot.connectors.matrix.room_watch import Report, RoomWatch
from storage.directory import MATRIX_ROOM_SAFETY
from storage.directory_version import bump_version
from storage.roster import SqlRoomRoster

if TYPE_CHECKING:
    from bot.runtime.app import Runtime

log = logging.getLogger(__name__)

SAFETY = MATRIX_ROOM_SAFETY  # the directory reads each room's encryption from it (storage.directory)


def attach_room_admin(runtime: Runtime, connector: Any, **options: Any) -> RoomWatch:
    """Matrix room actions for /member and /room sync, and the room watch as the connector's sync
    observer. `options` go to MatrixRoomAdmin (invite_spacing)."""
    runtime.room_actions.add(MatrixRoomAdmin.for_connector(connector, **options))
    watch = RoomWatch.for_connector(connector, runtime.directory, room_reporter(runtime))
    connector.observe_sync(watch)
    return watch


def _notice(finding_lines: list[str], serious: bool, room: Room) -> str:
    head = "⚠ Room safety warning" if serious else "Room safety note"
    return f"{head} · {room.name} ({room.chat}):\n" + "\n".join(finding_lines)


def room_reporter(runtime: Runtime) -> Report:
    def record(looks: list[tuple[Room, RoomLook]], at_start: bool) -> bool:
        now = runtime.clock.now()
        texts: list[str] = []
        encryption_changed = False
        lacking = [(room, look) for room, look in looks if look.lacking] if at_start else []
        with runtime.uow_factory() as uow:
            roster = SqlRoomRoster(uow.connection)
            for room, look in looks:
                if look.in_room:
                    roster.seen(room.chat, roster_of(look))
                raw = uow.cursors.get(SAFETY + look.room_id)
                before = json.loads(raw) if raw else None
                found = changes(room.name, before, look)
                if at_start and look.lacking:
                    found = [f for f in found if f.kind in ("encryption", "replaced")]  # the power check says the rest
                snapshot = look.snapshot()
                if snapshot != before:
                    uow.cursors.set(SAFETY + look.room_id, json.dumps(snapshot, sort_keys=True))
                    encryption_changed |= (before or {}).get("encryption") != snapshot["encryption"]
                for finding in found:
                    uow.audit.record(_audit(now, room, "room-safety-change", finding.text, finding.serious))
                if found:
                    texts.append(_notice([f.text for f in found], any(f.serious for f in found), room))
                    _log(room, found)
            if at_start:
                summary = "; ".join(f"{room.name} ({room.chat.chat_id}): {_lacks(look)}" for room, look in lacking)
                uow.audit.record(_audit(now, None, "power-check", summary or "every room as needed", bool(lacking),
                                        rooms=str(len(looks))))
                if lacking:
                    log.warning("Matrix: the bot lacks power in %d registered room(s): %s", len(lacking), summary)
                    texts.append("⚠ Matrix power check: the bot lacks what it needs in "
                                 f"{len(lacking)} registered room{'s' if len(lacking) != 1 else ''}:\n" +
                                 "\n".join(f"• {room.name} ({room.chat}): {_lacks(look)}" for room, look in lacking)
                                 + "\nGive the bot a power level that allows these (or invite it); it looks again "
                                   "when a room's power levels change, and at every start.")
                else:
                    log.info("Matrix: the bot has the power it needs in all %d registered room(s)", len(looks))
            destinations = admin_destinations(runtime) if texts else []
            for text in texts:
                for destination, contact in destinations:
                    uow.outbox.enqueue(OutboundMessage(key=uuid.uuid4().hex, kind=MessageKind.NOTICE,
                                                       destination=destination, text=text, contact=contact))
            if texts and not destinations:
                log.warning("Matrix: no admin can be told of room safety (no management room or admin chat on a "
                            "connected platform)")
            if encryption_changed:
                bump_version(uow.connection)  # routing reads a room's encryption from the directory
            uow.commit()
        if encryption_changed:
            runtime.directory.refresh()
        return bool(texts and destinations)

    async def report(looks: list[tuple[Room, RoomLook]], at_start: bool) -> None:
        if await runtime.db.run(record, looks, at_start):
            runtime.worker.wake()

    return report


def _lacks(look: RoomLook) -> str:
    if not look.in_room:
        return "the bot is not in the room"
    return f"cannot {describe_lacking(look.lacking)} (its level {look.bot_level}; needed " + \
        ", ".join(f"{n} {look.thresholds.get(n, 0)}" for n in look.lacking) + ")"


def _audit(now: Any, room: Room | None, event: str, text: str, serious: bool, **extra: str) -> AuditEvent:
    detail = {"event": event, "serious": str(serious).lower(), "finding": text, **extra}
    return AuditEvent(action=AuditAction.CONFIG, at=now, actor=BOT_ACTOR,
                      channel=str(room.chat) if room else "matrix", detail=detail)


def _log(room: Room, found: list[Finding]) -> None:
    for finding in found:
        (log.warning if finding.serious else log.info)("Matrix room %s: %s", room.chat.chat_id, finding.text)
