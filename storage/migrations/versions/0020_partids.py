"""Each message recorded in the outbox's platform_parts (0019_parts) is found by its platform id: a
reply to a copy's photo, or to its text's second part, is to that copy as much as a reply to its
first part. Filled from platform_parts as recorded so far.

Revision ID: 0020_partids
Revises: 0019_parts
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. A new table only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_partids"
down_revision: str | Sequence[str] | None = "0019_parts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    parts = op.create_table(
        "outbox_parts",
        sa.Column("platform", sa.String(16), primary_key=True),
        sa.Column("message_id", sa.String(300), primary_key=True),
        sa.Column("outbox_key", sa.String(100), nullable=False),
    )
    op.create_index("ix_outbox_parts_outbox_key", "outbox_parts", ["outbox_key"])
    outbox = sa.table("outbox", sa.column("id", sa.Integer), sa.column("key", sa.String),
                      sa.column("platform", sa.String), sa.column("platform_parts", sa.Text))
    found: dict[tuple[str, str], str] = {}
    for row in op.get_bind().execute(sa.select(outbox.c.key, outbox.c.platform, outbox.c.platform_parts)
                                     .where(outbox.c.platform_parts.is_not(None)).order_by(outbox.c.id)):
        for part in row.platform_parts.split():
            found.setdefault((row.platform, part), row.key)  # the first row to record an id keeps it
    if found:
        op.bulk_insert(parts, [{"platform": platform, "message_id": part, "outbox_key": key}
                               for (platform, part), key in found.items()])


def downgrade() -> None:
    op.drop_index("ix_outbox_parts_outbox_key", table_name="outbox_parts")
    op.drop_table("outbox_parts")
