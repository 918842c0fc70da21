"""The Matrix connector: matrix-nio with end-to-end encryption (vodozemac), the bot's own sync loop,
sends with the outbox key as transaction id, direct chats on demand, reactions and replies.

MatrixConnector holds the lifecycle (login, the sync loop, one sync round) and is composed of small
parts, each given what it works with:
  session    core.Session: the nio client of the current login, the rate gate, request primitives
  trust      trust.DeviceTrustKeeper: crypto upkeep and the device trust policy (/device's port)
  direct     sending.DirectChats: the bot's direct chat with each person
  sender     sending.Sender: send() and room_send()
  receiver   receiving.Receiver: what a sync batch becomes (inbox messages), gaps, undecryptable events
  invites    invites.Invites: which invites the bot accepts
What events, contents and room states mean is the pure sansio/ package's.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path
from typing import Any

from nio import AsyncClient, SyncResponse

from alerts.identity import Platform
from alerts.messages import InboundMessage
from alerts.routing import Destination
from bot.config.connectors import DeviceTrust, MatrixSettings
from bot.config.credentials import SecretRef
from bot.connectors.base import Ingest, Outgoing
from bot.connectors.errors import PlatformError, RateLimited
from bot.connectors.matrix.core import Session
from bot.connectors.matrix.errors import SessionExpired, from_response
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
from bot.connectors.matrix.receiving import Receiver
from bot.connectors.matrix.sending import DirectChats, Sender
from bot.connectors.matrix.session import MatrixStartError, SessionPaths, open_session
from bot.connectors.matrix.trust import KEYS_GRACE, DeviceTrustKeeper
from handlers.ports import DirectorySource

__all__ = ["CURSOR", "DeviceInfo", "FindDelivery", "MatrixConnector", "SecurityEvent", "SecurityHook",
           "SecurityKind", "sync_filter"]

log = logging.getLogger(__name__)


class MatrixConnector:
    """bot.connectors.base.ReceivingConnector for Matrix."""

    platform = Platform.MATRIX

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
        keys_grace: float = KEYS_GRACE,
        start_timeout: float = 120.0,
    ) -> None:
        if password is None and access_token is None:
            raise ValueError("a Matrix connector needs a password or an access token")
        self._open = functools.partial(open_session, homeserver=homeserver.rstrip("/"), user_id=user_id,
                                       password=password, access_token=access_token, pickle_key=pickle_key,
                                       device_name=device_name, request_timeout=request_timeout)
        self._filter = sync_filter(timeline_limit)
        self._sync_timeout_ms = sync_timeout_ms
        self._start_timeout = start_timeout
        self.session = Session(user_id, SessionPaths(Path(store_path)), on_security=on_security,
                               rate_wait_budget=rate_wait_budget, room_wait=room_wait)
        self.trust = DeviceTrustKeeper(self.session, device_trust, unverified_retry, keys_grace)
        self.direct = DirectChats(self.session, directory)
        self.sender = Sender(self.session, self.trust, self.direct)
        self.receiver = Receiver(self.session, directory, find_delivery)
        self.invites = Invites(self.session, directory, self.receiver.direct_inviters)
        self._ingest: Ingest | None = None
        self._since: str | None = None
        self._first = True  # the first sync of a session: full state, no long poll
        self._observers: list[SyncObserver] = []

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
        return self.session.user_id

    @property
    def client(self) -> AsyncClient | None:
        return self.session.client

    @property
    def connected(self) -> bool:
        return self.session.connected

    def observe_sync(self, observer: SyncObserver) -> None:
        """Call `observer` after every recorded sync round (the room watch: room_watch.py)."""
        self._observers.append(observer)

    async def send(self, message: Outgoing) -> str:
        return await self.sender.send(message)

    async def edit_message(self, destination: Destination, message_id: str, text: str, key: str) -> None:
        """bot.actions.supersede.MessageEditor: an m.replace edit of the bot's own event."""
        await self.sender.edit(destination, message_id, text, key)

    # --- lifecycle ------------------------------------------------------------------------------

    async def start(self, ingest: Ingest, cursor: str | None) -> None:
        """Log in, run the first sync (recorded before returning), then keep syncing in the background.

        Raises MatrixStartError for what retrying cannot fix (credentials, pickle key). A homeserver
        that does not answer within `start_timeout` is not fatal: the loop keeps trying, and sends
        fail with NotConnected (retried by the worker) until it does.
        """
        self._ingest = ingest
        self._since = cursor
        self.direct.load()
        self.receiver.load()
        task = self.session.loop = asyncio.create_task(self._run(), name="matrix-sync")
        task.add_done_callback(_log_end)
        ready = asyncio.create_task(self.session.ready.wait())
        done, _ = await asyncio.wait({ready, task}, timeout=self._start_timeout, return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if task in done:
            task.result()  # raises what ended the loop
            raise MatrixStartError("the Matrix sync loop ended during start")
        if not done:
            log.warning("Matrix: not connected after %.0fs; still trying in the background", self._start_timeout)

    async def stop(self) -> None:
        session = self.session
        session.connected = False
        if session.loop is not None:
            session.loop.cancel()
            await asyncio.gather(session.loop, return_exceptions=True)
            session.loop = None
        if session.client is not None:
            await session.client.close()
            session.client = None

    async def _run(self) -> None:
        session, failures = self.session, 0
        while True:
            try:
                if session.client is None:
                    session.client = await self._open(paths=session.paths)
                    self._first = True
                    await self.trust.upkeep()
                    await self.direct.recover()
                await self._sync_once()
                failures = 0
            except asyncio.CancelledError:
                raise
            except MatrixStartError:
                session.connected = False
                raise
            except SessionExpired:
                log.warning("Matrix: the session expired; logging in again")
                session.connected = False
                if session.client is not None:
                    await session.client.close()
                    session.client = None
                failures += 1
                await asyncio.sleep(min(30.0, 2.0 ** min(failures, 5)))
            except Exception as exc:  # network, 5xx, a database hiccup in ingest: try again from the cursor
                error = exc if isinstance(exc, PlatformError) else None
                if error is None:
                    log.exception("Matrix sync round failed")
                else:
                    log.warning("Matrix sync round failed: %s", error)
                session.connected = False
                failures += 1
                wait = min(30.0, 0.5 * 2.0 ** min(failures, 6))
                if isinstance(error, RateLimited) and error.retry_after:
                    wait = max(wait, error.retry_after)
                await asyncio.sleep(wait)

    # --- one sync round -------------------------------------------------------------------------

    async def _sync_once(self) -> None:
        client = self.session.client
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
        await self.trust.upkeep()
        await self.invites.handle(response)
        messages: list[InboundMessage] = []
        if since is not None:  # not on the very first start: what was said before the bot came is history
            messages = await self.receiver.collect(response, since)
        messages += await self.receiver.retry_undecrypted()
        await self._ingest(messages, cursor=(CURSOR, response.next_batch))
        self._since = response.next_batch
        if first:
            log.info("Matrix: connected as %s (device %s)", self.user_id, client.device_id)
        self._first = False
        self.session.synced()
        for observer in self._observers:
            try:
                await observer(response, first)
            except Exception:  # an observer's fault must not stop receiving
                log.exception("Matrix: a sync observer failed")


def _log_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("Matrix: the connector stopped: %s", task.exception())
