"""Alembic environment: runs on the connection storage.migrate hands over, inside its transaction.

Run from the command line (alembic -c ...), it builds its own engine from `sqlalchemy.url`
with storage.db.create_engine_for, so SQLite gets the same PRAGMAs and BEGIN as the bot.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import storage.tables  # noqa: F401 - registers the core tables on the shared MetaData
from storage.db import create_engine_for
from storage.schema import metadata

config = context.config


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_on(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("migrations need sqlalchemy.url or a connection in the Alembic config")
    engine = create_engine_for(url)
    try:
        with engine.begin() as own_connection:
            run_on(own_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
