"""Held corrections: a /correct whose next revision needs two-person release waits in `releases`.

Revision ID: 0017_heldfix
Revises: 0016_outfiles
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. Two nullable columns: the revision a held correction
makes, and its draft, sealed under the item's case key (NULL for an item held when it was sent).
And an index on the outbox's platform message ids: a reaction on an approval request on Matrix is
found by its event id.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_heldfix"
down_revision: str | Sequence[str] | None = "0016_outfiles"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("releases") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("correction", sa.LargeBinary(), nullable=True))
    op.create_index("ix_outbox_platform_message_id", "outbox", ["platform_message_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_platform_message_id", table_name="outbox")
    with op.batch_alter_table("releases") as batch:
        batch.drop_column("correction")
        batch.drop_column("revision")
