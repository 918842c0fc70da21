"""The state every part of the Matrix connector shares, and the request primitives they all use.

The connector is one object assembled from parts (receiving.py, invites.py, trust.py, sending.py;
connector.py puts them together). They share one nio client, which a new login replaces, one rate
gate, one crypto lock and the bot's record of its direct chats, so each part is a class over this
common state rather than a separate object holding copies that could go stale.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from nio import AsyncClient, JoinResponse

from alerts.attachments import AttachmentPolicy
from bot.config.connectors import DeviceTrust
from bot.connectors.base import Ingest
from bot.connectors.matrix.errors import SessionExpired, from_exception, from_response
from bot.connectors.matrix.gate import RateGate
from bot.connectors.matrix.model import FindDelivery, SecurityEvent, SecurityHook, SyncObserver, sync_filter
from bot.connectors.matrix.session import SessionPaths
from bot.config.credentials import SecretRef
from bot.connectors.errors import RateLimited
from handlers.ports import DirectorySource

log = logging.getLogger(__name__)


class ConnectorCore:
    attachments = AttachmentPolicy()  # the [attachments] limits (wiring.py sets the configured ones)

    def __init__(
        self,
        *,
        homeserver: str,
        user_id: str,
        pickle_key: SecretRef,
        store_path: Path,
        directory: DirectorySource,
        password: SecretRef | None = None,
        access_token: SecretRef | None = None,
        device_name: str = "liaison-bot",
        device_trust: DeviceTrust = DeviceTrust.TOFU,
        find_delivery: FindDelivery | None = None,
        on_security: SecurityHook | None = None,
        timeline_limit: int = 50,
        sync_timeout_ms: int = 30_000,
        request_timeout: float = 30.0,
        rate_wait_budget: float = 45.0,
        room_wait: float = 60.0,
        unverified_retry: float = 300.0,
        start_timeout: float = 120.0,
    ) -> None:
        if password is None and access_token is None:
            raise ValueError("a Matrix connector needs a password or an access token")
        self._homeserver = homeserver.rstrip("/")
        self._user_id = user_id
        self._password = password
        self._access_token = access_token
        self._pickle_key = pickle_key
        self._device_name = device_name
        self._paths = SessionPaths(Path(store_path))
        self._directory = directory
        self._trust = device_trust
        self._find_delivery = find_delivery
        self._on_security = on_security
        self._filter = sync_filter(timeline_limit)
        self._sync_timeout_ms = sync_timeout_ms
        self._request_timeout = request_timeout
        self._rate_wait_budget = rate_wait_budget
        self._room_wait = room_wait
        self._unverified_retry = unverified_retry
        self._start_timeout = start_timeout

        self.connected = False
        self.client: AsyncClient | None = None
        self.gate = RateGate()
        self._ingest: Ingest | None = None
        self._since: str | None = None
        self._first = True  # the first sync of a session: full state, no long poll
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._tick = asyncio.Event()  # set (and replaced) after every sync
        self._crypto_lock = asyncio.Lock()
        self._dm_locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._dms: dict[str, str] = {}
        self._created: set[str] = set()  # rooms this process created and may not have seen in a sync yet
        self._invites_done: set[str] = set()
        # Direct chats a directory contact opened with the bot, by room: the inviter, whose messages
        # written before the bot joined are taken as if they came after (clients send the first one
        # with the room).
        self._direct_inviters: dict[str, str] = {}
        self._alerted: set[tuple[str, str]] = set()
        self._undecrypted: dict[str, dict[str, Any]] = {}
        self._sync_observers: list[SyncObserver] = []

    async def _call(self, call: Awaitable[Any], what: str, *, request_sent: bool) -> Any:
        try:
            return await call
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            raise from_exception(exc, what, request_sent=request_sent) from exc

    async def _raise_or_wait(self, response: Any, what: str, deadline: float) -> None:
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

    async def _join(self, room_id: str) -> None:
        assert self.client is not None
        deadline = time.monotonic() + self._rate_wait_budget
        while True:
            await self.gate.wait()
            response = await self._call(self.client.join(room_id), "join", request_sent=True)
            if isinstance(response, JoinResponse):
                return
            await self._raise_or_wait(response, "join", deadline)

    async def _security(self, event: SecurityEvent) -> None:
        if self._on_security is None:
            return
        try:
            await self._on_security(event)
        except Exception:
            log.exception("the Matrix security hook failed for %s", event.kind.value)
