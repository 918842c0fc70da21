"""Erasure: an item remembers that its case was erased, when, and why.

Revision ID: 0007_erasure
Revises: 0006_keyed_audit_head
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. Nullable additions, so SQLite needs no table rebuild.

Cases erased before this revision had only their key destroyed: their items stay open and their
unsent messages pending, which nothing can open any more. The upgrade puts them in the state an
erasure now leaves: the item closed and marked erased at the key's erasure time (its reason was
not recorded with it: it is in the audit log), its unsent messages failed with the code `erased`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_erasure"
down_revision: str | Sequence[str] | None = "0006_keyed_audit_head"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("items", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("items", sa.Column("erasure", sa.LargeBinary(), nullable=True))
    erased_key = "SELECT 1 FROM case_keys WHERE case_keys.reference = {0} AND case_keys.erased_at IS NOT NULL"
    erased_at = "(SELECT case_keys.erased_at FROM case_keys WHERE case_keys.reference = items.reference)"
    op.execute(
        f"UPDATE items SET erased_at = {erased_at}, state = 'closed', "
        f"closed_at = COALESCE(closed_at, {erased_at}), closed_by = COALESCE(closed_by, 'erasure'), outcome = NULL "
        f"WHERE erased_at IS NULL AND EXISTS ({erased_key.format('items.reference')})"
    )
    op.execute(
        "UPDATE outbox SET state = 'failed', lease_until = NULL, last_error = 'erased' "
        f"WHERE state IN ('pending', 'sending') AND EXISTS ({erased_key.format('outbox.reference')})"
    )


def downgrade() -> None:
    op.drop_column("items", "erasure")
    op.drop_column("items", "erased_at")
