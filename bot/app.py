"""The composition root: the one place that builds the object graph from the settings."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Sequence, TextIO

from sqlalchemy import Connection, Engine

from alerts.clock import Clock
from alerts.identity import Platform
from alerts.roles import Role
from alerts.routing import Destination
from alerts.messages import InboundMessage
from bot.clock import SystemClock
from bot.config import Settings
from bot.connectors.base import Connector, ReceivingConnector
from bot.connectors.console import ConsoleConnector
from bot.dbthread import DatabaseThread
from bot.delivery import DeliveryWorker, RetryPolicy
from bot.inbox import InboxProcessor
from bot.health import start_health_server
from bot.keys import ensure_keyring
from bot.leadership import leadership_for
from bot.retention import RetentionSweeper
from bot.scheduler import start_scheduler
from bot.witness_room import room_witness
from handlers.dispatcher import Dispatcher
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from storage.audit.checkpoints import Checkpointer
from storage.audit.log import SqlAuditLog
from bot.engine import engine_for
from storage.directory import DatabaseDirectory
from storage.migrate import upgrade
from storage.sealing import CaseKeySealer
from storage.reminders import ReminderUnitOfWorkFactory
from storage.uow import SqlUnitOfWorkFactory

log = logging.getLogger(__name__)


def new_key() -> str:
    """An idempotency key: random, made once when a row is created, never at send time."""
    return uuid.uuid4().hex


def vocabulary_for(settings: Settings) -> Vocabulary:
    directory = settings.directory()
    return Vocabulary(
        topics=tuple(settings.network.topics),
        organisations=frozenset(directory.organisations),
        desks={code: org.desks for code, org in directory.organisations.items() if org.desks},
        bot_username=settings.telegram.bot_username,
    )


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    engine: Engine
    db: DatabaseThread
    uow_factory: SqlUnitOfWorkFactory
    directory: DatabaseDirectory
    inbox: InboxProcessor
    worker: DeliveryWorker
    connectors: dict[Platform, Connector]
    checkpointer: Checkpointer
    receivers: dict[Platform, ReceivingConnector]
    retention: RetentionSweeper | None = None
    _inbox_wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def submit(self, message: InboundMessage) -> None:
        """Record a message durably, handle it, and deliver what it produced (the console's path)."""
        await self.db.run(self.inbox.record, message)
        await self.settle()

    async def ingest(self, messages: Sequence[InboundMessage], cursor: tuple[str, str] | None = None) -> None:
        """bot.connectors.base.Ingest: inbox rows and the cursor in one transaction, then handling."""
        await self.db.run(self._record_batch, list(messages), cursor)
        self._inbox_wake.set()

    def _record_batch(self, messages: list[InboundMessage], cursor: tuple[str, str] | None) -> None:
        with self.uow_factory() as uow:
            for message in messages:
                uow.inbox.record(message)
            if cursor is not None:
                uow.cursors.set(*cursor)
            uow.commit()

    def cursor(self, name: str) -> str | None:
        with self.uow_factory(read_only=True) as uow:
            return uow.cursors.get(name)

    async def run_inbox(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Handle what connectors recorded, as soon as they say so, and on a timer as a safety net."""
        while not stop.is_set():
            try:
                if await self.db.run(self.inbox.process_pending):
                    self.worker.wake()
                    continue
            except Exception:
                log.exception("inbox round failed")
            self._inbox_wake.clear()
            try:
                await asyncio.wait_for(self._inbox_wake.wait(), timeout=idle)
            except asyncio.TimeoutError:
                pass

    async def settle(self) -> None:
        while await self.db.run(self.inbox.process_pending):
            pass
        await self.worker.settle()
        await self.db.run(self.checkpointer.run, self.engine, self.clock.now())

    async def close(self) -> None:
        # A checkpoint at shutdown: entries written since the last one are witnessed before we stop.
        await self.db.run(lambda: self.checkpointer.run(self.engine, self.clock.now(), force=True))
        self.db.close()
        self.engine.dispose()


def build_runtime(settings: Settings, out: TextIO = sys.stdout, clock: Clock | None = None,
                  notice: TextIO = sys.stderr) -> Runtime:
    clock = clock or SystemClock()
    engine = engine_for(settings)
    upgrade(engine)
    keyring = ensure_keyring(settings.keys.path, notice)

    def audit_factory(connection: Connection, sealer: CaseKeySealer) -> SqlAuditLog:
        return SqlAuditLog(connection, keyring, clock, sealer=sealer)  # the unit of work's sealer

    def sealer_factory(connection: Connection) -> CaseKeySealer:
        return CaseKeySealer(connection, keyring, clock)

    # The reminders' repository rides on the same unit of work (uow.reminders).
    uow_factory = ReminderUnitOfWorkFactory(engine, sealer_factory, audit_factory, clock)
    directory = DatabaseDirectory(engine)
    directory.seed(settings.directory())  # the config wins for what it names; see storage/directory.py
    vocabulary = vocabulary_for(settings)
    dispatcher = Dispatcher(
        directory,
        PostingPolicy(settings.due_policy(), routing=settings.routing_policy()),
        lambda: vocabulary,
        new_key,
    )
    connectors: dict[Platform, Connector] = {}
    if settings.console.enabled:
        connectors[Platform.CONSOLE] = ConsoleConnector(directory, out)
    retry = RetryPolicy(
        max_attempts=settings.delivery.max_attempts,
        base=timedelta(seconds=settings.delivery.retry_base_seconds),
        cap=timedelta(seconds=settings.delivery.retry_max_seconds),
    )
    db = DatabaseThread()
    checkpointer = Checkpointer(
        keyring,
        settings.audit.witness_path,
        every_entries=settings.audit.checkpoint_every,
        every=timedelta(minutes=settings.audit.checkpoint_minutes),
        hook=room_witness(uow_factory, settings.audit.witness_room) if settings.audit.witness_room else None,
    )
    return Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        db=db,
        uow_factory=uow_factory,
        directory=directory,
        inbox=InboxProcessor(uow_factory, dispatcher, new_key),
        worker=DeliveryWorker(db, uow_factory, connectors, clock, new_key, retry,
                              coordinators=coordinator_chats(directory, connectors)),
        connectors=connectors,
        checkpointer=checkpointer,
        receivers={},
        retention=(RetentionSweeper(engine, keyring, timedelta(days=settings.audit.retention_days))
                   if settings.audit.retention_days else None),
    )


def coordinator_chats(directory: DatabaseDirectory, connectors: dict[Platform, Connector]):  # noqa: ANN201
    """Where coordinators are told of failed deliveries: each one's direct chat on a connected platform."""

    def chats() -> list[Destination]:
        found = []
        for contact in directory.current().with_role(Role.COORDINATOR):
            identity = next((i for i in contact.identities if i.platform in connectors), None)
            if identity is not None:
                found.append(Destination.direct(identity))
        return found

    return chats


def add_receiver(runtime: Runtime, connector: ReceivingConnector) -> None:
    """Register a platform connector that both sends and receives (Matrix, Telegram)."""
    runtime.connectors[connector.platform] = connector
    runtime.receivers[connector.platform] = connector


async def serve(runtime: Runtime, console_session=None, *, instance_lock: bool = True,
                outlive_console: bool = False) -> bool:  # noqa: ANN001
    """Run until the console ends or the process is told to stop; stand by while another instance is active.

    With `outlive_console` the platforms run on after the console session ends (a service whose stdin
    is /dev/null still serves Matrix and Telegram) until a signal stops the process.

    Returns True when this instance lost the instance lock: the caller exits non-zero and the service
    manager starts it again, as a standby.
    """
    stopping = _stop_on_signals()
    leader = leadership_for(runtime.settings, runtime.engine, runtime.clock, enabled=instance_lock)
    health = await start_health_server(runtime, runtime.settings.health, leader=leader)
    try:
        if not await leader.wait_until_active(stopping):
            return False
        await _run_active(runtime, console_session, stopping, leader, health, outlive_console)
        return leader.lost.is_set()
    finally:
        await leader.release()
        if health is not None:
            await health.close()
        await runtime.close()


async def _run_active(runtime: Runtime, console_session, stopping: asyncio.Event, leader, health,  # noqa: ANN001
                      outlive_console: bool) -> None:
    stop = asyncio.Event()
    await runtime.settle()  # whatever a crash left in the inbox or outbox goes first
    scheduler = await start_scheduler(runtime)  # reconciled from the items; None when disabled
    if health is not None:
        health.state.scheduler = scheduler
    tasks = [
        asyncio.create_task(runtime.worker.run(stop)),
        asyncio.create_task(runtime.run_inbox(stop)),
        asyncio.create_task(_checkpoint_regularly(runtime, stop)),
    ]
    try:
        for platform, receiver in runtime.receivers.items():
            cursor = await runtime.db.run(runtime.cursor, f"{platform.value}.cursor")
            await receiver.start(runtime.ingest, cursor)
        if console_session is not None:
            await _first(console_session.run(), stopping.wait(), leader.lost.wait())
        if console_session is None or outlive_console:
            await _first(stopping.wait(), leader.lost.wait())
    finally:
        stop.set()
        if leader.lost.is_set():
            for task in tasks:
                task.cancel()  # demoted: another instance is sending now, so stop at once
        for receiver in runtime.receivers.values():
            await receiver.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        if scheduler is not None:
            await scheduler.stop()


async def _first(*waits) -> None:  # noqa: ANN002
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


async def _checkpoint_regularly(runtime: Runtime, stop: asyncio.Event, every: float = 30.0) -> None:
    """The checkpointer decides whether one is due (N entries or T minutes); this only asks it often."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), timeout=every)
        except asyncio.TimeoutError:
            pass
        try:
            await runtime.db.run(runtime.checkpointer.run, runtime.engine, runtime.clock.now())
            if runtime.retention is not None:
                await runtime.db.run(runtime.retention.run_if_due, runtime.clock.now())
        except Exception:
            log.exception("audit maintenance failed")


def _stop_on_signals() -> asyncio.Event:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    return stopping
