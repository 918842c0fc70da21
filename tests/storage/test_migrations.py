"""Engines and migrations: SQLite settings, URL mapping, and a schema that migrations and tables agree on."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, inspect, text

from storage.db import create_engine_for, sqlite_url
from storage.migrate import MIGRATIONS_DIR, current_revision, downgrade, head_revision, upgrade
from storage.schema import metadata
from storage.tables import CORE_TABLES

CORE_NAMES = {t.name for t in CORE_TABLES}


def test_sqlite_connections_get_wal_full_sync_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine_for(sqlite_url(tmp_path / "nested" / "dir" / "bot.db"))
    try:
        with engine.connect() as conn:
            pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
            assert pragma("journal_mode") == "wal"
            assert pragma("synchronous") == 2  # FULL
            assert pragma("busy_timeout") == 5000
            assert pragma("foreign_keys") == 1
        assert (tmp_path / "nested" / "dir" / "bot.db").exists()
    finally:
        engine.dispose()


def test_postgresql_urls_use_psycopg_3() -> None:
    engine = create_engine_for("postgresql://bot:secret@db.example:5432/liaison")
    assert engine.url.drivername == "postgresql+psycopg"
    assert engine.dialect.driver == "psycopg"


def test_other_backends_and_in_memory_sqlite_are_refused() -> None:
    with pytest.raises(ValueError):
        create_engine_for("mysql://x@y/z")
    with pytest.raises(ValueError):
        create_engine_for("sqlite://")


def test_sqlite_writers_that_read_first_wait_instead_of_failing(tmp_path: Path) -> None:
    """Deferred BEGIN would make the second read-then-write transaction fail with SQLITE_BUSY."""
    engine = create_engine_for(sqlite_url(tmp_path / "bot.db"))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE counter (n INTEGER NOT NULL)")
        conn.exec_driver_sql("INSERT INTO counter VALUES (0)")
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def bump() -> None:
        try:
            barrier.wait()
            for _ in range(25):
                with engine.begin() as conn:
                    n = conn.exec_driver_sql("SELECT n FROM counter").scalar_one()
                    conn.exec_driver_sql("UPDATE counter SET n = ?", (n + 1,))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT n FROM counter").scalar_one() == 100  # no lost update
    finally:
        engine.dispose()


def test_migrations_apply_from_empty_and_again_do_nothing(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert CORE_NAMES <= set(inspect(engine).get_table_names())
        upgrade(engine)  # a second start finds nothing to do
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_core_revision_id_is_the_one_later_revisions_build_on(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        upgrade(engine, "0001_core")
        assert current_revision(engine) == "0001_core"
        upgrade(engine)
        downgrade(engine, "base")
        assert current_revision(engine) is None
        assert not CORE_NAMES & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_migrated_schema_matches_the_tables_in_code(db_url: str) -> None:
    engine = create_engine_for(db_url)
    core_only = MetaData(naming_convention=metadata.naming_convention)
    for table in CORE_TABLES:
        table.to_metadata(core_only)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), core_only)
        # Tables of later revisions (the audit log) are not ours to compare.
        ours = [d for d in diffs if not (isinstance(d, tuple) and d[0] in ("remove_table", "remove_index")
                                         and _table_name(d[1]) not in CORE_NAMES)]
        assert ours == []
    finally:
        engine.dispose()


def _table_name(schema_item: object) -> str:
    table = getattr(schema_item, "table", None)
    return table.name if table is not None else getattr(schema_item, "name", "")


def test_every_table_in_code_is_exactly_what_the_migrations_build(db_url: str) -> None:
    import storage.audit.tables  # noqa: F401 - registers the audit tables on the shared metadata
    import storage.directory_tables  # noqa: F401
    import storage.tables  # noqa: F401

    engine = create_engine_for(db_url)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        assert diffs == []
    finally:
        engine.dispose()


def test_migration_scripts_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0001_core.py").is_file()


def test_concurrent_starts_migrate_once(db_url: str) -> None:
    engines = [create_engine_for(db_url) for _ in range(3)]
    errors: list[BaseException] = []

    def start(engine) -> None:  # noqa: ANN001
        try:
            upgrade(engine)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert not errors
        with engines[0].connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        for e in engines:
            e.dispose()
