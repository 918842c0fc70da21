"""One transaction, with every repository a handler or worker writes through.

    with uow_factory() as uow:
        ref = uow.items.next_reference(ItemKind.ALERT, 2026)
        ...
        uow.commit()
    # leaving without commit() rolls back

After commit() the unit of work may go on: the next statement begins a new transaction, which
is rolled back on exit unless committed too.

Several commands may share one transaction (group commit, bot.inbox): with their INSERTs held
back and sent together (hold_writes, storage.write_behind), or each inside savepoint(), where
one that fails is undone alone and what the repositories cached about the rows it undid is
forgotten.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from types import TracebackType

from sqlalchemy import Connection, Engine

from alerts.clock import Clock
from handlers.ports import AuditLog
from storage.audit.log import savepoint_released
from storage.cursors import SqlCursors
from storage.db import READ_ONLY
from storage.inbox import SqlInbox
from storage.items import SqlItemRepository
from storage.keys.driver import together
from storage.outbox import SqlOutbox
from storage.sealing import ContentSealer
from storage.write_behind import hold_writes, send_held

# An audit factory is given the connection and, when it has a parameter named `sealer`, the
# sealer the unit of work's repositories use: one CaseKeySealer then serves both, so a case key
# made or read for the item is not read again (and unwrapped again) for its audit entry.
AuditFactory = Callable[[Connection], AuditLog] | Callable[..., AuditLog]
# A sealer that keeps state in the database (per-case data keys) is made for each connection.
SealerFactory = Callable[[Connection], ContentSealer]


class SavepointNotReleased(Exception):
    """RELEASE SAVEPOINT failed: the transaction as a whole must be rolled back."""


class SqlUnitOfWork:
    """handlers.ports.UnitOfWork on SQLAlchemy; the repositories exist only inside `with`."""

    items: SqlItemRepository
    outbox: SqlOutbox
    audit: AuditLog
    inbox: SqlInbox
    cursors: SqlCursors

    def __init__(
        self,
        engine: Engine,
        sealer: ContentSealer | SealerFactory,
        audit_factory: AuditFactory,
        clock: Clock,
        *,
        read_only: bool = False,
    ) -> None:
        self._engine = engine
        self._sealer = sealer
        self._audit_factory = audit_factory
        self._clock = clock
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
            sealer = self._live_sealer = _sealer_on(self._sealer, connection)
            self.items = SqlItemRepository(connection, sealer)
            self.outbox = SqlOutbox(connection, sealer, self._clock)
            self.inbox = SqlInbox(connection, sealer, self._clock)
            self.cursors = SqlCursors(connection)
            if _takes_sealer(self._audit_factory):
                self.audit = self._audit_factory(connection, sealer=sealer)
            else:
                self.audit = self._audit_factory(connection)
            # Records are written together when the transaction or a savepoint ends: a command's
            # entries then cost one INSERT and one head update, not two statements each.
            defer = getattr(self.audit, "defer", None)  # storage.audit.log.SqlAuditLog's; a fake's has none
            if defer is not None:
                defer()
        except BaseException:
            connection.close()
            raise
        self._connection = connection
        return self

    def hold_writes(self) -> None:
        """Hold back the INSERTs of this transaction, to be sent together when anything else runs or
        it commits (storage.write_behind); a commit may then raise what a held row ran into."""
        hold_writes(self.connection)

    def commit(self) -> None:
        self._flush_audit()
        # Sent before the commit begins, so that a failure leaves the transaction to roll back.
        send_held(self.connection)
        self.connection.commit()

    def rollback(self) -> None:
        self._discard_audit()
        self.connection.rollback()

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """What runs in the block is kept (RELEASE) or, when it raises, undone alone (ROLLBACK TO),
        and the exception goes on. On SQLite this needs the driver kept out of transaction
        handling, as storage.db does (SQLAlchemy's pysqlite workaround)."""
        connection = self.connection
        self._flush_audit()  # records made before the savepoint are not the savepoint's to undo
        savepoint = connection.begin_nested()
        try:
            yield
            # The block's records are sealed and chained here (failing that fails the block alone),
            # and written with the RELEASE below.
            prepare = getattr(self.audit, "prepare_flush", None)
            write_records = prepare() if prepare is not None else (lambda: None)  # a fake log writes at once
        except BaseException:
            try:
                if savepoint.is_active:
                    savepoint.rollback()
            finally:
                self._forget_cached()
            raise
        try:
            with together(connection):  # the records and the RELEASE: one round trip on PostgreSQL
                write_records()
                savepoint.commit()
        except Exception as error:
            # What the block wrote may or may not be in the transaction now: only rolling back the
            # whole transaction is safe, so this is not the block's failure to handle alone.
            self._forget_cached()
            raise SavepointNotReleased(str(error)) from error
        savepoint_released(connection, savepoint)

    def _flush_audit(self) -> None:
        flush = getattr(self.audit, "flush", None)
        if flush is not None:
            flush()

    def _discard_audit(self) -> None:
        discard = getattr(self.audit, "discard", None)
        if discard is not None:
            discard()

    def _forget_cached(self) -> None:
        # Case keys made in the undone savepoint are gone; a stale one would seal the next
        # command's content (its reference number is handed out again) under a key nobody has.
        keys = getattr(self._live_sealer, "case_keys", None)  # a CaseKeySealer's; a plain sealer has none
        if keys is not None:
            keys.forget()
        forget = getattr(self.audit, "forget_cached", None)  # an audit log with a sealer of its own
        if forget is not None:
            forget()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        self._discard_audit()  # never written: the rollback below would have undone them anyway
        try:
            if connection.get_transaction() is not None:  # a commit that failed leaves one to roll back
                connection.rollback()
        finally:
            connection.close()


class SqlUnitOfWorkFactory:
    """handlers.ports.UnitOfWorkFactory: a new SqlUnitOfWork on each call."""

    def __init__(
        self, engine: Engine, sealer: ContentSealer | SealerFactory, audit_factory: AuditFactory, clock: Clock
    ) -> None:
        self._engine = engine
        self._sealer = sealer
        self._audit_factory = audit_factory
        self._clock = clock

    def __call__(self, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._engine, self._sealer, self._audit_factory, self._clock, read_only=read_only)


def _takes_sealer(factory: AuditFactory) -> bool:
    try:
        return _signature_takes_sealer(factory)
    except TypeError:  # an unhashable factory: read its signature every time
        return _signature_takes_sealer.__wrapped__(factory)


@lru_cache(maxsize=64)
def _signature_takes_sealer(factory: AuditFactory) -> bool:
    try:
        return "sealer" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # no signature to read: the plain form
        return False


def _sealer_on(sealer: ContentSealer | SealerFactory, connection: Connection) -> ContentSealer:
    """A ContentSealer is used as it is; anything else is a factory, given the connection."""
    if callable(getattr(sealer, "seal", None)):
        return sealer  # type: ignore[return-value]
    return sealer(connection)  # type: ignore[operator]
