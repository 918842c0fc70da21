"""Inbox processing: each recorded message is handled exactly once, in the transaction that marks it done.

If a handler fails, its transaction is rolled back, the row is marked failed with an error reference,
and the sender is told that reference; the traceback goes to the log, never to a chat.
"""

from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy.exc import OperationalError

from alerts.messages import InboundMessage, MessageKind, OutboundMessage
from alerts.routing import Destination
from bot.errorref import new_error_ref, user_message
from handlers.dispatcher import Dispatcher

log = logging.getLogger(__name__)


class InboxProcessor:
    def __init__(self, uow_factory: Callable, dispatcher: Dispatcher, new_key: Callable[[], str]) -> None:
        self._uow_factory = uow_factory
        self._dispatcher = dispatcher
        self._new_key = new_key

    def record(self, message: InboundMessage) -> bool:
        """Write a message to the inbox; False when this event was recorded before."""
        with self._uow_factory() as uow:
            fresh = uow.inbox.record(message)
            uow.commit()
        return fresh

    def process_pending(self, limit: int = 100) -> int:
        with self._uow_factory() as uow:
            pending = uow.inbox.pending(limit)
        for message in pending:
            self._process(message)
        return len(pending)

    def _process(self, message: InboundMessage) -> None:
        try:
            with self._uow_factory() as uow:
                self._dispatcher.handle(uow, message)
                uow.inbox.mark_done(message)
                uow.commit()
        except OperationalError:
            # The database went away or was locked: the message is not at fault. It stays pending
            # and the next round handles it; marking it failed would lose an accepted command.
            log.warning("database unavailable while handling event %s; it stays pending", message.event_id)
            raise
        except Exception:
            error_ref = new_error_ref()
            log.exception("handling inbox event failed [%s] (event %s)", error_ref, message.event_id)
            with self._uow_factory() as uow:
                uow.inbox.mark_failed(message, error_ref)
                uow.outbox.enqueue(
                    OutboundMessage(
                        key=self._new_key(),
                        kind=MessageKind.ANSWER,
                        destination=Destination.chat(message.chat),
                        text=user_message(error_ref),
                    )
                )
                uow.commit()
