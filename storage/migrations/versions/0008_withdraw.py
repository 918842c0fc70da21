"""Withdrawal: an item remembers that it was withdrawn, when, by whom and why.

Revision ID: 0008_withdraw
Revises: 0007_erasure
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. Nullable additions, so SQLite needs no table rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_withdraw"
down_revision: str | Sequence[str] | None = "0007_erasure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("items", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("items", sa.Column("withdrawn_by", sa.String(200), nullable=True))
    op.add_column("items", sa.Column("withdrawal", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("items", "withdrawal")
    op.drop_column("items", "withdrawn_by")
    op.drop_column("items", "withdrawn_at")
