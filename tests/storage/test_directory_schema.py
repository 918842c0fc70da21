"""Migration 0004_directory and storage.directory_tables describe the same tables."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, Table, inspect

from storage.db import create_engine_for
from storage.directory_tables import DIRECTORY_TABLES
from storage.migrate import current_revision, downgrade, upgrade
from storage.schema import metadata

NAMES = {t.name for t in DIRECTORY_TABLES}


def tables_named(diff: object) -> set[str]:
    """The tables an Alembic diff (a tuple, or a list of column changes) is about."""
    if isinstance(diff, list):
        return set().union(*(tables_named(part) for part in diff))
    names = set()
    for part in diff:  # type: ignore[attr-defined]
        if isinstance(part, str):
            names.add(part)
        elif isinstance(part, Table):
            names.add(part.name)
        elif getattr(part, "table", None) is not None:
            names.add(part.table.name)
    return names


def test_migrated_directory_tables_match_the_tables_in_code(db_url: str) -> None:
    engine = create_engine_for(db_url)
    ours = MetaData(naming_convention=metadata.naming_convention)
    for table in DIRECTORY_TABLES:
        table.to_metadata(ours)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), ours)

        # Other revisions' tables are not ours to compare.
        assert [d for d in diffs if tables_named(d) & NAMES] == []
    finally:
        engine.dispose()


def test_the_directory_revision_builds_on_followup_and_downgrades_cleanly(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        upgrade(engine, "0004_directory")
        assert NAMES <= set(inspect(engine).get_table_names())
        downgrade(engine, "0003_followup")
        assert current_revision(engine) == "0003_followup"
        assert not NAMES & set(inspect(engine).get_table_names())
        upgrade(engine)
        assert NAMES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_the_focal_revision_keeps_the_roles_and_its_downgrade_drops_only_the_focal_ones(db_url: str) -> None:
    from sqlalchemy import text

    engine = create_engine_for(db_url)
    insert_role = text("INSERT INTO directory_roles (contact, role) VALUES (:c, :r)")
    try:
        upgrade(engine, "0010_portal")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO directory_organisations (code, name, kind, standing, position) "
                              "VALUES ('TH', 'Thailand', 'country', 'member', 0)"))
            conn.execute(text("INSERT INTO directory_contacts (id, name, organisation, timezone, position) "
                              "VALUES ('th-nfp', 'NFP', 'TH', 'UTC', 0)"))
            conn.execute(insert_role, {"c": "th-nfp", "r": "contact"})
        upgrade(engine, "0011_focal")
        with engine.begin() as conn:
            conn.execute(insert_role, {"c": "th-nfp", "r": "national-focal-point"})
        with engine.begin() as conn:  # the CHECK still refuses what is no role
            try:
                conn.execute(insert_role, {"c": "th-nfp", "r": "wizard"})
                refused = False
            except Exception:  # noqa: BLE001 - an IntegrityError on both databases
                refused = True
        assert refused
        downgrade(engine, "0010_portal")
        with engine.connect() as conn:
            roles = conn.execute(text("SELECT role FROM directory_roles")).scalars().all()
        assert roles == ["contact"]
        upgrade(engine)
    finally:
        engine.dispose()
