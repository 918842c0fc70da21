"""0020_partids: the parts recorded before it (0019_parts) are found by their ids once it runs."""

from __future__ import annotations

from sqlalchemy import text

from storage.db import create_engine_for
from storage.migrate import downgrade, upgrade


def test_parts_recorded_before_are_each_found_by_their_id(db_url: str) -> None:
    engine = create_engine_for(db_url)
    try:
        upgrade(engine, "0019_parts")
        with engine.begin() as conn:
            for key, platform, parts in (("copy", "telegram", "201:7 201:8 201:9"), ("one", "telegram", None),
                                         ("console", "console", "201:7 pm-2")):
                conn.execute(text(
                    "INSERT INTO outbox (key, kind, platform, destination, protect_content, content, state, attempts,"
                    " created_at, platform_message_id, platform_parts) VALUES (:key, 'delivery', :platform, 'd',"
                    " false, :content, 'sent', 1, CURRENT_TIMESTAMP, :known_by, :parts)"),
                    {"key": key, "platform": platform, "content": b"x", "parts": parts,
                     "known_by": parts.split()[0] if parts else "201:10"})
        upgrade(engine)
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT platform, message_id, outbox_key FROM outbox_parts"))
            found = {tuple(row) for row in rows}
        assert found == {("telegram", "201:7", "copy"), ("telegram", "201:8", "copy"), ("telegram", "201:9", "copy"),
                         ("console", "201:7", "console"), ("console", "pm-2", "console")}
        downgrade(engine, "0019_parts")
        upgrade(engine)
    finally:
        engine.dispose()
