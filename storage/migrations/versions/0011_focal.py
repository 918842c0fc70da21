"""Focal points: the roles national-focal-point and organisational-focal-point in the directory.

Revision ID: 0011_focal
Revises: 0010_portal
Create Date: 2026-12-06

Written by hand and frozen: the role column is widened (the names are longer than 16) and its
CHECK allows the two new roles. SQLite cannot alter a constraint, so the table is rebuilt there
(Alembic's batch mode, from the definition below rather than by reflection).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_focal"
down_revision: str | Sequence[str] | None = "0010_portal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The name 0004_directory's CHECK got (its name went through the naming convention once more).
_CHECK = "ck_directory_roles_ck_directory_roles_role"
_OLD = ("officer", "contact", "coordinator", "admin", "auditor")
_NEW = (*_OLD, "national-focal-point", "organisational-focal-point")


def _allowed(values: tuple[str, ...]) -> str:
    return f"role IN ({', '.join(repr(v) for v in values)})"


def _table(length: int, values: tuple[str, ...]) -> sa.Table:
    """directory_roles as 0004_directory made it (or as this revision makes it), for the rebuild."""
    return sa.Table(
        "directory_roles", sa.MetaData(),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("role", sa.String(length), nullable=False),
        sa.PrimaryKeyConstraint("contact", "role", name="pk_directory_roles"),
        sa.ForeignKeyConstraint(["contact"], ["directory_contacts.id"], name="fk_directory_roles_contact_directory_contacts",
                                ondelete="CASCADE"),
        sa.CheckConstraint(_allowed(values), name=_CHECK),
    )


def _change(length: int, before: tuple[str, ...], after: tuple[str, ...], old_length: int) -> None:
    with op.batch_alter_table("directory_roles", copy_from=_table(old_length, before)) as batch:
        batch.drop_constraint(op.f(_CHECK), type_="check")
        batch.alter_column("role", existing_type=sa.String(old_length), type_=sa.String(length),
                           existing_nullable=False)
        batch.create_check_constraint(op.f(_CHECK), sa.text(_allowed(after)))


def upgrade() -> None:
    _change(32, _OLD, _NEW, 16)


def downgrade() -> None:
    # The older code knows no focal points: their roles go; the people stay with their other roles.
    op.execute(sa.text("DELETE FROM directory_roles WHERE role IN ('national-focal-point', "
                       "'organisational-focal-point')"))
    _change(16, _NEW, _OLD, 32)
