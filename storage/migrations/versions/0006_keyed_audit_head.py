"""Keyed audit head and key binding: audit_head.mac, and the key_binding row.

Revision ID: 0006_keyed_audit_head
Revises: 0005_reminders
Create Date: 2026-12-06

Written by hand and frozen, like the revisions before it. Schema only: the migration has no key
file, so a log that already holds entries keeps a head without a MAC, which the bot refuses to
extend until `liaison-bot db upgrade` has verified the log and keyed its head (bot.runtime.keys).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_keyed_audit_head"
down_revision: str | Sequence[str] | None = "0005_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("audit_head", sa.Column("mac", sa.LargeBinary(), nullable=True))
    op.create_table(
        "key_binding",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("signing_key_id", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("bound_at_us", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_key_binding_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_key_binding"),
    )


def downgrade() -> None:
    op.drop_table("key_binding")
    with op.batch_alter_table("audit_head") as batch:
        batch.drop_column("mac")
