"""handlers.ports.UnitOfWork on SQLAlchemy: one transaction, with every repository on its connection.

    with uow_factory() as uow:
        ref = uow.items.next_reference(ItemKind.ALERT, 2026)
        ...
        uow.commit()
    # leaving without commit() rolls back

After commit() the unit of work may go on: the next statement begins a new transaction, which
is rolled back on exit unless committed too. Several commands may share one transaction, each
inside savepoint() (bot.runtime.inbox): one that fails is undone alone, and what the sealer cached about
the rows it undid (case keys) is forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import TracebackType
from typing import Protocol

from sqlalchemy import Connection, Engine

from alerts.clock import Clock
from alerts.devices import DeviceAction, device_message
from handlers.ports import AuditLog
from storage.absences import SqlAbsences
from storage.conversations import SqlConversations
from storage.cursors import SqlCursors
from storage.db import READ_ONLY
from storage.directory import DatabaseDirectory, SqlArrangements, SqlDirectoryWriter
from storage.inbox import SqlInbox
from storage.items import SqlItemRepository
from storage.outbox import SqlOutbox
from storage.portal import SqlPortalAccess
from storage.releases import SqlReleases
from storage.reminders import SqlReminders
from storage.roster import SqlMembershipGateway, SqlRoomRoster
from storage.sealing import ContentSealer

class HeldAuditLog(AuditLog, Protocol):
    def held(self) -> AbstractContextManager[None]:
        """Entries recorded in the block are written as it ends, inside it; dropped if it raises."""
        ...


# What a unit of work seals with and audits into, made for its connection. One sealer serves the
# repositories and the audit log, so a case key made or read for an item is not read again (and
# unwrapped again) for its audit entry.
SealingFactory = Callable[[Connection], tuple[ContentSealer, HeldAuditLog]]


class SavepointNotReleased(Exception):
    """RELEASE SAVEPOINT failed: the transaction as a whole must be rolled back."""


class SqlDeviceDesk:
    """handlers.ports.DeviceDesk: a device action becomes an outbox row of kind DEVICE in the
    caller's transaction; bot/actions/devices.py carries it out after the commit."""

    def __init__(self, outbox: SqlOutbox) -> None:
        self._outbox = outbox

    def plan(self, action: DeviceAction) -> None:
        self._outbox.enqueue(device_message(action))


class SqlUnitOfWork:
    """handlers.ports.UnitOfWork; the repositories exist only inside `with`."""

    items: SqlItemRepository
    outbox: SqlOutbox
    audit: HeldAuditLog
    inbox: SqlInbox
    cursors: SqlCursors
    conversations: SqlConversations
    reminders: SqlReminders
    directory_writer: SqlDirectoryWriter
    arrangements: SqlArrangements
    membership: SqlMembershipGateway
    roster: SqlRoomRoster
    devices: SqlDeviceDesk | None
    portal: SqlPortalAccess
    absences: SqlAbsences

    def __init__(self, engine: Engine, sealing: SealingFactory, clock: Clock, directory: DatabaseDirectory,
                 devices: Callable[[], bool], *, read_only: bool = False) -> None:
        self._engine = engine
        self._sealing = sealing
        self._clock = clock
        self._directory = directory
        self._devices = devices
        self._read_only = read_only
        self._connection: Connection | None = None

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is used outside its `with` block")
        return self._connection

    def __enter__(self) -> SqlUnitOfWork:
        if self._connection is not None:
            raise RuntimeError("a unit of work is entered once")
        connection = self._engine.connect()
        if self._read_only:
            # On SQLite a reader need not take the write lock; see storage.db.
            connection.execution_options(**READ_ONLY)
        try:
            connection.begin()
            self._sealer, self.audit = self._sealing(connection)
            self.items = SqlItemRepository(connection, self._sealer)
            self.outbox = SqlOutbox(connection, self._sealer, self._clock)
            self.releases = SqlReleases(connection, self._sealer)
            self.inbox = SqlInbox(connection, self._sealer, self._clock)
            self.cursors = SqlCursors(connection)
            self.conversations = SqlConversations(connection, self._sealer)
            self.reminders = SqlReminders(connection)
            self.directory_writer = SqlDirectoryWriter(connection)
            self.arrangements = SqlArrangements(connection)
            self.roster = SqlRoomRoster(connection)
            self.membership = SqlMembershipGateway(connection, self.outbox, self.roster)
            self.devices = SqlDeviceDesk(self.outbox) if self._devices() else None
            self.portal = SqlPortalAccess(connection)
            self.absences = SqlAbsences(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return self

    def commit(self) -> None:
        self.connection.commit()
        if self.directory_writer.changed or self.arrangements.changed:
            self.directory_writer.changed = self.arrangements.changed = False
            self._directory.refresh()  # every later command resolves against the changed directory

    @contextmanager
    def savepoint(self, *, alone: bool = False) -> Iterator[None]:
        """What runs in the block is kept (RELEASE) or, when it raises, undone alone (ROLLBACK TO),
        and the exception goes on. `alone` (the block is all the transaction writes): no SAVEPOINT and
        RELEASE, two round trips fewer; a block that raises rolls the transaction back, and the next
        statement begins a new one."""
        if alone:
            try:
                with self.audit.held():
                    yield
            except BaseException:
                try:
                    self.connection.rollback()
                finally:
                    self._sealer.forget()  # as below: a case key made in the undone block is gone
                raise
            return
        savepoint = self.connection.begin_nested()
        try:
            with self.audit.held():  # the block's audit entries in one append, before the release
                yield
        except BaseException:
            try:
                if savepoint.is_active:
                    savepoint.rollback()
            finally:
                # A case key made in the undone block is gone; a stale one would seal the next
                # command's content (its reference number is handed out again) under a key nobody has.
                self._sealer.forget()
            raise
        try:
            savepoint.commit()
        except Exception as error:
            # What the block wrote may or may not be in the transaction now: only rolling back the
            # whole transaction is safe, so this is not the block's failure to handle alone.
            self._sealer.forget()
            raise SavepointNotReleased(str(error)) from error

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if connection.get_transaction() is not None:  # a commit that failed leaves one to roll back
                connection.rollback()
        finally:
            connection.close()


class SqlUnitOfWorkFactory:
    """handlers.ports.UnitOfWorkFactory: a new SqlUnitOfWork on each call.

    `directory` is reloaded after a commit that changed it; `devices` says whether device actions
    have someone to carry them out (a Matrix connector), asked as each unit of work begins."""

    def __init__(self, engine: Engine, sealing: SealingFactory, clock: Clock, *,
                 directory: DatabaseDirectory | None = None, devices: Callable[[], bool] = lambda: False) -> None:
        self._engine = engine
        self._sealing = sealing
        self._clock = clock
        self.directory = directory if directory is not None else DatabaseDirectory(engine)
        self._devices = devices

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine, self._sealing, self._clock, self.directory, self._devices,
                             read_only=read_only)
