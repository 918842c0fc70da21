"""Where each connector has read up to: a Matrix sync token, a Telegram update offset.

Written in the same transaction as the inbox rows of the batch it follows, so the position and
the events it covers are durable together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Table, select

from storage.db import InsertFor
from storage.tables import cursors


def _upsert(insert: Callable[[Table], Any]) -> Any:
    """The cursor's row, made or moved on (built once: storage.db.InsertFor)."""
    statement = insert(cursors)
    return statement.on_conflict_do_update(index_elements=[cursors.c.name], set_={"value": statement.excluded.value})


_SET = InsertFor(_upsert)


class SqlCursors:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def get(self, name: str) -> str | None:
        return self._conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar_one_or_none()

    def set(self, name: str, value: str) -> None:
        self._conn.execute(_SET(self._conn), {"name": name, "value": value})
