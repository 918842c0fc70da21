"""The composition root: the one place that builds the object graph from the settings."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Callable, Sequence, TextIO

from sqlalchemy import Connection, Engine

from alerts.caveats import Tlp
from alerts.clock import Clock
from alerts.identity import ChatRef, Platform, UserRef
from alerts.roles import Role
from alerts.routing import Destination
from alerts.messages import InboundMessage, MessageKind, OutboundMessage
from bot.runtime.clock import SystemClock
from bot.config.settings import Settings
from bot.connectors.base import Connector, ReceivingConnector
from bot.connectors.console import ConsoleConnector
from bot.runtime.dbthread import DatabaseThread, read
from bot.runtime.delivery import DeliveryWorker, Operation, RetryPolicy
from bot.runtime.inbox import InboxProcessor
from bot.runtime.keys import ensure_keyring
from bot.actions.devices import DeviceActions
from bot.actions.membership import ConsoleRoomAdmin, RoomActions
from bot.actions.removal import remove
from bot.actions.supersede import supersede
from bot.scheduling.retention import RetentionSweeper
from bot.ops.witness_room import room_witness
from bot.runtime.admins import admin_destinations
from handlers.answer_place import messages_about
from handlers.correction import late_copy
from handlers.dispatcher import Dispatcher
from handlers.ports import ItemRecord
from handlers.portal import PortalPolicy
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from handlers.withdrawal import withdrawn_copy, withdrawn_line
from storage.audit.checkpoints import Checkpointer
from storage.audit.log import SqlAuditLog
from bot.runtime.engine import engine_for
from storage.directory import DatabaseDirectory
from storage.keyring import Keyring
from storage.migrate import upgrade
from storage.sealing import CaseKeySealer
from storage.uow import SqlUnitOfWork, SqlUnitOfWorkFactory

log = logging.getLogger(__name__)


AWAIT_LOOKAHEAD = 50  # unhandled inbox messages looked through for the sender's own (see awaits_body)
INBOX_ROUND = 100  # messages handled per inbox round (in batches); a full round is followed by another at once


def new_key() -> str:
    """An idempotency key: random, made once when a row is created, never at send time. 32 hex
    digits as uuid4().hex gave, from os.urandom at a quarter of uuid4's cost (a few per alert)."""
    return os.urandom(16).hex()


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
    room_actions: RoomActions  # membership actions, per platform (add a connector's RoomAdmin to it)
    device_actions: DeviceActions  # /device, once a connector attaches its device trust (Matrix)
    # Outbox rows that are platform actions, by kind, and the Operation that carries each out.
    actions: dict[MessageKind, Operation]
    retention: RetentionSweeper | None = None
    keyring: Keyring | None = None  # the web portal opens an item's audit trail with it
    posting_policy: PostingPolicy | None = None  # as the dispatcher has it; the web portal's actions too
    vocabulary: Vocabulary | None = None  # as the dispatcher parses with; the web portal's forms too
    # The web portal's address once it is served (bot.runtime.serve sets it), for /portal's links.
    portal_url: str | None = None
    _inbox_wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def submit(self, message: InboundMessage) -> None:
        """Record a message durably, handle it, and deliver what it produced (the console's path)."""
        await self.db.run(self.inbox.record, message)
        await self.settle()

    async def ingest(self, messages: Sequence[InboundMessage], cursor: tuple[str, str] | None = None) -> None:
        """bot.connectors.base.Ingest: inbox rows and the cursor in one transaction, then handling."""
        await self.db.run(self._record_batch, list(messages), cursor)
        if messages:  # a sync that brought nothing (the bot's own sends echoed back) costs no inbox round
            self._inbox_wake.set()

    def _record_batch(self, messages: list[InboundMessage], cursor: tuple[str, str] | None) -> None:
        with self.uow_factory() as uow:
            uow.inbox.record_many(messages)
            if cursor is not None:
                uow.cursors.set(*cursor)
            uow.commit()

    async def awaits_body(self, sender: UserRef, chat: ChatRef) -> bool:
        """Whether the sender's next message in the chat may be the text of a command (or tell them its
        wait lapsed) or an answer to their guided form, so a connector records it although it is no
        command: a command of theirs awaits its text there, a form of theirs is open there, or one of
        their messages there is not handled yet (it may be such a command)."""
        def look(uow: SqlUnitOfWork) -> bool:
            if any(waiting is not None for waiting in uow.conversations.waiting(sender, chat)):
                return True
            return any(m.sender == sender and m.chat == chat for m in uow.inbox.pending(AWAIT_LOOKAHEAD))

        return await read(self, look)

    def cursor(self, name: str) -> str | None:
        with self.uow_factory(read_only=True) as uow:
            return uow.cursors.get(name)

    async def run_inbox(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        """Handle what connectors recorded, as soon as they say so, and on a timer as a safety net."""
        while not stop.is_set():
            # Cleared before handling, so a message recorded meanwhile wakes the next round; a round
            # that emptied the inbox is not followed by another that finds nothing, which would run
            # on the database thread ahead of the worker leasing what this one produced.
            self._inbox_wake.clear()
            try:
                handled = await self.db.run(self.inbox.process_pending, INBOX_ROUND)
                if handled:
                    self.worker.wake()
                if handled >= INBOX_ROUND:
                    continue  # a backlog: more may be pending
            except Exception:
                log.exception("inbox round failed")
                self._inbox_wake.clear()  # a failing database is tried again after `idle`, not at once
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
    keyring = ensure_keyring(settings.keys.path, notice, engine)  # refuses a missing or wrong key file

    def sealing(connection: Connection) -> tuple[CaseKeySealer, SqlAuditLog]:
        sealer = CaseKeySealer(connection, keyring, clock)
        return sealer, SqlAuditLog(connection, keyring, clock, sealer=sealer)

    directory = DatabaseDirectory(engine, default_zone=settings.bot.default_timezone)
    # Units of work ask at their start whether device actions can be carried out: a connector attaches
    # its device trust after this (the Matrix wiring).
    uow_factory = SqlUnitOfWorkFactory(engine, sealing, clock, directory=directory,
                                       devices=lambda: device_actions.attached)
    directory.seed(settings.directory())  # the config wins for what it names; see storage/directory.py
    vocabulary = vocabulary_for(settings)
    connectors: dict[Platform, Connector] = {}
    served: list[Runtime] = []  # the runtime made below, for /portal to ask where the portal is
    portal = PortalPolicy(lambda: served[0].portal_url if served else None, settings.portal.link_lifetime) \
        if settings.portal.enabled else None
    # The platforms with a connector, as a live view: connectors are added after this (add_receiver).
    posting_policy = PostingPolicy(settings.due_policy(), routing=settings.routing_policy(),
                                   platforms=connectors.keys(), count_minimum=settings.reminders.count_minimum,
                                   portal=portal, release=settings.release.policy(),
                                   attachments=settings.attachments.policy())
    dispatcher = Dispatcher(directory, posting_policy, lambda: vocabulary, new_key,
                            body_wait=timedelta(minutes=settings.bot.body_wait_minutes))
    if settings.console.enabled:
        connectors[Platform.CONSOLE] = ConsoleConnector(directory, out)
    encrypted_only = settings.routing_policy().encrypted_only
    retry = RetryPolicy(
        max_attempts=settings.delivery.max_attempts,
        base=timedelta(seconds=settings.delivery.retry_base_seconds),
        cap=timedelta(seconds=settings.delivery.retry_max_seconds),
    )
    db = DatabaseThread()
    attempts = settings.delivery.max_attempts
    # Outbox rows that are platform actions rather than texts, by kind: the delivery worker hands each
    # to its Operation instead of to the connector's send(), and sets aside one of a kind missing here
    # (alerts.messages.PLATFORM_ACTIONS). Connectors added later bring their platform's part
    # (room_actions.add, device_actions.attach, or just being in `connectors`); each Operation finds it
    # when it carries out a row.
    room_actions = RoomActions(db, uow_factory,
                               {Platform.CONSOLE: ConsoleRoomAdmin(out)} if settings.console.enabled else {},
                               clock, max_attempts=attempts)
    device_actions = DeviceActions(db, uow_factory, clock, max_attempts=attempts)
    actions: dict[MessageKind, Operation] = {
        MessageKind.MEMBERSHIP: room_actions.carry_out,
        MessageKind.DEVICE: device_actions.carry_out,
        # TLP:RED typed in a shared chat, or a withdrawn copy, taken out through the platform's room admin.
        MessageKind.REMOVAL: partial(remove, db, uow_factory, room_actions.admin, clock, attempts),
        # A corrected item's earlier copies are edited to say so, through their platform's connector.
        MessageKind.SUPERSEDE: partial(supersede, db, uow_factory, connectors.get, attempts),
    }
    checkpointer = Checkpointer(
        keyring,
        settings.audit.witness_path,
        every_entries=settings.audit.checkpoint_every,
        every=timedelta(minutes=settings.audit.checkpoint_minutes),
        # The runtime made below knows the admins' places; the hook runs only once it is made.
        hook=room_witness(uow_factory, settings.audit.witness_room, connectors.keys(),
                          lambda: admin_destinations(served[0]) if served else ())
        if settings.audit.witness_room else None,
    )
    runtime = Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        db=db,
        uow_factory=uow_factory,
        directory=directory,
        inbox=InboxProcessor(uow_factory, dispatcher, new_key),
        worker=DeliveryWorker(db, uow_factory, connectors, clock,
                              new_key, retry, coordinators=coordinator_chats(directory, connectors),
                              tell_originator=originator_rows(directory, connectors, encrypted_only, new_key),
                              tell_coordinators=coordinator_rows(directory, connectors, encrypted_only, new_key),
                              withdrawn_copy=lambda record, delivery: withdrawn_copy(
                                  record, delivery, directory.current(), clock.now()),
                              late_copy=lambda record, revision, delivery, banner, protect: late_copy(
                                  record, revision, delivery, banner, protect, directory.current(), clock.now()),
                              withdrawn_line=lambda record, line: withdrawn_line(
                                  record, line, directory.current(), clock.now()),
                              actions=actions),
        connectors=connectors,
        checkpointer=checkpointer,
        receivers={},
        room_actions=room_actions,
        device_actions=device_actions,
        actions=actions,
        retention=(RetentionSweeper(engine, keyring, timedelta(days=settings.audit.retention_days))
                   if settings.audit.retention_days else None),
        keyring=keyring,
        posting_policy=posting_policy,
        vocabulary=vocabulary,
    )
    served.append(runtime)
    return runtime


def coordinator_chats(directory: DatabaseDirectory, connectors: dict[Platform, Connector]
                      ) -> Callable[[], list[Destination]]:
    """Where coordinators are told of failed deliveries: each one's direct chat on a connected platform."""

    def chats() -> list[Destination]:
        found: list[Destination] = []
        for contact in directory.current().with_role(Role.COORDINATOR):
            identity = next((i for i in contact.identities if i.platform in connectors), None)
            if identity is not None:
                found.append(Destination.direct(identity))
        return found

    return chats


def originator_rows(directory: DatabaseDirectory, connectors: dict[Platform, Connector], encrypted_only: frozenset[Tlp],
                    new_key: Callable[[], str]) -> Callable[[ItemRecord, str], list[OutboundMessage]]:
    """How the delivery worker tells an item's originator something about it: where the item's caveat
    lets a message about it go, on a connected platform (handlers.answer_place.messages_about)."""

    def rows(record: ItemRecord, text: str) -> list[OutboundMessage]:
        item = record.item
        return messages_about(directory.current(), item.originator, item.caveat, str(item.reference), text, new_key,
                              encrypted_only=encrypted_only, platforms=connectors.keys())

    return rows


def coordinator_rows(directory: DatabaseDirectory, connectors: dict[Platform, Connector],
                     encrypted_only: frozenset[Tlp], new_key: Callable[[], str]
                     ) -> Callable[[ItemRecord, str], list[OutboundMessage]]:
    """How the delivery worker tells the coordinators something about an item: as originator_rows, for
    each coordinator with an account on a connected platform."""

    def rows(record: ItemRecord, text: str) -> list[OutboundMessage]:
        item, current = record.item, directory.current()
        found: list[OutboundMessage] = []
        for contact in current.with_role(Role.COORDINATOR):
            if any(i.platform in connectors for i in contact.identities):
                found += [m for m in messages_about(current, contact.id, item.caveat, str(item.reference), text,
                                                    new_key, encrypted_only=encrypted_only, platforms=connectors.keys())
                          if m.destination.platform in connectors]
        return found

    return rows


def add_receiver(runtime: Runtime, connector: ReceivingConnector) -> None:
    """Register a platform connector that both sends and receives (Matrix, Telegram)."""
    runtime.connectors[connector.platform] = connector
    runtime.receivers[connector.platform] = connector
