"""PostgreSQL's connection pool: no ping per transaction, yet a connection the server dropped is replaced."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

import storage.db
from alerts.clock import ManualClock
from alerts.items import ItemKind
from storage.db import create_engine_for
from storage.migrate import upgrade
from storage.sealing import AesGcmSealer
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.builders import sealing

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine_for(postgres_url)
    upgrade(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def _backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _kill(admin: object, pid: int) -> None:
    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))  # type: ignore[attr-defined]


def test_no_ping_on_every_checkout_and_connections_are_recycled(pg_engine: Engine) -> None:
    assert not pg_engine.pool._pre_ping  # noqa: SLF001
    assert pg_engine.pool._recycle == storage.db.POOL_RECYCLE_SECONDS  # noqa: SLF001


def test_a_connection_that_sat_idle_is_pinged_and_replaced_when_the_server_dropped_it(
        pg_engine: Engine, postgres_admin: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(storage.db, "PING_AFTER_IDLE_SECONDS", 0.0)
    first = _backend(pg_engine)
    _kill(postgres_admin, first)
    second = _backend(pg_engine)  # no error: the ping found it dead and the pool made a new one
    assert second != first


def test_a_connection_used_a_moment_ago_that_the_server_dropped_fails_once_then_is_replaced(
        pg_engine: Engine, postgres_admin: object) -> None:
    """The unit of work's errors reach the pool: a dropped connection is replaced."""
    factory = SqlUnitOfWorkFactory(pg_engine, sealing(AesGcmSealer({"k": bytes(32)}, "k")), ManualClock())
    _kill(postgres_admin, _backend(pg_engine))
    with pytest.raises(OperationalError) as raised:
        with factory() as uow:
            uow.items.next_reference(ItemKind.ALERT, 2026)
    assert raised.value.connection_invalidated
    with factory() as uow:
        assert uow.items.next_reference(ItemKind.ALERT, 2026).number == 1
