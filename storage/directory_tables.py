"""The directory's tables: organisations and desks, contacts with roles and accounts, rooms, arrangements.

Seeded from the configuration at each start and then the directory's source of truth (see
storage.directory). `position` keeps the order the configuration gave (the order `to:all` and
listings follow); rows admins add later go after it. Migration 0004_directory creates exactly
these tables; tests/storage/test_directory_schema.py checks that the two agree.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, Date, DateTime, ForeignKey, Index, Integer, String, Table, Text

from storage.schema import metadata

ORG_KINDS = ("country", "organisation", "coordinator")
STANDINGS = ("member", "observer")
ROLES = ("officer", "contact", "coordinator", "admin", "auditor")
ROOM_PURPOSES = ("network", "country", "organisation", "coordination", "management")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    return CheckConstraint(f"{column} IN ({', '.join(repr(v) for v in values)})", name=column)


def _parent(table_column: str) -> ForeignKey:
    return ForeignKey(table_column, ondelete="CASCADE")


directory_organisations = Table(
    "directory_organisations",
    metadata,
    Column("code", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("standing", String(16), nullable=False),
    Column("position", Integer, nullable=False),
    _one_of("kind", ORG_KINDS),
    _one_of("standing", STANDINGS),
)

directory_desks = Table(
    "directory_desks",
    metadata,
    Column("organisation", String(16), _parent("directory_organisations.code"), primary_key=True),
    Column("desk", String(64), primary_key=True),
    Column("position", Integer, nullable=False),
)

directory_contacts = Table(
    "directory_contacts",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("organisation", String(16), ForeignKey("directory_organisations.code"), nullable=False),
    Column("desk", String(64)),  # None: the national level
    Column("timezone", String(64), nullable=False),
    Column("backup", String(200)),  # a contact id; not a foreign key, so a backup may be onboarded later
    Column("position", Integer, nullable=False),
)

directory_roles = Table(
    "directory_roles",
    metadata,
    Column("contact", String(200), _parent("directory_contacts.id"), primary_key=True),
    Column("role", String(16), primary_key=True),
    _one_of("role", ROLES),
)

directory_identities = Table(
    "directory_identities",
    metadata,
    Column("identity", String(300), primary_key=True),  # one account belongs to one contact
    Column("contact", String(200), _parent("directory_contacts.id"), nullable=False),
    Column("position", Integer, nullable=False),  # the first is where direct deliveries go
)

directory_rooms = Table(
    "directory_rooms",
    metadata,
    Column("chat", String(300), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("position", Integer, nullable=False),
    # Added by 0009_arrange: what a hub or topic room is for (comma-joined; NULL: any item), and when an
    # admin retired it (/room retire): a retired room is no longer loaded, and seeding does not revive it.
    Column("hubs", Text),
    Column("topics", Text),
    Column("retired_at", DateTime(timezone=True)),
    _one_of("purpose", ROOM_PURPOSES),
)

directory_room_members = Table(
    "directory_room_members",
    metadata,
    Column("room", String(300), _parent("directory_rooms.chat"), primary_key=True),
    Column("organisation", String(16), _parent("directory_organisations.code"), primary_key=True),
)

directory_arrangements = Table(
    "directory_arrangements",
    metadata,
    Column("key", String(400), primary_key=True),  # alerts.arrangements.Arrangement.key
    Column("kind", String(200), nullable=False),
    Column("topics", Text),  # comma-joined topic names; NULL: every topic
    Column("position", Integer, nullable=False),
    # Added by 0009_arrange: the number /arrangement list shows (given once, never reused), the days
    # in force, the one party that gives where it goes one way, and an early end by a coordinator.
    Column("number", Integer),
    Column("starts", Date),
    Column("ends", Date),
    Column("giver", String(16)),
    Column("ended_at", DateTime(timezone=True)),
    Column("end_reason", Text),
    Index("ix_directory_arrangements_number", "number", unique=True),
)

directory_parties = Table(
    "directory_parties",
    metadata,
    Column("arrangement", String(400), _parent("directory_arrangements.key"), primary_key=True),
    Column("organisation", String(16), _parent("directory_organisations.code"), primary_key=True),
)

DIRECTORY_TABLES = (
    directory_organisations, directory_desks, directory_contacts, directory_roles, directory_identities,
    directory_rooms, directory_room_members, directory_arrangements, directory_parties,
)
