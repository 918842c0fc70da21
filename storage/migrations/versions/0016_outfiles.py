"""Outbox files: the images made for one outbox message alone (the digest's and the bulletin's charts).

Revision ID: 0016_outfiles
Revises: 0015_attach
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. A new table only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_outfiles"
down_revision: str | Sequence[str] | None = "0015_attach"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_files",
        sa.Column("outbox_key", sa.String(100), primary_key=True),
        sa.Column("position", sa.Integer(), primary_key=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("meta", sa.LargeBinary(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
    )
    op.create_index("ix_outbox_files_created_at", "outbox_files", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_files_created_at", table_name="outbox_files")
    op.drop_table("outbox_files")
