"""Reminder storage and scheduler tests, on SQLite and (where it answers) PostgreSQL, with the real
audit log and sealer as the bot builds them, and a manual clock for everything but APScheduler."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine

from alerts.clock import ManualClock
from tests.fakes import MemoryStore, MemoryUnitOfWork
from storage import keyring as keyfile
from storage.audit.log import SqlAuditLog
from storage.db import create_engine_for
from storage.keyring import Keyring
from storage.migrate import upgrade
from storage.uow import SqlUnitOfWorkFactory
from storage.sealing import CaseKeySealer
from tests.storage.conftest import _emptied, _migrated_postgres_url, migrated_url  # noqa: F401 - fixtures


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    path = tmp_path / "keys" / "liaison.keys"
    keyfile.generate(path)
    return keyfile.load(path)


@pytest.fixture
def engine(migrated_url: str) -> Iterator[Engine]:  # noqa: F811 - the imported fixture, by name
    engine = create_engine_for(migrated_url)
    try:
        yield engine
    finally:
        engine.dispose()


def reminder_uow_factory(engine: Engine, keyring: Keyring, clock: ManualClock) -> SqlUnitOfWorkFactory:
    """Units of work as bot.runtime.app builds them: the real audit log and per-case sealer."""
    def sealing(connection: Connection) -> tuple[CaseKeySealer, SqlAuditLog]:
        sealer = CaseKeySealer(connection, keyring, clock)
        return sealer, SqlAuditLog(connection, keyring, clock, sealer=sealer)

    return SqlUnitOfWorkFactory(engine, sealing, clock)


@pytest.fixture
def uow_factory(engine: Engine, keyring: Keyring, clock: ManualClock) -> SqlUnitOfWorkFactory:
    return reminder_uow_factory(engine, keyring, clock)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def make_uow(request: pytest.FixtureRequest, tmp_path: Path, keyring: Keyring, clock: ManualClock) -> Iterator[object]:
    """A unit-of-work factory on the in-memory fakes, SQLite or PostgreSQL: one contract for all three."""
    if request.param == "memory":
        store = MemoryStore()
        yield lambda: MemoryUnitOfWork(store)
        return
    if request.param == "postgres":
        url = _emptied(request.getfixturevalue("_migrated_postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = create_engine_for(url)
    try:
        upgrade(engine)
        yield reminder_uow_factory(engine, keyring, clock)
    finally:
        engine.dispose()
