"""Conversations: a command awaiting its text, what became of each command message, guided forms.

Revision ID: 0008_converse
Revises: 0007_erasure
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core: it does not import storage.conversations.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_converse"
down_revision: str | Sequence[str] | None = "0007_erasure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "awaited_bodies",
        sa.Column("sender", sa.String(300), nullable=False),
        sa.Column("chat", sa.String(300), nullable=False),
        sa.Column("command", sa.String(32), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(300), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender", "chat", name="pk_awaited_bodies"),
    )
    op.create_table(
        "command_outcomes",
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("message_id", sa.String(300), nullable=False),
        sa.Column("sender", sa.String(300), nullable=False),
        sa.Column("accepted", sa.Boolean(), nullable=False),
        sa.Column("reference", sa.String(32), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("platform", "message_id", name="pk_command_outcomes"),
    )
    op.create_table(
        "guided_forms",
        sa.Column("sender", sa.String(300), nullable=False),
        sa.Column("chat", sa.String(300), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("sender", "chat", name="pk_guided_forms"),
    )


def downgrade() -> None:
    op.drop_table("guided_forms")
    op.drop_table("command_outcomes")
    op.drop_table("awaited_bodies")
