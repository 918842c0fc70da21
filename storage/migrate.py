"""Apply the Alembic migrations from code, on our own engine, with no alembic.ini.

    from storage.db import create_engine_for, sqlite_url
    from storage.migrate import upgrade
    engine = create_engine_for(sqlite_url("var/bot.db"))
    upgrade(engine)   # to "head"; safe to call at every start

The whole upgrade runs in one transaction. Two processes starting together do not race: on
PostgreSQL an advisory lock serialises them, on SQLite the BEGIN IMMEDIATE write lock does.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from storage.db import READ_ONLY

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# An arbitrary constant that names "schema migration" among PostgreSQL advisory locks.
_MIGRATION_LOCK_ID = 0x6C69_6169_736F_6E  # "liaison"


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config for our migrations; with a connection, env.py runs on it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`; does nothing when it is already there."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` ("base" drops every table the migrations made)."""
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
        command.downgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    with engine.connect() as connection:
        connection.execution_options(**READ_ONLY)
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()
