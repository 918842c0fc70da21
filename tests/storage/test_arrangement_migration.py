"""0009_arrange: arrangements seeded before it get numbers in the configuration's order, and keep working."""

from __future__ import annotations

from sqlalchemy import text

from storage.db import create_engine_for
from storage.directory import SqlDirectoryStore
from storage.migrate import downgrade, upgrade


def test_arrangements_stored_before_the_dates_get_numbers_in_order(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        upgrade(engine, "0007_erasure")
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO directory_organisations (code, name, kind, standing, position) VALUES "
                              "('MY', 'Malaysia', 'country', 'member', 0), ('CA', 'Canada', 'country', 'observer', 1)"))
            for position, key, kind in ((1, "CA+MY:second", "second"), (0, "CA+MY:first", "first")):
                conn.execute(text("INSERT INTO directory_arrangements (key, kind, topics, position) "
                                  "VALUES (:key, :kind, NULL, :position)"),
                             {"key": key, "kind": kind, "position": position})
                for code in ("CA", "MY"):
                    conn.execute(text("INSERT INTO directory_parties (arrangement, organisation) VALUES (:a, :o)"),
                                 {"a": key, "o": code})
        upgrade(engine)
        with engine.connect() as conn:
            loaded = SqlDirectoryStore().load(conn)
        assert [(a.kind, a.number, a.dated) for a in loaded.arrangements] == [("first", 1, False), ("second", 2, False)]
        downgrade(engine, "0007_erasure")
        upgrade(engine)
    finally:
        engine.dispose()
