"""The getUpdates loop: an offset is confirmed to Telegram only after its updates are in the inbox.

Telegram forgets an update once getUpdates is called with an offset above its id. So each batch is
recorded first (Ingest writes the inbox rows and "telegram.cursor" = last id + 1 in one
transaction) and only then does the next call carry the new offset. A crash before the write
reads the batch again from the stored cursor; the inbox drops what it already has.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

from bot.connectors.telegram.api import TelegramApi
from bot.connectors.errors import PlatformError

log = logging.getLogger(__name__)

# Edits (read as the message they make, marked so); no channel posts, reactions or member changes; join
# requests, to admit only whom a link was for.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "chat_join_request")
Receive = Callable[[list[dict[str, Any]]], Awaitable[None]]


class Poller:
    def __init__(self, api: TelegramApi, receive: Receive, offset: int | None, *, timeout: int = 25,
                 limit: int = 100, max_backoff: float = 60.0) -> None:
        self._api = api
        self._receive = receive
        self.offset = offset
        self._timeout = timeout
        self._limit = limit
        self._max_backoff = max_backoff
        self.connected = False

    async def run(self) -> None:
        backoff = 1.0
        while True:
            try:
                updates = await self._api.get_updates(self.offset, self._timeout, self._limit, ALLOWED_UPDATES)
            except PlatformError as error:
                self.connected = False
                wait = error.retry_after if error.retry_after is not None else backoff
                log.warning("Telegram getUpdates failed (%s); trying again in %.1f s", error.code, wait)
                await asyncio.sleep(wait)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            self.connected = True
            if not updates:
                backoff = 1.0
                continue
            try:
                await self._receive(updates)
            except PlatformError as error:
                log.warning("recording Telegram updates failed (%s); they will be read again", error.code)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            except Exception:  # a database fault: the same batch is read again after a pause
                log.exception("recording Telegram updates failed; they will be read again")
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 1.0
            self.offset = max(update["update_id"] for update in updates) + 1
