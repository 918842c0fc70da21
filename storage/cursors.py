"""Where each connector has read up to: a Matrix sync token, a Telegram update offset.

Written in the same transaction as the inbox rows of the batch it follows, so the position and
the events it covers are durable together.
"""

from __future__ import annotations

from sqlalchemy import Connection, select

from storage.db import insert_for
from storage.tables import cursors


class SqlCursors:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def get(self, name: str) -> str | None:
        return self._conn.execute(select(cursors.c.value).where(cursors.c.name == name)).scalar_one_or_none()

    def set(self, name: str, value: str) -> None:
        stmt = insert_for(self._conn, cursors).values(name=name, value=value)
        self._conn.execute(stmt.on_conflict_do_update(index_elements=[cursors.c.name], set_={"value": value}))
