"""Withdrawal and correction: an item remembers that it was withdrawn, when, by whom and why; and
its revision, with the deliveries of its earlier revisions kept apart.

Revision ID: 0012_withdraw
Revises: 0011_focal
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. Nullable additions, so SQLite needs no table rebuild.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_withdraw"
down_revision: str | Sequence[str] | None = "0011_focal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("items", sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("items", sa.Column("withdrawn_by", sa.String(200), nullable=True))
    op.add_column("items", sa.Column("withdrawal", sa.LargeBinary(), nullable=True))
    op.add_column("items", sa.Column("revision", sa.Integer(), nullable=True))
    op.add_column("items", sa.Column("revised_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "superseded_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True),
        sa.Column("item_reference", sa.String(32), sa.ForeignKey("items.reference"), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("destination", sa.String(300), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("outbox_key", sa.String(100), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.Column("answered_at", sa.DateTime(timezone=True)),
        sa.Column("platform_message_id", sa.String(300)),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("outbox_key", name=op.f("uq_superseded_deliveries_outbox_key")),
    )
    op.create_index(op.f("ix_superseded_deliveries_item_reference"), "superseded_deliveries", ["item_reference"])


def downgrade() -> None:
    op.drop_index(op.f("ix_superseded_deliveries_item_reference"), "superseded_deliveries")
    op.drop_table("superseded_deliveries")
    op.drop_column("items", "revised_at")
    op.drop_column("items", "revision")
    op.drop_column("items", "withdrawal")
    op.drop_column("items", "withdrawn_by")
    op.drop_column("items", "withdrawn_at")
