"""Revision 0002_audit makes exactly the tables storage.audit and storage.case_keys declare, and the head row."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import storage.audit.tables  # noqa: F401 - registers the audit tables on the shared MetaData
import storage.case_keys  # noqa: F401
from alerts.clock import ManualClock
from storage.audit import SqlAuditLog, verify
from storage.db import create_engine_for
from storage.keyring import Keyring
from storage.migrate import downgrade, upgrade
from storage.schema import metadata
from tests.audit.support import event

AUDIT_TABLES = {"audit_entries", "audit_head", "audit_checkpoints", "case_keys"}


def _touches_audit(diff: object) -> bool:
    text = repr(diff)
    return any(name in text for name in AUDIT_TABLES)


def test_the_migration_matches_the_tables_and_the_log_works_on_it(db_url: str, keyring: Keyring) -> None:
    engine = create_engine_for(db_url)
    try:
        upgrade(engine)
        assert AUDIT_TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            diffs = [d for d in compare_metadata(MigrationContext.configure(connection), metadata)
                     if _touches_audit(d)]
        assert diffs == []
        clock = ManualClock()
        with engine.begin() as connection:
            SqlAuditLog(connection, keyring, clock).record(event(clock, 0))
        assert verify(engine, keyring).ok
        downgrade(engine, "0001_core")
        assert not AUDIT_TABLES & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_revision_chains_on_the_core_revision() -> None:
    from storage.migrate import alembic_config
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config()).get_revision("0002_audit")
    if script is None:
        pytest.fail("revision 0002_audit is not found")
    assert script.down_revision == "0001_core"
