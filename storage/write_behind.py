"""Write-behind: the INSERTs of a transaction that need no answer, held back and sent together.

A batch of commands (bot.inbox) writes a dozen rows per command, each a statement of its own; most
of them (an item, its deliveries, its outbox rows, its case key) need no answer from the
database. Once a transaction holds its writes (hold_writes), storage.keys.driver.insert_many keeps
such rows in memory, and they are sent, grouped by statement in the order each statement was first
used, the moment anything else runs on the connection: a read, an UPDATE, a savepoint, the commit.
So every statement still sees every row written before it, and fifty commands' items cost one
executemany (in one pipeline with the rest on PostgreSQL), not fifty statements. The holding ends with the transaction; a rollback drops what is held.

Grouping changes the order of rows of different tables, never of one table's: a table is sent
before another when it was written first, which keeps foreign keys (an item before its
deliveries) satisfied. Only plain INSERTs of new rows are held, so order between tables cannot
change what they mean.

What a writer counts on may be checked only when the rows are sent: an insert marked `all_new`
(ON CONFLICT DO NOTHING, where the writer assumed no row was there) raises HeldWriteConflict when
fewer rows went in. The transaction must then be rolled back and done again without holding.
"""

from __future__ import annotations

import weakref
from collections.abc import Hashable, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, event

from storage.keys.driver import HELD_WRITES, insert_many_now, results_in, submit, together

__all__ = ["HeldWriteConflict", "HeldWrites", "drop_held", "hold_writes", "held_writes", "send_held"]


class HeldWriteConflict(Exception):
    """An insert held back as certainly new met a row that was there: done again, it must not be held."""


class HeldWrites:
    """What one transaction holds back; found in its connection's info under HELD_WRITES."""

    def __init__(self, transaction: object) -> None:
        self._transaction = weakref.ref(transaction)
        self._rows: dict[str, list[Sequence[Any]]] = {}  # by statement, in the order first used
        self._all_new: set[str] = set()
        self._last: dict[Hashable, tuple[str, Sequence[Any]]] = {}  # statements where the last one counts
        self.memo: dict[Hashable, Any] = {}  # what repositories remember for the rest of the transaction

    def belongs_to(self, connection: Connection) -> bool:
        transaction = connection.get_transaction()
        return transaction is not None and transaction is self._transaction() and transaction.is_active

    def insert(self, sql: str, rows: Sequence[Sequence[Any]], *, all_new: bool = False) -> None:
        self._rows.setdefault(sql, []).extend(rows)
        if all_new:
            self._all_new.add(sql)

    def last(self, key: Hashable, sql: str, params: Sequence[Any]) -> None:
        """`sql` runs once when the rows are sent, with the last params given under `key` (a
        counter's final value, say), after the held rows."""
        self._last[key] = (sql, params)

    def __bool__(self) -> bool:
        return bool(self._rows or self._last)

    def send(self, connection: Connection) -> None:
        """Run what is held, in one round trip on PostgreSQL; then check what the writers counted on."""
        if not self.belongs_to(connection):  # left by a transaction that ended without telling us
            connection.info.pop(HELD_WRITES, None)
            return
        if not self:
            return
        rows, self._rows = self._rows, {}
        all_new, self._all_new = self._all_new, set()
        last, self._last = self._last, {}
        counted: list[tuple[str, int, list[Any]]] = []
        with together(connection):
            for sql, group in rows.items():
                cursors = insert_many_now(connection, sql, group)
                if sql in all_new:
                    counted.append((sql, len(group), cursors))
                else:
                    _close(cursors)
            for sql, params in last.values():
                submit(connection, sql, params).close()
        if counted:
            results_in(connection)  # when sent inside a caller's `together`, which ends later
        for sql, expected, cursors in counted:
            inserted = sum(max(0, cursor.rowcount) for cursor in cursors)
            _close(cursors)
            if inserted != expected:
                raise HeldWriteConflict(f"{expected - inserted} of {expected} held rows were there already "
                                        f"({sql.split('(')[0].strip()})")


def _close(cursors: list[Any]) -> None:
    for cursor in cursors:
        cursor.close()


def hold_writes(connection: Connection) -> HeldWrites:
    """Hold back the INSERTs of the connection's transaction (begun now if none is) until it ends or
    something else runs on it."""
    if not connection.in_transaction():
        connection.begin()
    _listen(connection.engine)
    held = held_writes(connection)
    if held is None:
        held = connection.info[HELD_WRITES] = HeldWrites(connection.get_transaction())
    return held


def held_writes(connection: Connection) -> HeldWrites | None:
    """What the connection's transaction holds back, or None when it does not hold writes."""
    held = connection.info.get(HELD_WRITES)
    if held is None:
        return None
    if not held.belongs_to(connection):  # left by a transaction that ended without telling us
        connection.info.pop(HELD_WRITES, None)
        return None
    return held


def send_held(connection: Connection) -> None:
    held = connection.info.get(HELD_WRITES)
    if held:
        held.send(connection)  # which drops what a transaction that ended left behind


def drop_held(connection: Connection) -> None:
    connection.info.pop(HELD_WRITES, None)


_LISTENING: weakref.WeakSet[Engine] = weakref.WeakSet()


def _listen(engine: Engine) -> None:
    """Whatever else runs on a connection, SQLAlchemy's statements and the commit included, sends
    what is held first (storage.keys.driver's own statements do it themselves); a rollback drops it."""
    if engine in _LISTENING:
        return
    _LISTENING.add(engine)
    event.listen(engine, "before_cursor_execute", _before_statement)
    event.listen(engine, "commit", _before_commit)
    event.listen(engine, "rollback", drop_held)
    event.listen(engine, "rollback_savepoint", _savepoint_undone)


def _before_statement(connection: Connection, *_args: Any) -> None:
    if HELD_WRITES in connection.info:
        send_held(connection)


def _before_commit(connection: Connection) -> None:
    """For a commit that did not send what is held first (SqlUnitOfWork.commit does). Should sending
    fail here, the database transaction is rolled back before the error goes on: SQLAlchemy treats a
    failed commit as the end of the transaction and may hand the connection on without a rollback."""
    try:
        send_held(connection)
    except BaseException:
        connection.connection.dbapi_connection.rollback()
        raise
    finally:
        drop_held(connection)


def _savepoint_undone(connection: Connection, *_args: Any) -> None:
    # What was remembered (a counter's last value) may have been undone with the savepoint.
    held = held_writes(connection)
    if held is not None:
        held.memo.clear()
