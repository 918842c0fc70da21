"""One contract for every repository of the unit of work, run on the in-memory fakes (tests/fakes.py),
on SQLite and on PostgreSQL (storage.uow.SqlUnitOfWork as bot.runtime.app wires it: CaseKeySealer, SqlAuditLog).

A `Backend` gives the factory and a way to look at what was committed that does not go through the
repositories under test (the fake's store, or the tables), so a repository cannot vouch for itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, func, select, update

from alerts.clock import ManualClock
from alerts.messages import MessageKind
from handlers.ports import DirectorySource, UnitOfWork
from storage import keyring as keyfile
from storage.audit.log import SqlAuditLog
from storage.audit.tables import audit_entries
from storage.db import create_engine_for
from storage.directory import DatabaseDirectory
from storage.keyring import Keyring
from storage.migrate import upgrade
from storage.sealing import CaseKeySealer
from storage.tables import outbox, outbox_files
from storage.uow import SqlUnitOfWorkFactory
from tests.fakes import MemoryDirectory, MemoryStore, MemoryUnitOfWork
from tests.sample_network import network_with_rooms
from tests.storage.conftest import _emptied, _migrated_postgres_url  # noqa: F401 - a fixture, by name


@dataclass
class Backend:
    name: str
    factory: Callable[[], UnitOfWork]
    directory: DirectorySource
    outbox_kinds: Callable[[], dict[str, MessageKind]]  # committed outbox rows: key -> kind
    audit_count: Callable[[], int]  # committed audit entries
    # committed outbox rows' states: key -> (state, last error); and the delivery worker's mark that a
    # row was sent, which is not a port of the unit of work
    outbox_states: Callable[[], dict[str, tuple[str, str | None]]] = lambda: {}
    mark_sent: Callable[[str], None] = lambda key: None
    # committed files of outbox rows (OutboundMessage.files): key -> their sizes, in order
    outbox_files: Callable[[], dict[str, tuple[int, ...]]] = lambda: {}
    mark_leased: Callable[[str], None] = lambda key: None  # the worker's lease of a row: its send in flight
    # the worker's record of a send with the platform's message id, and when
    sent_as: Callable[[str, str, datetime], None] = lambda key, message_id, at: None


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    path = tmp_path / "keys" / "liaison.keys"
    keyfile.generate(path)
    return keyfile.load(path)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path, keyring: Keyring, clock: ManualClock) -> Iterator[Backend]:
    if request.param == "memory":
        store = MemoryStore()
        directory = MemoryDirectory(network_with_rooms())
        yield Backend("memory", lambda: MemoryUnitOfWork(store, directory, devices=True), directory,
                      lambda: {key: m.kind for key, m in store.outbox.items()}, lambda: len(store.audit),
                      lambda: {key: (store.outbox_state.get(key, "pending"), store.outbox_errors.get(key))
                               for key in store.outbox},
                      lambda key: store.outbox_state.__setitem__(key, "sent"),
                      lambda: {key: tuple(f.size for f in m.files) for key, m in store.outbox.items() if m.files},
                      lambda key: store.outbox_state.__setitem__(key, "sending"),
                      lambda key, message_id, at: (store.outbox_state.__setitem__(key, "sent"),
                                                   store.outbox_sent.__setitem__(key, (message_id, at))) and None)
        return
    if request.param == "postgres":
        url = _emptied(request.getfixturevalue("_migrated_postgres_url"))
    else:
        url = f"sqlite:///{tmp_path / 'bot.db'}"
    engine = create_engine_for(url)
    try:
        upgrade(engine)
        sql_directory = DatabaseDirectory(engine)
        sql_directory.seed(network_with_rooms())

        def sealing(connection: Connection) -> tuple[CaseKeySealer, SqlAuditLog]:
            sealer = CaseKeySealer(connection, keyring, clock)
            return sealer, SqlAuditLog(connection, keyring, clock, sealer=sealer)

        def outbox_kinds() -> dict[str, MessageKind]:
            with engine.connect() as connection:
                return {row.key: MessageKind(row.kind)
                        for row in connection.execute(select(outbox.c.key, outbox.c.kind).order_by(outbox.c.id))}

        def audit_count() -> int:
            with engine.connect() as connection:
                return connection.execute(select(func.count()).select_from(audit_entries)).scalar_one()

        def outbox_states() -> dict[str, tuple[str, str | None]]:
            with engine.connect() as connection:
                return {row.key: (row.state, row.last_error) for row in connection.execute(
                    select(outbox.c.key, outbox.c.state, outbox.c.last_error).order_by(outbox.c.id))}

        def mark_sent(key: str) -> None:
            with engine.begin() as connection:
                connection.execute(update(outbox).where(outbox.c.key == key).values(state="sent"))

        def mark_leased(key: str) -> None:
            with engine.begin() as connection:
                connection.execute(update(outbox).where(outbox.c.key == key).values(
                    state="sending", lease_until=clock.now() + timedelta(minutes=1)))

        def sent_as(key: str, message_id: str, at: datetime) -> None:
            with engine.begin() as connection:
                connection.execute(update(outbox).where(outbox.c.key == key).values(
                    state="sent", platform_message_id=message_id, sent_at=at))

        def outbox_file_sizes() -> dict[str, tuple[int, ...]]:
            found: dict[str, tuple[int, ...]] = {}
            with engine.connect() as connection:
                for row in connection.execute(select(outbox_files).order_by(outbox_files.c.outbox_key,
                                                                            outbox_files.c.position)):
                    found[row.outbox_key] = (*found.get(row.outbox_key, ()), row.size)
            return found

        factory = SqlUnitOfWorkFactory(engine, sealing, clock, directory=sql_directory, devices=lambda: True)
        yield Backend(request.param, factory, sql_directory, outbox_kinds, audit_count, outbox_states, mark_sent,
                      outbox_file_sizes, mark_leased, sent_as)
    finally:
        engine.dispose()
