"""Reminders: the log of reminders sent, snoozes, the plans cache, and digest and bulletin runs.

Revision ID: 0005_reminders
Revises: 0004_directory
Create Date: 2026-11-26

Written by hand and frozen, like 0001_core: it does not import storage.reminder_tables, and spells
out constraint names. APScheduler's job table is not made here: APScheduler makes it on first start
(it holds only timers that the bot rebuilds at start).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_reminders"
down_revision: str | Sequence[str] | None = "0004_directory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _item(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["item_reference"], ["items.reference"], name=f"fk_{table}_item_reference_items")


def upgrade() -> None:
    op.create_table(
        "reminder_log",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("item_reference", sa.String(32), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("track", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("planned_at", _at(), nullable=False),
        sa.Column("recorded_at", _at(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_reminder_log"),
        _item("reminder_log"),
        sa.CheckConstraint("track IN ('ack', 'feedback')", name="ck_reminder_log_track"),
        sa.CheckConstraint("stage IN ('before', 'due', 'repeat', 'backup', 'coordinators')",
                           name="ck_reminder_log_stage"),
        sa.CheckConstraint("outcome IN ('sent', 'superseded', 'unreachable')", name="ck_reminder_log_outcome"),
    )
    op.create_index("ix_reminder_log_item_reference", "reminder_log", ["item_reference"])
    op.create_table(
        "reminder_snoozes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("item_reference", sa.String(32), nullable=False),
        sa.Column("contact", sa.String(200), nullable=True),
        sa.Column("held_until", _at(), nullable=False),
        sa.Column("snoozed_by", sa.String(200), nullable=False),
        sa.Column("snoozed_at", _at(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_reminder_snoozes"),
        _item("reminder_snoozes"),
    )
    op.create_index("ix_reminder_snoozes_item_reference", "reminder_snoozes", ["item_reference"])
    op.create_table(
        "reminder_plans",
        sa.Column("item_reference", sa.String(32), nullable=False),
        sa.Column("next_at", _at(), nullable=True),
        sa.Column("deliveries", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("planned_at", _at(), nullable=False),
        sa.PrimaryKeyConstraint("item_reference", name="pk_reminder_plans"),
        _item("reminder_plans"),
    )
    op.create_index("ix_reminder_plans_next_at", "reminder_plans", ["next_at"])
    op.create_table(
        "scheduled_runs",
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("ran_at", _at(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_scheduled_runs"),
    )


def downgrade() -> None:
    op.drop_table("scheduled_runs")
    op.drop_index("ix_reminder_plans_next_at", table_name="reminder_plans")
    op.drop_table("reminder_plans")
    op.drop_index("ix_reminder_snoozes_item_reference", table_name="reminder_snoozes")
    op.drop_table("reminder_snoozes")
    op.drop_index("ix_reminder_log_item_reference", table_name="reminder_log")
    op.drop_table("reminder_log")
