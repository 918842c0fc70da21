"""Directory: organisations, desks, contacts, roles, accounts, rooms, sharing arrangements.

Revision ID: 0004_directory
Revises: 0003_followup
Create Date: 2026-11-25

Written by hand and frozen, like 0001_core: it does not import storage.directory_tables, and
spells out constraint names. The tables start empty; the bot seeds them from its configuration.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_directory"
down_revision: str | Sequence[str] | None = "0003_followup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _check(table: str, column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=f"ck_{table}_{column}")


def _fk(table: str, column: str, parent: str, parent_column: str, cascade: bool = True) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{parent}.{parent_column}"], name=f"fk_{table}_{column}_{parent}",
                                   ondelete="CASCADE" if cascade else None)


def upgrade() -> None:
    op.create_table(
        "directory_organisations",
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("standing", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name="pk_directory_organisations"),
        _check("directory_organisations", "kind", ("country", "organisation", "coordinator")),
        _check("directory_organisations", "standing", ("member", "observer")),
    )
    op.create_table(
        "directory_desks",
        sa.Column("organisation", sa.String(16), nullable=False),
        sa.Column("desk", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("organisation", "desk", name="pk_directory_desks"),
        _fk("directory_desks", "organisation", "directory_organisations", "code"),
    )
    op.create_table(
        "directory_contacts",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("organisation", sa.String(16), nullable=False),
        sa.Column("desk", sa.String(64), nullable=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("backup", sa.String(200), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_directory_contacts"),
        _fk("directory_contacts", "organisation", "directory_organisations", "code", cascade=False),
    )
    op.create_table(
        "directory_roles",
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("contact", "role", name="pk_directory_roles"),
        _fk("directory_roles", "contact", "directory_contacts", "id"),
        _check("directory_roles", "role", ("officer", "contact", "coordinator", "admin", "auditor")),
    )
    op.create_table(
        "directory_identities",
        sa.Column("identity", sa.String(300), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("identity", name="pk_directory_identities"),
        _fk("directory_identities", "contact", "directory_contacts", "id"),
    )
    op.create_table(
        "directory_rooms",
        sa.Column("chat", sa.String(300), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("chat", name="pk_directory_rooms"),
        _check("directory_rooms", "purpose", ("network", "country", "organisation", "coordination", "management")),
    )
    op.create_table(
        "directory_room_members",
        sa.Column("room", sa.String(300), nullable=False),
        sa.Column("organisation", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("room", "organisation", name="pk_directory_room_members"),
        _fk("directory_room_members", "room", "directory_rooms", "chat"),
        _fk("directory_room_members", "organisation", "directory_organisations", "code"),
    )
    op.create_table(
        "directory_arrangements",
        sa.Column("key", sa.String(400), nullable=False),
        sa.Column("kind", sa.String(200), nullable=False),
        sa.Column("topics", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_directory_arrangements"),
    )
    op.create_table(
        "directory_parties",
        sa.Column("arrangement", sa.String(400), nullable=False),
        sa.Column("organisation", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("arrangement", "organisation", name="pk_directory_parties"),
        _fk("directory_parties", "arrangement", "directory_arrangements", "key"),
        _fk("directory_parties", "organisation", "directory_organisations", "code"),
    )


def downgrade() -> None:
    for table in ("directory_parties", "directory_arrangements", "directory_room_members", "directory_rooms",
                  "directory_identities", "directory_roles", "directory_contacts", "directory_desks",
                  "directory_organisations"):
        op.drop_table(table)
