"""Each message recorded in outbox_parts (0020_partids) keeps when it was sent: a copy only partly sent
(its photo went, its text did not) has no sent time of its own, and Telegram's 48 hours to delete it
run from when its first message went. Parts recorded before this have none (taken as sent now, as
before).

Revision ID: 0021_partsat
Revises: 0020_partids
Create Date: 2026-12-07

Written by hand and frozen, like 0001_core. A column only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_partsat"
down_revision: str | Sequence[str] | None = "0020_partids"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox_parts", sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox_parts") as batch:
        batch.drop_column("sent_at")
