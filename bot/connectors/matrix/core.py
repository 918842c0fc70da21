"""The Matrix session every part of the connector works through: the nio client of the current login
(a new login replaces it, so parts ask for it each time and never keep a copy), the rate gate, the
sync loop's progress, and the request primitives they all use. Handed to each part explicitly.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from nio import AsyncClient, JoinResponse

from bot.connectors.errors import NotConnected, RateLimited, TransientFailure
from bot.connectors.matrix.errors import SessionExpired, from_exception, from_response
from bot.connectors.matrix.gate import RateGate
from bot.connectors.matrix.model import SecurityEvent, SecurityHook
from bot.connectors.matrix.session import SessionPaths

log = logging.getLogger(__name__)


class Session:
    def __init__(self, user_id: str, paths: SessionPaths, *, on_security: SecurityHook | None = None,
                 rate_wait_budget: float = 45.0, room_wait: float = 60.0) -> None:
        self.user_id = user_id
        self.paths = paths
        self.on_security = on_security
        self.rate_wait_budget = rate_wait_budget
        self.room_wait = room_wait
        self.client: AsyncClient | None = None
        self.gate = RateGate()
        self.connected = False
        self.ready = asyncio.Event()  # set after the first recorded sync
        self.loop: asyncio.Task[None] | None = None  # the sync loop
        self._tick = asyncio.Event()  # set (and replaced) after every sync

    def live(self) -> AsyncClient:
        """The client, once the first sync is recorded; NotConnected before."""
        if self.client is None or not self.ready.is_set():
            raise NotConnected("not-connected", "matrix")
        return self.client

    def synced(self) -> None:
        """One sync round recorded: wake whoever waits for the sync to show something."""
        self.connected = True
        self.ready.set()
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    async def until_synced(self, ready: Callable[[], bool], room_id: str) -> None:
        """Wait, sync after sync, until `ready()`; TransientFailure after `room_wait` seconds."""
        deadline = time.monotonic() + self.room_wait
        while not ready():
            left = deadline - time.monotonic()
            if left <= 0 or self.loop is None or self.loop.done():
                raise TransientFailure("room-not-synced", room_id)
            try:
                await asyncio.wait_for(self._tick.wait(), timeout=left)
            except asyncio.TimeoutError:
                pass

    async def call(self, call: Awaitable[Any], what: str, *, request_sent: bool) -> Any:
        try:
            return await call
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise from_exception(exc, what, request_sent=request_sent) from exc

    async def raise_or_wait(self, response: Any, what: str, deadline: float) -> None:
        """Close the gate on a 429 and return when there is time to wait it out; raise otherwise."""
        error = from_response(response, what)
        if isinstance(error, RateLimited):
            wait = error.retry_after or 0.0
            self.gate.block(wait)
            log.info("Matrix %s rate-limited for %.3fs", what, wait)
            if time.monotonic() + wait <= deadline:
                return
            raise RateLimited(error.code, str(error), retry_after=self.gate.remaining)
        if isinstance(error, SessionExpired):
            self.connected = False
        raise error

    async def limited(self, make: Callable[[AsyncClient], Awaitable[Any]], ok: type, what: str) -> Any:
        """A rate-limited request, waited through 429s within `rate_wait_budget`; its response."""
        deadline = time.monotonic() + self.rate_wait_budget
        while True:
            await self.gate.wait()
            if self.client is None:  # logged out while it waited
                raise NotConnected("not-connected", "matrix")
            response = await self.call(make(self.client), what, request_sent=True)
            if isinstance(response, ok):
                return response
            await self.raise_or_wait(response, what, deadline)

    async def join(self, room_id: str) -> None:
        await self.limited(lambda c: c.join(room_id), JoinResponse, "join")

    async def security(self, event: SecurityEvent) -> None:
        if self.on_security is None:
            return
        try:
            await self.on_security(event)
        except Exception:
            log.exception("the Matrix security hook failed for %s", event.kind.value)
