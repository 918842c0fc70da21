"""Inbox processing: each recorded message is handled exactly once, in the transaction that marks it done.

Group commit: the messages pending at once are handled up to `batch` to a transaction and committed
together, so a backlog pays one durable commit per batch rather than one per message; a lone
message is still one transaction, with no wait for company. The batch first runs in one go, its
INSERTs held back and sent together (storage.write_behind): fifty alerts' items, deliveries and
outbox rows cost a statement per table, not one each. Anything unusual in that run (a handler
failing, a held row meeting one already there) undoes the whole batch, which is then done again
message by message, each in a savepoint: a handler that fails there is rolled back alone (what it
wrote, and what the repositories cached about it, is gone), the row is marked failed with an error
reference, and the sender is told that reference, all in the same batch; the traceback goes to the
log, never to a chat. If the database fails (OperationalError), the whole batch is rolled back and
every message in it stays pending.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

from sqlalchemy.exc import OperationalError

from alerts.messages import InboundMessage, MessageKind, OutboundMessage
from alerts.routing import Destination
from bot.errorref import new_error_ref, user_message
from handlers.dispatcher import Dispatcher
from storage.uow import SavepointNotReleased

log = logging.getLogger(__name__)

# Messages per transaction. A larger batch saves little more (the commit is already shared by many)
# and holds SQLite's write lock, and the first message's answer, for longer.
BATCH = 50


class InboxProcessor:
    def __init__(self, uow_factory: Callable, dispatcher: Dispatcher, new_key: Callable[[], str],
                 batch: int = BATCH) -> None:
        if batch < 1:
            raise ValueError("a batch holds at least one message")
        self._uow_factory = uow_factory
        self._dispatcher = dispatcher
        self._new_key = new_key
        self._batch = batch

    def record(self, message: InboundMessage) -> bool:
        """Write a message to the inbox; False when this event was recorded before."""
        with self._uow_factory() as uow:
            fresh = uow.inbox.record(message)
            uow.commit()
        return fresh

    def process_pending(self, limit: int = 100) -> int:
        """Handle up to `limit` pending messages, oldest first; returns how many were handled."""
        handled = 0
        while handled < limit:
            done, more = self._process_batch(min(self._batch, limit - handled))
            handled += done
            if not more:
                break
        return handled

    def _process_batch(self, size: int) -> tuple[int, bool]:
        """One transaction: how many messages it handled, and whether more may be pending."""
        try:
            return self._process_held(size)
        except _DoAgain as again:
            log.warning("a batch of %d messages is done again one by one (%s)", again.size, again.reason)
        return self._process_one_by_one(size)

    def _process_held(self, size: int) -> tuple[int, bool]:
        """The batch in one go, its writes held back (see the module's docstring)."""
        with self._uow_factory() as uow:
            pending = uow.inbox.pending(size)
            if not pending:
                return 0, False
            uow.hold_writes()
            handled: list[InboundMessage] = []
            try:
                for message in pending:
                    handled.append(message)
                    self._dispatcher.handle(uow, message)
                    if _directory_changed(uow):
                        break  # the commit refreshes the directory the next messages resolve against
                uow.inbox.mark_all_done(handled)
                uow.commit()
            except OperationalError:
                log.warning("database unavailable while handling a batch; it stays pending")
                raise
            except Exception as error:  # rolled back as the block ends; the one-by-one run finds who failed
                raise _DoAgain(len(pending), type(error).__name__) from error
        return len(handled), len(handled) < len(pending) or len(pending) == size

    def _process_one_by_one(self, size: int) -> tuple[int, bool]:
        """The batch again, each message in a savepoint, its writes sent as they are made."""
        with self._uow_factory() as uow:
            # Read in the batch's own transaction: one pending message costs one transaction.
            pending = uow.inbox.pending(size)
            handled: list[InboundMessage] = []
            done: list[InboundMessage] = []
            for message in pending:
                handled.append(message)
                if self._process(uow, message):
                    done.append(message)
                if _directory_changed(uow):
                    break  # the commit refreshes the directory the next messages resolve against
            if done:
                uow.inbox.mark_all_done(done)  # in the batch's transaction, one statement for all
            if handled:
                uow.commit()
        return len(handled), len(handled) < len(pending) or len(pending) == size

    def _process(self, uow: Any, message: InboundMessage) -> bool:
        """Handle one message in a savepoint; False when it failed and was marked so."""
        try:
            with uow.savepoint():
                self._dispatcher.handle(uow, message)
            return True
        except (OperationalError, SavepointNotReleased):
            # The database went away or was locked: no message is at fault. The batch is rolled
            # back and stays pending for the next round; marking any failed would lose a command.
            log.warning("database unavailable while handling event %s; the batch stays pending", message.event_id)
            raise
        except Exception:
            error_ref = new_error_ref()
            log.exception("handling inbox event failed [%s] (event %s)", error_ref, message.event_id)
            uow.inbox.mark_failed(message, error_ref)
            uow.outbox.enqueue(
                OutboundMessage(
                    key=self._new_key(),
                    kind=MessageKind.ANSWER,
                    destination=Destination.chat(message.chat),
                    text=user_message(error_ref),
                )
            )
            return False


class _DoAgain(Exception):
    def __init__(self, size: int, reason: str) -> None:
        super().__init__(reason)
        self.size = size
        self.reason = reason


def _directory_changed(uow: Any) -> bool:
    """A membership command changed the directory (bot.membership_gateway): later commands must see it."""
    writer = getattr(uow, "directory_writer", None)
    return bool(getattr(writer, "changed", False))
