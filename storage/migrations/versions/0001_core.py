"""Core tables: reference counters, items, deliveries, inbox, outbox, cursors.

Revision ID: 0001_core
Revises:
Create Date: 2026-11-23

Written by hand and frozen: it must not import storage.tables, whose later changes belong in
later revisions. Constraint names are spelled out so that they do not depend on the MetaData's
naming convention.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_core"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
_ROW_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _states(table: str, column: str, *values: str) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=op.f(f"ck_{table}_{column}"))


def upgrade() -> None:
    op.create_table(
        "reference_counters",
        sa.Column("kind", sa.String(1), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "year", name=op.f("pk_reference_counters")),
    )
    op.create_table(
        "items",
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(1), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("originator", sa.String(200), nullable=False),
        sa.Column("origin_chat", sa.String(300), nullable=False),
        sa.Column("created_at", _at(), nullable=False),
        sa.Column("ack_due", _at(), nullable=True),
        sa.Column("feedback_due", _at(), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("tlp", sa.String(16), nullable=False),
        sa.Column("handling", sa.String(4), nullable=False),
        sa.Column("orcon", sa.Boolean(), nullable=False),
        sa.Column("priority", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(100), nullable=True),
        sa.Column("grading", sa.String(2), nullable=True),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("due_after", sa.Interval(), nullable=True),
        sa.Column("due_at", _at(), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("reference", name=op.f("pk_items")),
        _states("items", "state", "open", "closed"),
    )
    op.create_index(op.f("ix_items_originator"), "items", ["originator"])
    op.create_table(
        "deliveries",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("item_reference", sa.String(32), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("destination", sa.String(300), nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("outbox_key", sa.String(100), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("sent_at", _at(), nullable=True),
        sa.Column("acknowledged_at", _at(), nullable=True),
        sa.Column("answered_at", _at(), nullable=True),
        sa.Column("platform_message_id", sa.String(300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.ForeignKeyConstraint(
            ["item_reference"], ["items.reference"], name=op.f("fk_deliveries_item_reference_items")
        ),
        sa.UniqueConstraint("outbox_key", name=op.f("uq_deliveries_outbox_key")),
        _states("deliveries", "state", "queued", "sent", "failed", "acknowledged", "answered"),
    )
    op.create_index(op.f("ix_deliveries_item_reference"), "deliveries", ["item_reference"])
    op.create_index(op.f("ix_deliveries_contact"), "deliveries", ["contact"])
    op.create_table(
        "inbox",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(300), nullable=False),
        sa.Column("sender", sa.String(300), nullable=False),
        sa.Column("chat", sa.String(300), nullable=False),
        sa.Column("received_at", _at(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("processed_at", _at(), nullable=True),
        sa.Column("error_ref", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbox")),
        sa.UniqueConstraint("platform", "event_id", name=op.f("uq_inbox_platform_event_id")),
        _states("inbox", "state", "pending", "done", "failed"),
    )
    op.create_index(op.f("ix_inbox_state_id"), "inbox", ["state", "id"])
    op.create_table(
        "outbox",
        sa.Column("id", _ROW_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("destination", sa.String(300), nullable=False),
        sa.Column("contact", sa.String(200), nullable=True),
        sa.Column("reference", sa.String(32), nullable=True),
        sa.Column("protect_content", sa.Boolean(), nullable=False),
        sa.Column("reply_to_chat", sa.String(300), nullable=True),
        sa.Column("reply_to_message", sa.String(300), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", _at(), nullable=True),
        sa.Column("lease_until", _at(), nullable=True),
        sa.Column("last_error", sa.String(100), nullable=True),
        sa.Column("platform_message_id", sa.String(300), nullable=True),
        sa.Column("created_at", _at(), nullable=False),
        sa.Column("sent_at", _at(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("key", name=op.f("uq_outbox_key")),
        _states("outbox", "state", "pending", "sending", "sent", "failed"),
    )
    op.create_index(op.f("ix_outbox_state_destination_id"), "outbox", ["state", "destination", "id"])
    op.create_index(op.f("ix_outbox_destination_id"), "outbox", ["destination", "id"])
    op.create_table(
        "cursors",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_cursors")),
    )


def downgrade() -> None:
    op.drop_table("cursors")
    op.drop_index(op.f("ix_outbox_destination_id"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_state_destination_id"), table_name="outbox")
    op.drop_table("outbox")
    op.drop_index(op.f("ix_inbox_state_id"), table_name="inbox")
    op.drop_table("inbox")
    op.drop_index(op.f("ix_deliveries_contact"), table_name="deliveries")
    op.drop_index(op.f("ix_deliveries_item_reference"), table_name="deliveries")
    op.drop_table("deliveries")
    op.drop_index(op.f("ix_items_originator"), table_name="items")
    op.drop_table("items")
    op.drop_table("reference_counters")
