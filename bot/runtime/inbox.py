"""Inbox processing: each recorded message is handled exactly once, in the transaction that marks it done.

Group commit: the messages pending at once are handled up to `batch` to a transaction and committed
together, so a backlog pays one durable commit per batch rather than one per message; a lone
message is still one transaction, with no wait for company. Each message runs in a savepoint: a
handler that fails is rolled back alone (what it wrote, and what the sealer cached about it, is
gone), the row is marked failed with an error reference, and the sender is told that reference, all
in the same batch; the traceback goes to the log, never to a chat. A lone message needs no savepoint
(two round trips fewer): when it fails, its transaction is rolled back whole and the failure is
recorded in the next, with the same outcome. If the database fails
(OperationalError), the whole batch is rolled back and every message in it stays pending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.exc import OperationalError

from alerts.messages import InboundMessage, MessageKind, OutboundMessage
from alerts.routing import Destination
from handlers.errorref import new_error_ref, user_message
from handlers.dispatcher import Dispatcher
from handlers.ports import UnitOfWork, UnitOfWorkFactory
from storage.uow import SavepointNotReleased

log = logging.getLogger(__name__)

# Messages per transaction. A larger batch saves little more (the commit is already shared by many)
# and holds SQLite's write lock, and the first message's answer, for longer.
BATCH = 50


class InboxProcessor:
    def __init__(self, uow_factory: UnitOfWorkFactory, dispatcher: Dispatcher, new_key: Callable[[], str],
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
        with self._uow_factory() as uow:
            # Read in the batch's own transaction: one pending message costs one transaction.
            pending = uow.inbox.pending(size)
            handled: list[InboundMessage] = []
            done: list[InboundMessage] = []
            # A lone message is all its transaction writes: it needs no savepoint of its own.
            alone = len(pending) == 1
            for message in pending:
                handled.append(message)
                if self._process(uow, message, alone):
                    done.append(message)
                if uow.directory_writer.changed or uow.arrangements.changed:
                    break  # the commit refreshes the directory the next messages resolve against
            if done:
                uow.inbox.mark_all_done(done)  # in the batch's transaction, one statement for all
            if handled:
                uow.commit()
        return len(handled), len(handled) < len(pending) or len(pending) == size

    def _process(self, uow: UnitOfWork, message: InboundMessage, alone: bool = False) -> bool:
        """Handle one message in a savepoint (`alone`: the transaction is its savepoint; a failure rolls
        it back and is recorded in the next); False when it failed and was marked so."""
        try:
            with uow.savepoint(alone=alone):
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
