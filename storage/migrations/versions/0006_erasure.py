"""Erasure: an item remembers that its case was erased, when, and why.

Revision ID: 0006_erasure
Revises: 0005_reminders
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. Nullable additions, so SQLite needs no table rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_erasure"
down_revision: str | Sequence[str] | None = "0005_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("items", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("items", sa.Column("erasure", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("items", "erasure")
    op.drop_column("items", "erased_at")
