"""Room actions carried out on the platforms, after the command that planned them has committed.

How it runs:

1. /member and /room sync (handlers/membership.py) run inside a unit of work on the database
   thread. They change the directory, write their audit entries and plan their room actions as
   outbox rows of kind MEMBERSHIP (alerts.membership.action_message), all in one transaction.
   Nothing is done on a platform before that commits, and nothing committed is lost.
2. The delivery worker leases those rows like any other (retries, back-off, retry-after, one in
   flight per room so a room's actions keep their order) and hands a MEMBERSHIP row to
   RoomActions.carry_out, registered for that kind in the runtime's `actions` (bot/runtime/app.py),
   instead of to the connector's send().
3. RoomActions runs the action through the platform's RoomAdmin (console: print; Telegram:
   bot.connectors.telegram.membership; Matrix: bot.connectors.matrix.membership), then records the outcome in one
   transaction: the room roster, an audit entry (AuditAction.MEMBERSHIP), the run's progress
   and, where it is due, a notice to the admin's chat (every 10 actions of a long run, each
   failure, and the end). Notices and progress are keyed by the action, so a retry after a crash
   repeats neither. The row's key is the action's key (run, action, room, account): the same
   action of the same run is never planned twice; a platform action repeated by a crash between
   doing it and recording it is harmless (invite of a member: found there; removal: idempotent).

The unit of work (storage.uow.SqlUnitOfWork) gives the handlers their ports (directory_writer,
membership, and devices where a connector carries out DEVICE rows: bot/actions/devices.py), and
reloads the directory snapshot after a commit that changed it.

A connector brings its platform's RoomAdmin with `add` (Telegram, Matrix); rows for a platform with
none fail for good.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Protocol, TextIO

from alerts.audit import AuditAction, AuditEvent, BOT_ACTOR
from alerts.clock import Clock
from alerts.identity import ChatRef, Platform
from alerts.membership import PlannedAction, RoomAction
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing import Destination
from bot.connectors.base import Outgoing
from bot.runtime.dbthread import DatabaseThread
from bot.connectors.errors import PermanentFailure, PlatformError
from handlers.ports import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

PROGRESS_EVERY = 10


# --- the platforms ----------------------------------------------------------------------------------

class RoomAdmin(Protocol):
    """One platform's room actions. Raise bot.connectors.errors.PlatformError on failure (retryable or not)."""

    platform: Platform

    async def invite(self, action: PlannedAction) -> str:
        """Bring the account into the room; "joined" when it is in (or was already), "invited"
        when the person still has to accept (a Matrix invite, a Telegram link)."""
        ...

    async def remove(self, action: PlannedAction) -> None:
        """Take the account out of the room; not being there is not an error."""
        ...

    async def remove_message(self, chat: ChatRef, message_id: str, reason: str) -> None:
        """Take a message out of a chat (bot.actions.removal); PermanentFailure("not-allowed", …) when
        the bot lacks the power."""
        ...


class ConsoleRoomAdmin:
    """The console has no real rooms: actions are printed, and count as done."""

    platform = Platform.CONSOLE

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def _print(self, action: PlannedAction, what: str) -> None:
        self._out.write(f"┌─ in {action.room_name} ({action.room.chat_id}) · membership\n│ {what}\n└─\n")
        self._out.flush()

    async def invite(self, action: PlannedAction) -> str:
        self._print(action, f"{action.contact or action.identity} joins ({action.reason})")
        return "joined"

    async def remove(self, action: PlannedAction) -> None:
        self._print(action, f"{action.contact or action.identity} is removed ({action.note or action.reason})")

    async def remove_message(self, chat: ChatRef, message_id: str, reason: str) -> None:
        """bot.actions.removal: the console cannot unprint, so it says what went."""
        self._out.write(f"┌─ in {chat.chat_id} · removal\n│ message {message_id} removed ({reason})\n└─\n")
        self._out.flush()


# --- carrying out --------------------------------------------------------------------------------------

def _key(prefix: str, *parts: str) -> str:
    return prefix + hashlib.sha256("|".join(parts).encode()).hexdigest()[:48]


class RoomActions:
    """Carries out one MEMBERSHIP outbox row and records how it went (see the module docstring)."""

    def __init__(self, db: DatabaseThread, uow_factory: UnitOfWorkFactory, admins: Mapping[Platform, RoomAdmin],
                 clock: Clock, *, max_attempts: int = 8) -> None:
        self._db = db
        self._uow_factory = uow_factory
        self._admins = dict(admins)
        self._clock = clock
        self._max_attempts = max_attempts

    def add(self, admin: RoomAdmin) -> None:
        self._admins[admin.platform] = admin

    def admin(self, platform: Platform) -> RoomAdmin | None:
        """The platform's room admin (bot.actions.removal removes messages through it), if any."""
        return self._admins.get(platform)

    async def carry_out(self, message: Outgoing) -> str:
        action = PlannedAction.from_json(message.text)
        admin = self._admins.get(action.room.platform)
        try:
            if admin is None:
                raise PermanentFailure("no-room-admin", f"no room actions on {action.room.platform.value} yet")
            if action.action is RoomAction.INVITE:
                state: str | None = await admin.invite(action)
            else:
                await admin.remove(action)
                state = None
        except PlatformError as error:
            last = not error.retried_after(message.attempt, self._max_attempts)
            if last:
                await self._db.run(self._record, action, None, f"failed:{error.code}", str(error))
            raise
        outcome = state or "removed"
        await self._db.run(self._record, action, state, outcome, "")
        return f"membership:{outcome}"

    def _record(self, action: PlannedAction, state: str | None, outcome: str, error: str) -> None:
        failed = outcome.startswith("failed")
        now = self._clock.now()
        with self._uow_factory() as uow:
            roster = uow.roster
            if not failed:
                roster.mark(action.room, action.identity, state)
            uow.audit.record(AuditEvent(
                action=AuditAction.MEMBERSHIP, at=now, actor=BOT_ACTOR,
                recipients=(action.contact,) if action.contact else (), channel=str(action.room),
                detail={"stage": "failed" if failed else "done", "action": action.action.value,
                        "identity": str(action.identity), "outcome": outcome, "op": action.op,
                        "requested_by": action.requested_by, "why": action.reason, "error": error[:200]}))
            outcomes = roster.progress(action.op, action.key, outcome)
            if action.reply_chat:
                self._tell(uow, action, outcomes, failed, error)
            uow.commit()

    def _tell(self, uow: UnitOfWork, action: PlannedAction, outcomes: dict[str, str], failed: bool, error: str) -> None:
        destination = Destination.parse(f"chat:{action.reply_chat}")
        notices: list[tuple[str, str]] = []
        if failed:  # what to do about it is the platform's room admin's to say, in the error (whose chat failed)
            notices.append((_key("mbf-", action.key), f"Could not {action.describe()}: {error}."))
        done = len(outcomes)
        bad = sum(1 for o in outcomes.values() if o.startswith("failed"))
        if done >= action.total:
            invited = sum(1 for o in outcomes.values() if o == "invited")
            parts = [f"{done - bad} done"] + ([f"{invited} of them invitations still to be accepted"] if invited else []) \
                + ([f"{bad} failed"] if bad else [])
            notices.append((_key("mbd-", action.op), f"Finished {action.reason} ({action.total} room action"
                                                     f"{'s' if action.total != 1 else ''}): {', '.join(parts)}."))
        elif action.total >= PROGRESS_EVERY and done % PROGRESS_EVERY == 0:
            notices.append((_key("mbp-", action.op, str(done)),
                            f"{action.reason}: {done} of {action.total} room actions done" +
                            (f" ({bad} failed)" if bad else "") + "."))
        for key, text in notices:
            uow.outbox.enqueue(OutboundMessage(key=key, kind=MessageKind.NOTICE, destination=destination, text=text,
                                               contact=action.requested_by or None))
