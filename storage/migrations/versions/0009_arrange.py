"""Sharing arrangements with dates (a number, start and end days, a direction, an early end); rooms by
hub and topic, and retired rooms.

Revision ID: 0009_arrange
Revises: 0008_converse
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. Nullable additions, so SQLite needs no table rebuild.
Arrangements seeded before it get their numbers in the order the configuration gave them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_arrange"
down_revision: str | Sequence[str] | None = "0008_converse"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "directory_arrangements"


def upgrade() -> None:
    op.add_column(TABLE, sa.Column("number", sa.Integer(), nullable=True))
    op.add_column(TABLE, sa.Column("starts", sa.Date(), nullable=True))
    op.add_column(TABLE, sa.Column("ends", sa.Date(), nullable=True))
    op.add_column(TABLE, sa.Column("giver", sa.String(16), nullable=True))
    op.add_column(TABLE, sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(TABLE, sa.Column("end_reason", sa.Text(), nullable=True))
    op.execute(
        f"UPDATE {TABLE} SET number = (SELECT COUNT(*) FROM {TABLE} AS o WHERE o.position < {TABLE}.position "
        f"OR (o.position = {TABLE}.position AND o.key <= {TABLE}.key))"
    )
    op.create_index("ix_directory_arrangements_number", TABLE, ["number"], unique=True)
    op.add_column("directory_rooms", sa.Column("hubs", sa.Text(), nullable=True))
    op.add_column("directory_rooms", sa.Column("topics", sa.Text(), nullable=True))
    op.add_column("directory_rooms", sa.Column("retired_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for column in ("retired_at", "topics", "hubs"):
        op.drop_column("directory_rooms", column)
    op.drop_index("ix_directory_arrangements_number", table_name=TABLE)
    for column in ("end_reason", "ended_at", "giver", "ends", "starts", "number"):
        op.drop_column(TABLE, column)
