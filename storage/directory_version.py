"""A counter that moves with every committed change of the directory, so that other processes notice.

The CLI (`liaison-bot member import`) and a second instance write the same tables as the running
bot; each keeps its own snapshot (storage.directory.DatabaseDirectory). Every writer bumps the counter
in the transaction of its change; a reader compares it with the one its snapshot was loaded with and
reloads only when they differ, which costs one primary-key SELECT per look. It lives in the `cursors`
key-value table, as the room roster does, so no migration was needed.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Connection, Text, cast, select, update

from storage.db import insert_for
from storage.tables import cursors

NAME = "directory:version"


def read_version(connection: Connection) -> int:
    raw = connection.execute(select(cursors.c.value).where(cursors.c.name == NAME)).scalar_one_or_none()
    return int(raw) if raw is not None else 0


def bump_version(connection: Connection) -> None:
    """Move the counter on, inside the caller's transaction (the row is made on first use)."""
    connection.execute(insert_for(connection, cursors).values(name=NAME, value="0")
                       .on_conflict_do_nothing(index_elements=[cursors.c.name]))
    # Incremented by the database, not read-modify-write here, so two writers in flight both count.
    connection.execute(update(cursors).where(cursors.c.name == NAME)
                       .values(value=cast(cast(cursors.c.value, BigInteger) + 1, Text)))
