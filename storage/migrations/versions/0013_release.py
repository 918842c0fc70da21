"""Two-person release: the `approver` role, and the items held until a second person decides.

Revision ID: 0013_release
Revises: 0012_withdraw
Create Date: 2026-12-06

Written by hand and frozen, like 0001_core. The roles' CHECK constraint gains `approver`: SQLite
cannot alter a constraint, so the table is rebuilt (batch mode) from the definition below.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_release"
down_revision: str | Sequence[str] | None = "0012_withdraw"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_ROLES = ("officer", "contact", "coordinator", "admin", "auditor", "national-focal-point",
              "organisational-focal-point")  # as 0011_focal left them
_NEW_ROLES = _OLD_ROLES + ("approver",)
# The name 0004_directory gave it (its name went through the naming convention twice); kept as it is.
_CHECK = "ck_directory_roles_ck_directory_roles_role"


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _roles_table(roles: tuple[str, ...]) -> sa.Table:
    return sa.Table(
        "directory_roles", sa.MetaData(),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),  # as 0011_focal made it
        sa.PrimaryKeyConstraint("contact", "role", name="pk_directory_roles"),
        sa.ForeignKeyConstraint(["contact"], ["directory_contacts.id"], name="fk_directory_roles_contact_directory_contacts",
                                ondelete="CASCADE"),
        sa.CheckConstraint(_in("role", roles), name=_CHECK),
    )


def _set_roles(old: tuple[str, ...], new: tuple[str, ...]) -> None:
    with op.batch_alter_table("directory_roles", copy_from=_roles_table(old), recreate="auto") as batch:
        batch.drop_constraint(op.f(_CHECK), type_="check")
        batch.create_check_constraint(op.f(_CHECK), _in("role", new))


def upgrade() -> None:
    _set_roles(_OLD_ROLES, _NEW_ROLES)
    op.create_table(
        "releases",
        sa.Column("item_reference", sa.String(32), nullable=False),
        sa.Column("originator", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(16), nullable=False),
        sa.Column("confirmed", sa.Boolean(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("item_reference", name="pk_releases"),
        sa.ForeignKeyConstraint(["item_reference"], ["items.reference"], name="fk_releases_item_reference_items"),
        sa.CheckConstraint(_in("state", ("pending", "approved", "declined", "expired", "failed")),
                           name="ck_releases_state"),
    )
    op.create_index("ix_releases_state", "releases", ["state"])


def downgrade() -> None:
    op.drop_index("ix_releases_state", table_name="releases")
    op.drop_table("releases")
    op.execute("DELETE FROM directory_roles WHERE role = 'approver'")
    _set_roles(_NEW_ROLES, _OLD_ROLES)
