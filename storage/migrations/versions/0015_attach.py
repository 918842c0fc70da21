"""Attachments: the photos and files an item carries, sealed under the item's case key.

Revision ID: 0015_attach
Revises: 0014_away
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. A new table only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_attach"
down_revision: str | Sequence[str] | None = "0014_away"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "attachments",
        sa.Column("item_reference", sa.String(32), sa.ForeignKey("items.reference"), primary_key=True),
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("meta", sa.LargeBinary(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("origin", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("attachments")
