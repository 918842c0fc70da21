"""Driver-level SQL for the statements on the hot path of every exchange.

Through SQLAlchemy's execution machinery a statement costs tens of microseconds on the machines we
run on (building it, its cache key, the execution context, the result), through the driver's own
cursor a few. An alert runs a dozen such statements (its item, deliveries, outbox rows, case key,
reference number and audit entries), so these helpers run them on the caller's connection, inside
its transaction, with SQL written with `?` placeholders (translated once for drivers that use
`%s`, psycopg), values bound as SQLAlchemy would bind them for their columns (Binder), and driver
errors raised as SQLAlchemy's (a lost PostgreSQL connection invalidates the pool, and callers that
catch sqlalchemy.exc.OperationalError still do).

On PostgreSQL each statement is a round trip to the server; `together` sends a few in one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import lru_cache
from typing import Any

from sqlalchemy import Column, Connection


@lru_cache(maxsize=256)
def _for_paramstyle(sql: str, paramstyle: str) -> str:
    return sql if paramstyle == "qmark" else sql.replace("?", "%s")


# Where a transaction's held-back INSERTs wait (storage.write_behind), in Connection.info.
HELD_WRITES = "liaison.held_writes"


def driver_cursor(connection: Connection) -> Any:
    """A DBAPI cursor inside the connection's transaction (begun now if none is: a bare cursor on
    SQLite would run in autocommit and escape the caller's transaction). Rows held back by
    storage.write_behind are sent first: the statement to come must see them."""
    if not connection.in_transaction():
        connection.begin()
    held = connection.info.get(HELD_WRITES)
    if held:
        held.send(connection)
    return connection.connection.cursor()


def _raise(connection: Connection, error: Exception, sql: str | None, params: Any, cursor: Any) -> None:
    """Raise a driver error as SQLAlchemy would have (wrapped, the pool told of a lost connection)."""
    if isinstance(error, connection.dialect.loaded_dbapi.Error):
        connection._handle_dbapi_exception(error, sql, params, cursor, None)  # noqa: SLF001 - raises
    raise error


def run(cursor: Any, connection: Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """Execute `sql` on `cursor`; returns the cursor, to fetch from."""
    statement = _for_paramstyle(sql, connection.dialect.paramstyle)
    try:
        cursor.execute(statement, params)
    except Exception as error:
        _raise(connection, error, statement, params, cursor)
    return cursor


def submit(connection: Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """Run `sql`; returns its cursor, for the caller to fetch from and close. Inside `together`,
    fetch after the block: the results come back with the block's one round trip."""
    return run(driver_cursor(connection), connection, sql, params)


def fetch_one(connection: Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first row of `sql` (a tuple), or None. Inside `together` this is a round trip of its own:
    see `submit`."""
    cursor = driver_cursor(connection)
    statement = _for_paramstyle(sql, connection.dialect.paramstyle)
    try:
        cursor.execute(statement, params)
        return cursor.fetchone()
    except Exception as error:
        _raise(connection, error, statement, params, cursor)
    finally:
        cursor.close()


def execute(connection: Connection, sql: str, params: Sequence[Any] = ()) -> int:
    """Run `sql`; returns the driver's rowcount (not known yet inside `together` on PostgreSQL)."""
    cursor = driver_cursor(connection)
    try:
        return run(cursor, connection, sql, params).rowcount
    finally:
        cursor.close()


# Bounds of one multi-row INSERT: PostgreSQL takes up to 65535 parameters a statement.
_ROWS_PER_INSERT = 500
_PARAMETERS_PER_INSERT = 30_000


def insert_many(connection: Connection, sql: str, rows: Sequence[Sequence[Any]], *, all_new: bool = False) -> None:
    """Run `sql`, an INSERT of one row (insert_sql), for each row, in order; or, when the transaction
    holds its writes (storage.write_behind), hold the rows back. `all_new`: the writer counts on
    every row going in (ON CONFLICT DO NOTHING would skip one), checked when held rows are sent."""
    if not rows:
        return
    held = connection.info.get(HELD_WRITES)
    if held is not None and held.belongs_to(connection):
        held.insert(sql, rows, all_new=all_new)
        return
    for cursor in insert_many_now(connection, sql, rows):
        cursor.close()


def insert_many_now(connection: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> list[Any]:
    """insert_many, never held; returns the cursors (the caller closes them), whose rowcounts add
    up to the rows inserted. The driver's executemany, except on PostgreSQL outside `together`:
    there psycopg's executemany opens a pipeline of its own and syncs, which costs more than the
    one round trip a multi-row INSERT takes (inside `together` it rides the open pipeline, and
    its short statement is parsed once, where psycopg parses a statement of more than 50
    parameters anew each time)."""
    if connection.dialect.name != "postgresql" or connection.info.get(_IN_PIPELINE):
        cursor = driver_cursor(connection)
        statement = _for_paramstyle(sql, connection.dialect.paramstyle)
        try:
            cursor.executemany(statement, rows)
        except Exception as error:
            try:
                _raise(connection, error, statement, rows, cursor)
            finally:
                cursor.close()
        return [cursor]
    width = len(rows[0])
    per_statement = max(1, min(_ROWS_PER_INSERT, _PARAMETERS_PER_INSERT // max(1, width)))
    return [submit(connection, _multi_row(sql, len(chunk)), [value for row in chunk for value in row])
            for chunk in (rows[start:start + per_statement] for start in range(0, len(rows), per_statement))]


@lru_cache(maxsize=256)
def _multi_row(sql: str, count: int) -> str:
    """`sql` (insert_sql's form: one VALUES group) with `count` VALUES groups."""
    head, values, tail = sql.partition(" VALUES (")
    group, _, rest = tail.partition(")")
    if not values or set(group) - set("?, "):
        raise ValueError("not an INSERT of one row of ? placeholders")
    return f"{head} VALUES " + ", ".join([f"({group})"] * count) + rest


_NOTHING_TO_GROUP = nullcontext()


@lru_cache(maxsize=1)
def _pipeline_supported() -> bool:
    """psycopg's pipeline mode needs libpq 14 or later."""
    from psycopg import Pipeline

    return bool(Pipeline.is_supported())


def together(connection: Connection) -> AbstractContextManager[None]:
    """On PostgreSQL, the statements run in the block go to the server together (psycopg's
    pipeline mode): one round trip, where each would take one, provided that their results are
    fetched after the block (`submit`); fetching inside it costs a round trip of its own. A failure
    is raised when the block ends at the latest (and aborts the PostgreSQL transaction in any case).
    Elsewhere nothing changes. The transaction's BEGIN, if it is still to come, is a round trip
    before the block's: psycopg waits for it."""
    if connection.dialect.name != "postgresql":
        return _NOTHING_TO_GROUP
    return _pipelined(connection)


_IN_PIPELINE = "storage.keys.driver.together"


@contextmanager
def _pipelined(connection: Connection) -> Iterator[None]:
    if not connection.in_transaction():
        connection.begin()
    info = connection.info
    pipeline = getattr(connection.connection.driver_connection, "pipeline", None)
    if pipeline is None or info.get(_IN_PIPELINE) or not _pipeline_supported():
        # Inside another `together` the outer block sends everything: a nested psycopg pipeline
        # would sync on entry and on exit, a round trip each.
        yield
        return
    try:
        with pipeline() as open_pipeline:
            info[_IN_PIPELINE] = open_pipeline
            yield
    except Exception as error:
        _raise(connection, error, None, None, None)
    finally:
        info.pop(_IN_PIPELINE, None)


def results_in(connection: Connection) -> None:
    """Inside `together`, wait for the results of what was sent so far (a round trip), so that a
    cursor's rowcount may be read; elsewhere results are in already."""
    open_pipeline = connection.info.get(_IN_PIPELINE)
    if open_pipeline is None:
        return
    try:
        open_pipeline.sync()
    except Exception as error:
        _raise(connection, error, None, None, None)


def insert_sql(table: str, columns: Sequence[str], *, conflict: Sequence[str] = ()) -> str:
    """INSERT of one row of `columns`, doing nothing when `conflict` (a unique key) is taken."""
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    return sql


class Binder:
    """Values for `columns`, in that order, as SQLAlchemy binds them on the connection's database:
    driver SQL skips SQLAlchemy's types, yet a UtcDateTime must still reach SQLite as its naive UTC
    text, an Interval as SQLite's epoch form, a Boolean as SQLite's integer. None binds as NULL
    (not for types that bind None otherwise, such as JSON)."""

    def __init__(self, columns: Iterable[Column[Any]]) -> None:
        self._columns = tuple(columns)
        self._processors: dict[tuple[str, str], list[tuple[int, Any]]] = {}

    def _for(self, connection: Connection) -> list[tuple[int, Any]]:
        dialect = connection.dialect
        found = self._processors.get((dialect.name, dialect.driver))
        if found is None:
            found = []
            for i, column in enumerate(self._columns):
                processor = column.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    found.append((i, processor))
            self._processors[(dialect.name, dialect.driver)] = found
        return found

    def __call__(self, connection: Connection, values: Sequence[Any]) -> list[Any]:
        bound = list(values)
        for i, processor in self._for(connection):
            if bound[i] is not None:  # NULL binds as NULL whatever the type
                bound[i] = processor(bound[i])
        return bound

    def rows(self, connection: Connection, rows: Iterable[Sequence[Any]]) -> list[list[Any]]:
        """Each row as __call__ binds it; a value that is the very object of the row before (one
        time for a whole batch, say) is bound once."""
        processors = self._for(connection)
        last: dict[int, tuple[Any, Any]] = {}
        bound = []
        for values in rows:
            row = list(values)
            for i, processor in processors:
                value = row[i]
                if value is None:
                    continue
                seen = last.get(i)
                if seen is not None and seen[0] is value:
                    row[i] = seen[1]
                else:
                    row[i] = processor(value)
                    last[i] = (value, row[i])
            bound.append(row)
        return bound
