"""Messages removed from chats, after the command that planned the removal committed.

1. /alert or /request with TLP:RED typed in a group or room (handlers/post_item.py) plans the
   removal of that message as an outbox row of kind REMOVAL (alerts.removal), in the command's
   transaction: a crash can neither lose it nor do it twice. /withdraw (handlers/withdrawal.py)
   plans the removal of each delivered copy of the item the same way.
2. The delivery worker leases it like any other row (retries, back-off, retry-after, one in flight
   per chat, so it keeps its place among what the bot posts there) and hands a REMOVAL row to
   `remove`, registered for that kind in the runtime's `actions` (bot/runtime/app.py).
3. `remove` asks the platform's room admin to remove the message (Matrix: a redaction, the copy's
   photos too; Telegram: deleteMessage of every message the copy was sent as; console: printed),
   then, in one transaction, records it in the audit log
   and tells the chat and the officer (in their direct chat). Where the bot lacks the power (or the
   platform refuses for good), both are warned instead, so that a person deletes it. The notices'
   keys are made from the removal's, so a retry after a crash tells each of them once. A withdrawn
   copy's reader was told when the item was withdrawn: only a copy that could not be removed is
   told again (and the withdrawer).
4. /member remove (handlers/membership.py) plans the removal of each TLP:AMBER-and-above copy in the
   removed person's direct chats, then, on Matrix, the bot leaving that chat (LEAVE_DIRECT, carried
   out by the remover's `leave_chat`). Nobody is told in that chat (the person is out); the audit log
   records each, and the admin who removed them is told only what could not be done.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from alerts.audit import AuditAction, AuditEvent, BOT_ACTOR
from alerts.clock import Clock
from alerts.identity import Platform
from alerts.messages import MessageKind, OutboundMessage
from alerts.removal import LEAVE_DIRECT, OFFBOARDED, WITHDRAWN, WITHDRAWN_LINE, Removal
from alerts.routing import Destination
from bot.actions.membership import RoomAdmin
from bot.connectors.base import Outgoing
from bot.connectors.errors import PermanentFailure, PlatformError
from bot.runtime.dbthread import DatabaseThread
from handlers.ports import UnitOfWorkFactory

REASON = "TLP:RED goes only to direct chats with the people named"
WITHDRAWN_REASON = "the item was withdrawn"
OFFBOARDED_REASON = "the person was removed from the network"
_REASONS = {WITHDRAWN: WITHDRAWN_REASON, WITHDRAWN_LINE: WITHDRAWN_REASON, OFFBOARDED: OFFBOARDED_REASON}
_WHY = {"not-allowed": "it lacks the power to remove others' messages there",
        "no-remover": "the bot cannot remove messages on this platform",
        "too-old": "Telegram lets a bot delete messages only for 48 hours",
        "no-direct-chat": "the bot no longer knows that direct chat",
        "no-leave": "a bot cannot leave a direct chat on this platform"}


async def remove(db: DatabaseThread, uow_factory: UnitOfWorkFactory,
                 removers: Callable[[Platform], RoomAdmin | None], clock: Clock, max_attempts: int,
                 message: Outgoing) -> str:
    """The Operation for a REMOVAL row, bound to all but `message` in the runtime's `actions`; asks
    `removers` at each row, so a connector attached later is found (see the module docstring)."""
    removal = Removal.from_json(message.text)
    platform = removal.place.platform
    remover = removers(platform)
    try:
        if remover is None:
            raise PermanentFailure("no-remover", f"no message removal on {platform.value}")
        chat = removal.chat
        if chat is None and removal.direct_with is not None:
            # Named by the platform (Telegram, the console), or known to the connector (Matrix).
            chat = removal.direct_with.direct_chat()
            lookup = getattr(remover, "direct_chat", None)
            if chat is None and lookup is not None:
                chat = lookup(removal.direct_with)
        if chat is None and removal.purpose == LEAVE_DIRECT:
            return "removal:no-direct-chat"  # the bot never had one with them: nothing to leave
        if chat is None:
            raise PermanentFailure("no-direct-chat", f"no direct chat known on {platform.value}")
        if removal.purpose == LEAVE_DIRECT:
            leave = getattr(remover, "leave_chat", None)  # only where a bot can leave a direct chat (Matrix)
            if leave is None:
                raise PermanentFailure("no-leave", f"no leaving a direct chat on {platform.value}")
            await leave(chat)
        else:
            await remover.remove_message(chat, removal.message_id, _REASONS.get(removal.purpose, REASON))
    except PlatformError as error:
        if not error.retried_after(message.attempt, max_attempts):
            await db.run(_record, uow_factory, clock, removal, error)
        raise
    await db.run(_record, uow_factory, clock, removal, None)
    return "removal:done"


def _record(uow_factory: UnitOfWorkFactory, clock: Clock, removal: Removal, error: PlatformError | None) -> None:
    now = clock.now()
    why = _WHY.get(error.code, f"the platform refused: {error.code}") if error is not None else ""
    withdrawn = removal.purpose == WITHDRAWN
    offboarded = removal.purpose in (OFFBOARDED, LEAVE_DIRECT)
    if removal.purpose == LEAVE_DIRECT:
        event = "direct-chat-kept" if error else "direct-chat-left"
    else:
        event = "message-kept" if error else "message-removed"
    with uow_factory() as uow:
        uow.audit.record(AuditEvent(
            action=AuditAction.ADMIN, at=now, actor=BOT_ACTOR, recipients=(removal.officer,),
            channel=str(removal.place), reference=removal.reference, caveat=removal.tlp,
            detail={"event": event, "message": removal.message_id,
                    "officer": removal.officer, "error": error.code if error else "",
                    "why": removal.purpose}))
        if offboarded:
            # Nobody reads that chat for the network now: only the admin hears what could not be done.
            texts: tuple[str, ...] = () if error is None else (removal.offboard_kept_text(why),)
            places = [Destination.direct(removal.officer_account)] if removal.officer_account else []
        elif withdrawn and error is None or removal.purpose == WITHDRAWN_LINE:
            texts = ()  # its reader was told when the item was withdrawn (a line: nothing in it to delete)
        elif withdrawn:
            texts = (removal.kept_copy_text(why), removal.kept_withdrawer_text(why))
        elif error is None:
            texts = (removal.removed_chat_text(), removal.removed_officer_text())
        else:
            texts = (removal.kept_chat_text(why), removal.kept_officer_text(why))
        if not offboarded:
            places = [removal.place] + ([Destination.direct(removal.officer_account)]
                                        if removal.officer_account else [])
        for n, (destination, text) in enumerate(zip(places, texts)):
            uow.outbox.enqueue(OutboundMessage(
                key="rmn-" + hashlib.sha256(f"{removal.key}|{n}".encode()).hexdigest()[:48],
                kind=MessageKind.NOTICE, destination=destination, text=text, reference=removal.reference,
                contact=removal.officer))
        uow.commit()
