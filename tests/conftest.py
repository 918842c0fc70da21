"""Shared fixtures: a manual clock, and database URLs for SQLite and (where it answers) PostgreSQL.

`db_url` runs a test once per database. PostgreSQL tests get a fresh, uniquely named database that
is dropped afterwards; they are skipped when no server answers at LIAISON_TEST_POSTGRES (default
postgresql://postgres@127.0.0.1:5432/test, the maintenance database used to create the others).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from alerts.clock import ManualClock

POSTGRES_ADMIN_URL = os.environ.get("LIAISON_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs the CLI in process configures logging (bot.ops.logs replaces the root
    handlers with one on the stderr it captured); the next test must not inherit that handler."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'bot.db'}"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[object]:
    """An autocommit psycopg connection to the maintenance database; skips when no server answers."""
    try:
        import psycopg

        connection = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=2)
    except Exception:  # no server, no driver, refused: all mean "skip the PostgreSQL tests"
        where = make_url(POSTGRES_ADMIN_URL)
        pytest.skip(f"no PostgreSQL server answers at {where.host}:{where.port}")
    try:
        yield connection
    finally:
        connection.close()


@contextmanager
def fresh_postgres_database(admin: object) -> Iterator[str]:
    """A new, uniquely named, empty database (its URL), dropped on exit."""
    name = f"liaison_test_{uuid.uuid4().hex[:12]}"
    admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[attr-defined]
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        # FORCE ends connections a failed test left open, so the drop never hangs.
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[attr-defined]


@pytest.fixture
def postgres_url(postgres_admin: object) -> Iterator[str]:
    with fresh_postgres_database(postgres_admin) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue(f"{request.param}_url")
