"""The Matrix connector: matrix-nio with end-to-end encryption (vodozemac), the bot's own sync loop,
sends with the outbox key as transaction id, direct chats on demand, reactions and replies.

MatrixConnector is put together from parts over one shared state (core.py says why):
  receiving.py  what a sync batch becomes (inbox messages), gaps and undecryptable events
  invites.py    which invites the bot accepts
  trust.py      crypto upkeep and the device trust policy; devices(), verify_device(), blacklist_device()
  sending.py    send() and room_send(), rate limits, direct chats
This module holds the lifecycle: login, the sync loop and one sync round.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from nio import SyncResponse

from alerts.identity import Platform
from alerts.messages import InboundMessage
from bot.config.connectors import MatrixSettings
from bot.connectors.base import Ingest
from bot.connectors.matrix.errors import SessionExpired, from_response
from bot.connectors.matrix.files import read_json
from bot.connectors.matrix.invites import Invites
from bot.connectors.matrix.model import (
    CURSOR,
    DeviceInfo,
    FindDelivery,
    SecurityEvent,
    SecurityHook,
    SecurityKind,
    SyncObserver,
    sync_filter,
)
from bot.connectors.matrix.receiving import Receiving
from bot.connectors.matrix.sending import Sending
from bot.connectors.matrix.session import MatrixStartError, open_session
from bot.connectors.errors import PlatformError, RateLimited
from handlers.ports import DirectorySource

__all__ = ["CURSOR", "DeviceInfo", "FindDelivery", "MatrixConnector", "SecurityEvent", "SecurityHook",
           "SecurityKind", "sync_filter"]

log = logging.getLogger(__name__)


class MatrixConnector(Receiving, Invites, Sending):
    """bot.connectors.base.ReceivingConnector for Matrix; the constructor's options are ConnectorCore's."""

    platform = Platform.MATRIX

    @classmethod
    def from_settings(cls, settings: MatrixSettings, directory: DirectorySource, *,
                      find_delivery: FindDelivery | None = None, on_security: SecurityHook | None = None,
                      **options: Any) -> MatrixConnector:
        if not settings.homeserver or not settings.user_id or settings.pickle_key is None:
            raise ValueError("matrix: homeserver, user_id and pickle_key are required")
        return cls(homeserver=settings.homeserver, user_id=settings.user_id, password=settings.password,
                   access_token=settings.access_token, pickle_key=settings.pickle_key,
                   device_name=settings.device_name, store_path=settings.store_path,
                   device_trust=settings.device_trust, directory=directory, find_delivery=find_delivery,
                   on_security=on_security, **options)

    @property
    def user_id(self) -> str:
        return self._user_id

    @property
    def device_id(self) -> str | None:
        return self.client.device_id if self.client else None

    def observe_sync(self, observer: SyncObserver) -> None:
        """Call `observer` after every recorded sync round (the room watch: room_watch.py)."""
        self._sync_observers.append(observer)

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self, ingest: Ingest, cursor: str | None) -> None:
        """Log in, run the first sync (recorded before returning), then keep syncing in the background.

        Raises MatrixStartError for what retrying cannot fix (credentials, pickle key). A homeserver
        that does not answer within `start_timeout` is not fatal: the loop keeps trying, and sends
        fail with NotConnected (retried by the worker) until it does.
        """
        self._ingest = ingest
        self._since = cursor
        self._dms = {k: v for k, v in (read_json(self._paths.direct_rooms) or {}).items() if isinstance(v, str)}
        self._undecrypted = read_json(self._paths.undecrypted) or {}
        self._task = asyncio.create_task(self._run(), name="matrix-sync")
        self._task.add_done_callback(_log_end)
        ready = asyncio.create_task(self._ready.wait())
        done, _ = await asyncio.wait({ready, self._task}, timeout=self._start_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if self._task in done:
            self._task.result()  # raises what ended the loop
            raise MatrixStartError("the Matrix sync loop ended during start")
        if not done:
            log.warning("Matrix: not connected after %.0fs; still trying in the background", self._start_timeout)

    async def stop(self) -> None:
        self.connected = False
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                if self.client is None:
                    self.client = await open_session(
                        homeserver=self._homeserver, user_id=self._user_id, password=self._password,
                        access_token=self._access_token, pickle_key=self._pickle_key,
                        device_name=self._device_name, paths=self._paths, request_timeout=self._request_timeout)
                    self._first = True
                    await self._crypto_upkeep()
                    await self._recover_direct_rooms()
                await self._sync_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except MatrixStartError:
                self.connected = False
                raise
            except SessionExpired:
                log.warning("Matrix: the session expired; logging in again")
                self.connected = False
                if self.client is not None:
                    await self.client.close()
                    self.client = None
                failures += 1
                await asyncio.sleep(min(30.0, 2.0 ** min(failures, 5)))
            except Exception as exc:  # network, 5xx, a database hiccup in ingest: try again from the cursor
                error = exc if isinstance(exc, PlatformError) else None
                if error is None:
                    log.exception("Matrix sync round failed")
                else:
                    log.warning("Matrix sync round failed: %s", error)
                self.connected = False
                failures += 1
                wait = min(30.0, 0.5 * 2.0 ** min(failures, 6))
                if isinstance(error, RateLimited) and error.retry_after:
                    wait = max(wait, error.retry_after)
                await asyncio.sleep(wait)

    # --- one sync round -------------------------------------------------------------------------

    async def _sync_once(self) -> None:
        client = self.client
        assert client is not None and self._ingest is not None
        since = self._since
        first = self._first
        # nio skips a response whose next_batch equals the one it remembers; ours is the only truth.
        client.next_batch = since or ""
        response = await client.sync(
            timeout=0 if first else self._sync_timeout_ms,
            sync_filter=self._filter,
            since=since,
            full_state=True if first and since else None,
        )
        if not isinstance(response, SyncResponse):
            raise from_response(response, "sync")
        await self._crypto_upkeep()
        await self._handle_invites(response)
        messages: list[InboundMessage] = []
        if since is not None:  # not on the very first start: what was said before the bot came is history
            messages = await self._collect(response, since)
        messages += await self._retry_undecrypted()
        await self._ingest(messages, cursor=(CURSOR, response.next_batch))
        self._since = response.next_batch
        if first:
            log.info("Matrix: connected as %s (device %s)", self._user_id, client.device_id)
        self._first = False
        self.connected = True
        self._ready.set()
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()
        for observer in self._sync_observers:
            try:
                await observer(response, first)
            except Exception:  # an observer's fault must not stop receiving
                log.exception("Matrix: a sync observer failed")


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Matrix: the connector stopped: %s", task.exception())
