"""The Telegram connector: bot.connectors.base.ReceivingConnector on python-telegram-bot 22.

start() returns once Telegram answered getMe (or after `start_wait` seconds, retrying in the
background, so an unreachable Telegram never holds up Matrix or the console); updates then arrive
by polling (default) or webhook. send() works before start() too: the delivery worker may drain
the outbox before the receivers are started.

Counters for health checks and tests: `unknown_outcomes` (sends that timed out after leaving and
may have arrived twice), `refused` (commands from untrusted sources), `connected`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from collections.abc import Coroutine
from typing import Any

from alerts.identity import Platform
from alerts.routing import Destination
from bot.connectors.base import Ingest, Outgoing
from bot.connectors.telegram.api import TelegramApi
from bot.connectors.telegram.batch import Batch, Followup
from bot.connectors.telegram.chats import MIGRATIONS, ChatMigrations
from bot.connectors.telegram.intake import Intake
from bot.connectors.telegram.invite_links import InviteLinks
from bot.connectors.telegram.polling import ALLOWED_UPDATES, Poller
from bot.connectors.telegram.sender import TelegramSender
from bot.connectors.telegram.store import TelegramStore
from bot.connectors.telegram.webhook import WebhookServer, webhook_address
from bot.connectors.errors import PlatformError

log = logging.getLogger(__name__)

CURSOR = "telegram.cursor"


@dataclass(frozen=True)
class WebhookConfig:
    url: str                   # the public https address (the path gets a random segment added)
    listen: tuple[str, int]    # where to listen behind the TLS proxy
    secret: str                # the X-Telegram-Bot-Api-Secret-Token value


class TelegramConnector:
    platform = Platform.TELEGRAM

    def __init__(self, api: TelegramApi, sender: TelegramSender, intake: Intake, store: TelegramStore,
                 migrations: ChatMigrations, *, webhook: WebhookConfig | None = None, poll_timeout: int = 25,
                 start_wait: float = 15.0, invite_links: InviteLinks | None = None) -> None:
        self._api = api
        # The links onboarding made, shared with the room admin (membership.py) and the intake.
        self.invite_links = invite_links if invite_links is not None else InviteLinks(store)
        self._sender = sender
        self._intake = intake
        self._store = store
        self._migrations = migrations
        self._webhook = webhook
        self._poll_timeout = poll_timeout
        self._start_wait = start_wait
        self._ingest: Ingest | None = None
        self._ready_lock = asyncio.Lock()
        self._receive_lock = asyncio.Lock()
        self._initialized = False
        self._poller: Poller | None = None
        self._server: WebhookServer | None = None
        self._task: asyncio.Task | None = None
        self._chains: dict[int, asyncio.Task[None]] = {}  # per chat: its prompts and edits, in order
        self._background: set[asyncio.Task[None]] = set()
        self._up = asyncio.Event()
        sender.on_migrated = self.chat_moved

    @property
    def connected(self) -> bool:
        if self._poller is not None:
            return self._poller.connected
        return self._server is not None and self._initialized

    @property
    def unknown_outcomes(self) -> int:
        return self._sender.unknown_outcomes

    @property
    def refused(self) -> int:
        return self._intake.refused

    async def send(self, message: Outgoing) -> str:
        await self._ready()
        return await self._sender.send(message)

    async def edit_message(self, destination: Destination, message_id: str, text: str, key: str) -> None:
        """bot.actions.supersede.MessageEditor: the copy the bot sent as `message_id` now reads `text`
        there, and the other messages of that copy are deleted (or, past 48 hours, marked too)."""
        await self._sender.supersede(message_id, await self.parts_of(message_id), text)

    async def parts_of(self, message_id: str) -> tuple[str, ...]:
        """Every message of the copy the bot sent as `message_id`, as recorded while it was sent."""
        return await self._store.parts_of(message_id)

    async def start(self, ingest: Ingest, cursor: str | None) -> None:
        self._ingest = ingest
        offset = int(cursor) if cursor and cursor.lstrip("-").isdigit() else None
        self._task = asyncio.create_task(self._run(offset), name="telegram-receive")
        self._task.add_done_callback(_log_failure)
        try:
            await asyncio.wait_for(self._up.wait(), timeout=self._start_wait)
        except asyncio.TimeoutError:
            log.warning("Telegram did not answer within %.0f s; still trying in the background", self._start_wait)

    async def stop(self) -> None:
        tasks = [t for t in (self._task, *self._background) if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._initialized:
            await self._api.shutdown()
            self._initialized = False

    async def receive(self, updates: list[dict[str, Any]]) -> None:
        """Record a batch of raw updates (from getUpdates or the webhook), then answer and prompt."""
        assert self._ingest is not None, "start() first"
        async with self._receive_lock:
            try:
                batch = await self._intake.read(updates)
                for refusal in batch.refusals:
                    await self._store.refuse(refusal)
                await self._store.save(batch.saves)
                cursor = (CURSOR, str(max(update["update_id"] for update in updates) + 1))
                await self._ingest(batch.messages, cursor=cursor)
            except BaseException:
                self._intake.forget()  # the batch will be read again; memory must not be ahead of the store
                raise
            await self._store.save(batch.saves_after)
        self._after(batch)

    async def chat_moved(self, old: int, new: int) -> None:
        """A send found the group moved (ChatMigrated): remember it as an incoming notice would."""
        batch = Batch()
        self._intake.chat_moved(old, new, batch)
        await self._store.save(batch.saves)

    async def _ready(self) -> None:
        if self._initialized:
            return
        async with self._ready_lock:
            if not self._initialized:
                self._migrations.merge(ChatMigrations.from_json(await self._store.load(MIGRATIONS)))
                await self._api.initialize()
                self._initialized = True

    async def _run(self, offset: int | None) -> None:
        delay = 1.0
        while True:
            try:
                await self._ready()
                if self._webhook is None:
                    await self._api.delete_webhook()  # getUpdates is refused while a webhook is set
                break
            except PlatformError as error:
                log.warning("Telegram is not reachable (%s); trying again in %.0f s", error.code, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 60.0)
        if self._webhook is not None:
            url, path = webhook_address(self._webhook.url)
            self._server = WebhookServer(self._webhook.listen, path, self._webhook.secret, self.receive)
            await self._server.start()
            await self._api.set_webhook(url, self._webhook.secret, ALLOWED_UPDATES)
            self._up.set()
            return
        self._poller = Poller(self._api, self.receive, offset, timeout=self._poll_timeout)
        self._up.set()
        await self._poller.run()

    def _after(self, batch: Batch) -> None:
        """Answer button presses at once (Telegram shows a spinner until then); prompts follow, in order."""
        for query_id, text in batch.answers:
            self._spawn(self._answer(query_id, text))
        by_chat: dict[int, list[Followup]] = {}
        for chat_id, followup in batch.followups:
            by_chat.setdefault(chat_id, []).append(followup)
        for chat_id, followups in by_chat.items():
            chain = self._spawn(self._follow(self._chains.get(chat_id), followups))
            self._chains[chat_id] = chain

            def forget(done: asyncio.Task[None], chat: int = chat_id) -> None:
                if self._chains.get(chat) is done:
                    self._chains.pop(chat, None)

            chain.add_done_callback(forget)

    async def _answer(self, query_id: str, text: str | None) -> None:
        try:
            await self._api.answer_callback(query_id, text)
        except PlatformError as error:  # too old after a restart, or a network fault: the press still counts
            log.info("answering a button press failed (%s)", error.code)

    async def _follow(self, previous: asyncio.Task[None] | None, followups: list[Followup]) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        for followup in followups:
            try:
                await followup()
            except PlatformError as error:
                log.warning("a Telegram prompt could not be sent (%s)", error.code)
            except Exception:
                log.exception("a Telegram prompt failed")

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(coroutine)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the Telegram receive loop stopped", exc_info=task.exception())
