"""Fewer round trips per accepted message, same guarantees: a savepoint's audit entries are appended
together as it is released (and dropped with it when it fails), and a reference just numbered gets
its case key without a look-up (a tombstone found there still wins)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, event, select

from alerts.audit import AuditAction, AuditEvent
from alerts.clock import ManualClock
from alerts.errors import ReferenceUnavailable
from alerts.items import ItemKind
from storage import keyring as keyfile
from storage.audit import verify
from storage.audit.log import SqlAuditLog
from storage.audit.tables import audit_entries
from storage.case_keys import CaseKeys
from storage.keyring import Keyring
from storage.sealing import CaseKeySealer
from storage.uow import SqlUnitOfWorkFactory
from tests.storage.builders import make_item, make_route


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    path = tmp_path / "keys" / "liaison.keys"
    keyfile.generate(path)
    return keyfile.load(path)


@pytest.fixture
def factory(engine: Engine, keyring: Keyring, clock: ManualClock) -> SqlUnitOfWorkFactory:
    def sealing(connection: Connection) -> tuple[CaseKeySealer, SqlAuditLog]:
        sealer = CaseKeySealer(connection, keyring, clock)
        return sealer, SqlAuditLog(connection, keyring, clock, sealer=sealer)

    return SqlUnitOfWorkFactory(engine, sealing, clock)


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", listener)


def _event(clock: ManualClock, purpose: str, reference: str | None = None) -> AuditEvent:
    return AuditEvent(action=AuditAction.COMMAND, at=clock.now(), actor="telegram:user:42", purpose=purpose,
                      reference=reference, detail={"said": purpose})


def _actions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [row.action for row in connection.execute(select(audit_entries.c.action).order_by(audit_entries.c.seq))]


def test_a_savepoints_entries_are_appended_together_in_order_and_chain(
        engine: Engine, factory: SqlUnitOfWorkFactory, keyring: Keyring, clock: ManualClock) -> None:
    with factory() as uow:
        with statements(engine) as seen, uow.savepoint():
            uow.audit.record(_event(clock, "first"))
            uow.audit.record(AuditEvent(action=AuditAction.REFUSAL, at=clock.now(), actor="bot", purpose="second"))
            assert not any("audit_entries" in s for s in seen)  # held until the block ends
        uow.commit()
    assert sum(s.startswith("INSERT INTO audit_entries") for s in seen) == 1
    assert sum(s.startswith("UPDATE audit_head") for s in seen) == 1
    assert _actions(engine) == ["command", "refusal"]
    assert verify(engine, keyring).ok


def test_a_failed_savepoint_drops_its_entries_and_the_next_one_chains_on(
        engine: Engine, factory: SqlUnitOfWorkFactory, keyring: Keyring, clock: ManualClock) -> None:
    with factory() as uow:
        with uow.savepoint():
            uow.audit.record(_event(clock, "kept"))
        with pytest.raises(RuntimeError), uow.savepoint():
            uow.audit.record(_event(clock, "undone"))
            raise RuntimeError("the command failed")
        with uow.savepoint():
            uow.audit.record(AuditEvent(action=AuditAction.REFUSAL, at=clock.now(), actor="bot", purpose="after"))
        uow.commit()
    assert _actions(engine) == ["command", "refusal"]
    assert verify(engine, keyring).ok


def test_a_failed_savepoint_inside_another_drops_only_its_own_entries(
        engine: Engine, factory: SqlUnitOfWorkFactory, keyring: Keyring, clock: ManualClock) -> None:
    with factory() as uow:
        with uow.savepoint():
            uow.audit.record(_event(clock, "outer"))
            with pytest.raises(RuntimeError), uow.savepoint():
                uow.audit.record(AuditEvent(action=AuditAction.ADMIN, at=clock.now(), actor="bot", purpose="undone"))
                raise RuntimeError("the inner step failed")
            uow.audit.record(AuditEvent(action=AuditAction.REFUSAL, at=clock.now(), actor="bot", purpose="after"))
        uow.commit()
    assert _actions(engine) == ["command", "refusal"]
    assert verify(engine, keyring).ok


def test_outside_a_savepoint_an_entry_is_appended_as_it_is_recorded(
        engine: Engine, factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    with factory() as uow:
        with statements(engine) as seen:
            uow.audit.record(_event(clock, "now"))
        assert sum(s.startswith("INSERT INTO audit_entries") for s in seen) == 1
        uow.commit()


def test_a_reference_just_numbered_gets_its_key_without_a_look_up(
        engine: Engine, factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    with factory() as uow, statements(engine) as seen:
        reference = uow.items.next_reference(ItemKind.ALERT, 2026)
        uow.items.add(make_item(reference.number), make_route("alice"), {"alice": "k-alice"})
        uow.commit()
    assert not any(s.startswith("SELECT") and "case_keys" in s for s in seen)
    assert any(s.startswith("INSERT INTO case_keys") for s in seen)
    with factory() as uow:
        assert uow.items.get(reference) is not None  # sealed under the key it made: it opens


def test_a_tombstone_at_a_numbered_reference_still_refuses_the_item(
        engine: Engine, factory: SqlUnitOfWorkFactory, keyring: Keyring, clock: ManualClock) -> None:
    with engine.begin() as connection:
        CaseKeys(connection, keyring, clock).erase("A-2026-0001", clock.now())  # erased before it was numbered
    with factory() as uow:
        reference = uow.items.next_reference(ItemKind.ALERT, 2026)
        assert str(reference) == "A-2026-0001"
        with pytest.raises(ReferenceUnavailable):
            uow.items.add(make_item(reference.number), make_route("alice"), {"alice": "k-alice"})
