"""Earlier revisions' copies edited to say they are superseded, after /correct committed.

1. /correct (handlers/correction.py) plans one outbox row of kind SUPERSEDE (alerts.supersede) per
   delivered copy whose reader gets the new revision, in the command's transaction: a crash can
   neither lose it nor do it twice.
2. The delivery worker leases it like any other row (retries, back-off, retry-after, one in flight per
   chat, so the edit comes before the new copy there) and hands it to `supersede`, registered for
   that kind in the runtime's `actions` (bot/runtime/app.py).
3. `supersede` asks the platform's connector to edit the bot's own message (`edit_message`:
   Matrix an m.replace of its text event, the photos sent before it redacted (a copy known by its
   photo, its text never sent, is redacted whole instead, as /withdraw redacts it, and is "not-a-text":
   the notice below is told); Telegram
   editMessageText or editMessageCaption of the message it is known by, its other messages (photos,
   further parts) deleted, or past 48 hours edited too; the console prints it).
   An edit made twice (a retry after a lost answer) changes nothing more.
4. Where the edit cannot be made, for good (the message is gone or cannot be edited, the platform
   has no edits, the retries ran out), the one-line notice is queued in the same chat instead, under
   a key made from the edit's, so a retry after a crash tells it once; not once the item is withdrawn
   (its withdrawal takes the copy back, a line sent before it, and one in flight then once it lands:
   the delivery worker plans its removal as it records the send). The correction's own audit
   entry says how many copies were marked; the edit adds no content to a chat, so it is not audited
   again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from alerts.identity import Platform
from alerts.items import Reference
from alerts.routing import Destination
from alerts.supersede import Supersession, fallback_notice
from bot.connectors.base import Outgoing
from bot.connectors.errors import PermanentFailure, PlatformError
from bot.ops.logs import item_fields
from bot.runtime.dbthread import DatabaseThread
from handlers.ports import UnitOfWorkFactory

log = logging.getLogger(__name__)


class MessageEditor(Protocol):
    """A connector that can change the text of a message it sent. Raise
    bot.connectors.errors.PlatformError on failure: PermanentFailure where it never can."""

    platform: Platform

    async def edit_message(self, destination: Destination, message_id: str, text: str, key: str) -> None: ...


async def supersede(db: DatabaseThread, uow_factory: UnitOfWorkFactory, connectors: Callable[[Platform], object | None],
                    max_attempts: int, message: Outgoing) -> str:
    """The Operation for a SUPERSEDE row, bound to all but `message` in the runtime's `actions`; asks
    `connectors` at each row, so a connector attached later is found (see the module docstring)."""
    supersession = Supersession.from_json(message.text)
    destination = message.destination
    edit = getattr(connectors(destination.platform), "edit_message", None)  # a platform may have no edits
    try:
        if edit is None:
            raise PermanentFailure("no-edits", f"no message edits on {destination.platform.value}")
        await edit(destination, supersession.message_id, supersession.text, message.key)
    except PermanentFailure as error:
        # Expected (the message is gone, or too old to edit): the notice says it instead.
        log.info("an earlier copy could not be edited (%s); its reader is told in one line", error.code,
                 extra=item_fields(reference=message.reference, key=message.key))
        await db.run(_tell, uow_factory, supersession, destination)
        return "supersede:notice"
    except PlatformError as error:
        if not error.retried_after(message.attempt, max_attempts):
            await db.run(_tell, uow_factory, supersession, destination)
        raise
    return "supersede:edited"


def _tell(uow_factory: UnitOfWorkFactory, supersession: Supersession, destination: Destination) -> None:
    with uow_factory() as uow:
        # Locked, as /withdraw locks it: a withdrawal either comes first, and there is nothing left
        # to act on (its removal takes the copy back), or comes after and takes this line back too.
        record = uow.items.get(Reference.parse(supersession.reference), for_update=True)
        if record is not None and record.withdrawal is not None:
            return
        uow.outbox.enqueue(fallback_notice(supersession, destination))
        uow.commit()
