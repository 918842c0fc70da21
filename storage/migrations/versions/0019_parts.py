"""The outbox keeps the ids of every message one row became on the platform (a Telegram copy sent as
its photos and then its text, or as a text split into parts), so that taking the copy back or marking
it superseded reaches each of them; recorded as each is sent, so a restart mid-send keeps them.

Revision ID: 0019_parts
Revises: 0018_heldby
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. A column only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_parts"
down_revision: str | Sequence[str] | None = "0018_heldby"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("platform_parts", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "platform_parts")
