"""An index on the outbox's contact: /find and /mine all find the copies a delegate was sent for
someone away (the delivery's outbox row went to them), without reading the whole outbox.

Revision ID: 0018_heldby
Revises: 0017_heldfix
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. An index only.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0018_heldby"
down_revision: str | Sequence[str] | None = "0017_heldfix"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_contact", "outbox", ["contact"])


def downgrade() -> None:
    op.drop_index("ix_outbox_contact", table_name="outbox")
