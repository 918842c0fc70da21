"""Audit log: sealed, hash-chained entries, their head, signed checkpoints, and per-case data keys.

Revision ID: 0002_audit
Revises: 0001_core
Create Date: 2026-11-23

Written by hand and frozen, like 0001_core: it does not import storage.audit.tables, and spells
out constraint names so that they do not depend on the MetaData's naming convention. The head row
is made here, so the first append has a row to lock.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_audit"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite makes an INTEGER PRIMARY KEY the rowid; PostgreSQL gets 64 bits.
_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_entries",
        sa.Column("seq", _SEQ, autoincrement=False, nullable=False),
        sa.Column("recorded_at_us", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("reference", sa.String(32), nullable=True),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("schema_version", sa.SmallInteger(), nullable=False),
        sa.Column("case_ref", sa.String(32), nullable=True),
        sa.Column("sealed_meta", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_detail", sa.LargeBinary(), nullable=True),
        sa.Column("prev_hash", sa.LargeBinary(), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_audit_entries"),
    )
    op.create_index("ix_audit_entries_recorded_at_us", "audit_entries", ["recorded_at_us"])
    op.create_index("ix_audit_entries_reference", "audit_entries", ["reference"])
    audit_head = op.create_table(
        "audit_head",
        sa.Column("id", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_hash", sa.LargeBinary(), nullable=False),
        sa.Column("frontier", sa.LargeBinary(), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_head"),
    )
    op.bulk_insert(audit_head, [{"id": 1, "seq": 0, "entry_hash": bytes(32), "frontier": b""}])
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_us", sa.BigInteger(), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name="pk_audit_checkpoints"),
    )
    op.create_table(
        "case_keys",
        sa.Column("reference", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=True),
        sa.Column("master_key_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("(wrapped_key IS NULL) = (erased_at IS NOT NULL)",
                           name="ck_case_keys_wrapped_until_erased"),
        sa.PrimaryKeyConstraint("reference", name="pk_case_keys"),
        sa.UniqueConstraint("key_id", name="uq_case_keys_key_id"),
    )


def downgrade() -> None:
    op.drop_table("case_keys")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_head")
    op.drop_index("ix_audit_entries_reference", table_name="audit_entries")
    op.drop_index("ix_audit_entries_recorded_at_us", table_name="audit_entries")
    op.drop_table("audit_entries")
