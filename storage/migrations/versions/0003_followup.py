"""Follow-up: an item's closure, and requests to forward an item onward.

Revision ID: 0003_followup
Revises: 0002_audit
Create Date: 2026-11-24

Written by hand and frozen, like 0001_core: it does not import storage.tables, and spells out
constraint names. Closure columns are nullable additions, so SQLite needs no table rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_followup"
down_revision: str | Sequence[str] | None = "0002_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("items", sa.Column("closed_at", _at(), nullable=True))
    op.add_column("items", sa.Column("closed_by", sa.String(200), nullable=True))
    op.add_column("items", sa.Column("outcome", sa.LargeBinary(), nullable=True))
    op.create_table(
        "forward_requests",
        sa.Column("id", sa.String(100), nullable=False),
        sa.Column("item_reference", sa.String(32), nullable=False),
        sa.Column("asker", sa.String(200), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("contacts", sa.Text(), nullable=False),
        sa.Column("requested_at", _at(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", _at(), nullable=True),
        sa.Column("purpose", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forward_requests")),
        sa.ForeignKeyConstraint(
            ["item_reference"], ["items.reference"], name=op.f("fk_forward_requests_item_reference_items")
        ),
        sa.CheckConstraint("state IN ('pending', 'granted', 'refused')", name=op.f("ck_forward_requests_state")),
    )
    op.create_index(op.f("ix_forward_requests_item_reference"), "forward_requests", ["item_reference"])


def downgrade() -> None:
    op.drop_index(op.f("ix_forward_requests_item_reference"), table_name="forward_requests")
    op.drop_table("forward_requests")
    op.drop_column("items", "outcome")
    op.drop_column("items", "closed_by")
    op.drop_column("items", "closed_at")
