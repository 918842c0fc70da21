"""The web portal's tables (migration 0010_portal), on the shared MetaData.

- portal_links: one-time login links, by the SHA-256 of their token (never the token), good once
  until they expire.
- portal_sessions: browser sessions, by the SHA-256 of the cookie's value, until they expire or end
  (logging out, or `/member remove`).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from storage.schema import UtcDateTime, metadata

portal_links = Table(
    "portal_links",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("contact", String(100), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime),
)

portal_sessions = Table(
    "portal_sessions",
    metadata,
    Column("session_hash", String(64), primary_key=True),
    Column("contact", String(100), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Index("ix_portal_sessions_contact", "contact"),
)
