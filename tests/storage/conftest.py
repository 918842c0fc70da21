"""Storage fixtures: a migrated engine per database, a real sealer, and a unit-of-work factory.

`engine` runs a test on a fresh SQLite file and on PostgreSQL. On PostgreSQL one database is
migrated per session and emptied (TRUNCATE) before each test, which is much faster than making
and migrating a database per test; tests of migrations themselves use `db_url` instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, inspect

from alerts.clock import ManualClock
from storage.db import create_engine_for
from storage.migrate import upgrade
from storage.sealing import AesGcmSealer
from storage.uow import SqlUnitOfWorkFactory
from tests.conftest import fresh_postgres_database
from tests.storage.builders import RecordingAudit, sealing


@pytest.fixture(scope="session")
def _migrated_postgres_url(postgres_admin: object) -> Iterator[str]:
    with fresh_postgres_database(postgres_admin) as url:
        engine = create_engine_for(url)
        try:
            upgrade(engine)
        finally:
            engine.dispose()
        yield url


def _emptied(url: str) -> str:
    engine = create_engine_for(url)
    try:
        with engine.begin() as conn:
            tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
            conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a migrated, empty database."""
    if request.param == "postgres":
        return _emptied(request.getfixturevalue("_migrated_postgres_url"))
    url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = create_engine_for(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return url


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:
    engine = create_engine_for(migrated_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def sealer() -> AesGcmSealer:
    return AesGcmSealer({"k1": os.urandom(32)}, "k1")


@pytest.fixture
def uow_factory(engine: Engine, sealer: AesGcmSealer, clock: ManualClock) -> SqlUnitOfWorkFactory:
    return SqlUnitOfWorkFactory(engine, sealing(sealer, RecordingAudit), clock)
