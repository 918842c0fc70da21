"""Away and delegation: who is away until when, and who stands in for them.

Revision ID: 0014_away
Revises: 0013_release
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. A new table only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_away"
down_revision: str | Sequence[str] | None = "0013_release"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "absences",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("delegate", sa.String(64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_by", sa.String(64), nullable=True),
        sa.Column("summarised_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acts", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_absences"),
    )
    op.create_index("ix_absences_person", "absences", ["person"])
    op.create_index("ix_absences_delegate", "absences", ["delegate"])


def downgrade() -> None:
    op.drop_index("ix_absences_delegate", "absences")
    op.drop_index("ix_absences_person", "absences")
    op.drop_table("absences")
