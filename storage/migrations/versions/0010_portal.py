"""The web portal: one-time login links and sessions, each by the hash of its token.

Revision ID: 0010_portal
Revises: 0009_arrange
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core (it does not import storage.portal_tables). New tables only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_portal"
down_revision: str | Sequence[str] | None = "0009_arrange"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "portal_links",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("contact", sa.String(100), nullable=False),
        sa.Column("created_at", _at(), nullable=False),
        sa.Column("expires_at", _at(), nullable=False),
        sa.Column("used_at", _at()),
    )
    op.create_index("ix_portal_links_contact", "portal_links", ["contact"])
    op.create_table(
        "portal_sessions",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("contact", sa.String(100), nullable=False),
        sa.Column("created_at", _at(), nullable=False),
        sa.Column("expires_at", _at(), nullable=False),
        sa.Column("ended_at", _at()),
    )
    op.create_index("ix_portal_sessions_contact", "portal_sessions", ["contact"])


def downgrade() -> None:
    op.drop_index("ix_portal_sessions_contact", "portal_sessions")
    op.drop_table("portal_sessions")
    op.drop_index("ix_portal_links_contact", "portal_links")
    op.drop_table("portal_links")
