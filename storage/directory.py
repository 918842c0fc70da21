"""The directory in the database: seeded from the configuration, then the source of truth.

    store = SqlDirectoryStore()
    with engine.begin() as connection:
        store.seed(connection, settings.directory())   # at every start
    source = DatabaseDirectory(engine)                  # handlers.ports.DirectorySource
    source.current()                                    # a cached snapshot; refresh() reloads it

The seeding rule: at start, the configuration wins for everything it names. Each organisation,
contact, room and arrangement in the file is inserted, or updated to match the file, together with
what belongs to it (an organisation's desks, a contact's roles and accounts, a room's member
organisations, an arrangement's parties); an account the file gives to a contact moves to that
contact. Nothing the file does not name is touched: what admin commands added or changed in the
database stays until an admin changes it, or until the file names the same thing. Seeding records
nothing else and is idempotent: seeding the same file twice changes nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, Table, delete, func, select, text, update

from alerts.arrangements import Arrangement
from alerts.directory import Contact, Directory, Organisation, OrgKind, Room, RoomPurpose, Standing
from alerts.identity import ChatRef, UserRef
from alerts.roles import Role
from storage.db import READ_ONLY, insert_for
from storage.directory_version import bump_version, read_version
from storage.tables import cursors
from storage.directory_tables import (directory_arrangements, directory_contacts, directory_desks,
                                      directory_identities, directory_organisations, directory_parties,
                                      directory_roles, directory_room_members, directory_rooms)

_SEED_LOCK_ID = 0x6C69_6169_6469_72  # a PostgreSQL advisory lock: two starts seed one after the other
_CHUNK = 500  # keys per IN (...) list, well under every database's limit on bound parameters


class SqlDirectoryStore:
    """Reads and seeds the directory tables on the caller's connection, inside the caller's transaction."""

    def seed(self, connection: Connection, directory: Directory) -> None:
        """Make the database agree with `directory` on everything `directory` names; keep the rest."""
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _SEED_LOCK_ID})
        orgs = list(directory.organisations.values())
        _upsert(connection, directory_organisations, ("code",), [
            {"code": o.code, "name": o.name, "kind": o.kind.value, "standing": o.standing.value, "position": i}
            for i, o in enumerate(orgs)])
        _replace(connection, directory_desks, "organisation", [o.code for o in orgs], [
            {"organisation": o.code, "desk": desk, "position": i} for o in orgs for i, desk in enumerate(o.desks)])
        contacts = list(directory.contacts.values())
        _upsert(connection, directory_contacts, ("id",), [
            {"id": c.id, "name": c.name, "organisation": c.organisation, "desk": c.desk, "timezone": c.timezone,
             "backup": c.backup, "position": i} for i, c in enumerate(contacts)])
        ids = [c.id for c in contacts]
        _replace(connection, directory_roles, "contact", ids, [
            {"contact": c.id, "role": role.value} for c in contacts for role in sorted(c.roles, key=lambda r: r.value)])
        accounts = [{"identity": str(identity), "contact": c.id, "position": i}
                    for c in contacts for i, identity in enumerate(c.identities)]
        # The file wins for the accounts it names, even when the database gave one to someone else.
        _delete_in(connection, directory_identities, "identity", [a["identity"] for a in accounts])
        _replace(connection, directory_identities, "contact", ids, accounts)
        rooms = list(directory.rooms)
        # A room an admin retired stays retired: the file does not bring it back (keep=retired_at).
        _upsert(connection, directory_rooms, ("chat",), [
            {"chat": str(r.chat), "name": r.name, "purpose": r.purpose.value, "position": i,
             "hubs": _joined(r.hubs), "topics": _joined(r.topics)}
            for i, r in enumerate(rooms)], keep=("retired_at",))
        _replace(connection, directory_room_members, "room", [str(r.chat) for r in rooms], [
            {"room": str(r.chat), "organisation": code} for r in rooms for code in sorted(r.organisations)])
        arrangements = list(directory.arrangements)
        numbers = _arrangement_numbers(connection, [a.key for a in arrangements])
        # A coordinator's early end (and the number) outlive a restart: the file cannot revive an
        # arrangement ended in chat; only a new kind (a new document) can.
        _upsert(connection, directory_arrangements, ("key",), [
            {"key": a.key, "kind": a.kind, "topics": ",".join(sorted(a.topics)) if a.topics else None,
             "position": i, "number": numbers[a.key], "starts": a.starts, "ends": a.ends, "giver": a.giver}
            for i, a in enumerate(arrangements)], keep=("number", "ended_at", "end_reason"))
        _replace(connection, directory_parties, "arrangement", [a.key for a in arrangements], [
            {"arrangement": a.key, "organisation": code} for a in arrangements for code in sorted(a.parties)])
        bump_version(connection)  # a running instance reloads what this start's configuration changed

    def load(self, connection: Connection, default_zone: str = "UTC") -> Directory:
        """The whole directory as one snapshot, in the order the configuration (then admins) gave;
        `default_zone` is the clock of people without a zone of their own (Directory.zone_for)."""
        desks = _grouped(connection, directory_desks, "organisation", "desk", order="position")
        organisations = [
            Organisation(row.code, row.name, OrgKind(row.kind), Standing(row.standing), tuple(desks.get(row.code, ())))
            for row in _ordered(connection, directory_organisations, "code")]
        roles = _grouped(connection, directory_roles, "contact", "role")
        accounts = _grouped(connection, directory_identities, "contact", "identity", order="position")
        contacts = [
            Contact(row.id, row.name, row.organisation, frozenset(Role(r) for r in roles.get(row.id, ())),
                    tuple(UserRef.parse(i) for i in accounts.get(row.id, ())), row.desk, row.timezone, row.backup)
            for row in _ordered(connection, directory_contacts, "id")]
        members = _grouped(connection, directory_room_members, "room", "organisation")
        encrypted = _encrypted_rooms(connection)
        rooms = [Room(ChatRef.parse(row.chat), row.name, RoomPurpose(row.purpose), frozenset(members.get(row.chat, ())),
                      row.chat in encrypted, _split(row.hubs), _split(row.topics))
                 for row in _ordered(connection, directory_rooms, "chat") if row.retired_at is None]
        parties = _grouped(connection, directory_parties, "arrangement", "organisation")
        arrangements = [_arrangement(row, parties.get(row.key, ()))
                        for row in _ordered(connection, directory_arrangements, "key")]
        return Directory.build(organisations, contacts, rooms, arrangements, default_zone=default_zone)


class DatabaseDirectory:
    """handlers.ports.DirectorySource on the database: one cached snapshot, replaced by refresh().

    current() costs an attribute read; commands that change the directory call refresh() after
    their transaction commits, and every command after that resolves against the new snapshot.
    """

    def __init__(self, engine: Engine, store: SqlDirectoryStore | None = None, *, default_zone: str = "UTC") -> None:
        self._engine = engine
        self._default_zone = default_zone  # the configured default_timezone
        self._store = store or SqlDirectoryStore()
        self._snapshot: Directory | None = None
        self._version = -1
        self._lock = threading.Lock()

    def current(self) -> Directory:
        snapshot = self._snapshot
        return snapshot if snapshot is not None else self.refresh()

    def refresh(self) -> Directory:
        """Load the directory again; the new snapshot replaces the old one whole."""
        with self._lock:  # two refreshes at once would only load twice; one at a time keeps the latest
            with self._engine.connect() as connection:
                connection.execution_options(**READ_ONLY)
                if connection.dialect.name == "postgresql":  # one snapshot over all the SELECTs
                    connection.execution_options(isolation_level="REPEATABLE READ")
                with connection.begin():
                    version = read_version(connection)
                    snapshot = self._store.load(connection, self._default_zone)
            self._snapshot, self._version = snapshot, version
            return snapshot

    def refresh_if_changed(self) -> bool:
        """Reload when another writer (the CLI, another instance) changed the directory since the
        snapshot was loaded; True when it did."""
        with self._engine.connect() as connection:
            connection.execution_options(**READ_ONLY)
            with connection.begin():
                version = read_version(connection)
        if version == self._version and self._snapshot is not None:
            return False
        self.refresh()
        return True

    def seed(self, directory: Directory) -> Directory:
        """Seed from `directory` (the configuration's) in one transaction, then load what the database says."""
        with self._engine.begin() as connection:
            self._store.seed(connection, directory)
        return self.refresh()


# What the Matrix connector last saw of each registered room (bot/connectors/matrix/room_reports.py
# keeps it, one JSON value per room in `cursors`): a room counts as end-to-end encrypted while its
# encryption is Megolm, and as unencrypted before anyone has looked.
MATRIX_ROOM_SAFETY = "matrix-room-safety:"
MEGOLM = "m.megolm.v1.aes-sha2"


def _encrypted_rooms(connection: Connection) -> set[str]:
    """The chats (as stored, "matrix:!id") of the Matrix rooms last seen encrypted with Megolm."""
    found = set()
    rows = connection.execute(select(cursors.c.name, cursors.c.value)
                              .where(cursors.c.name.startswith(MATRIX_ROOM_SAFETY, autoescape=True)))
    for name, value in rows:
        try:
            seen = json.loads(value)
        except ValueError:
            continue  # unreadable: treated as unencrypted
        if isinstance(seen, dict) and seen.get("encryption") == MEGOLM:
            found.add("matrix:" + name[len(MATRIX_ROOM_SAFETY):])
    return found


def in_chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start:start + _CHUNK]


def _joined(values: frozenset[str]) -> str | None:
    return ",".join(sorted(values)) if values else None


def _split(value: str | None) -> frozenset[str]:
    return frozenset(value.split(",")) if value else frozenset()


def _arrangement(row: Any, parties: Iterable[str]) -> Arrangement:
    ended_at = row.ended_at
    if ended_at is not None and ended_at.tzinfo is None:  # SQLite gives back naive UTC
        ended_at = ended_at.replace(tzinfo=timezone.utc)
    return Arrangement(row.kind, frozenset(parties), frozenset(row.topics.split(",")) if row.topics else frozenset(),
                       row.starts, row.ends, row.giver, ended_at, row.end_reason or "", row.number)


def _arrangement_numbers(connection: Connection, keys: Sequence[str]) -> dict[str, int]:
    """The number of each arrangement: its own when stored, else the next free ones, in order."""
    a = directory_arrangements.c
    numbers: dict[str, int] = {}
    for chunk in in_chunks(keys):
        numbers.update({row.key: row.number for row in connection.execute(select(a.key, a.number)
                                                                          .where(a.key.in_(chunk)))
                        if row.number is not None})
    last = connection.execute(select(func.max(a.number))).scalar_one_or_none() or 0
    for key in keys:
        if key not in numbers:
            last += 1
            numbers[key] = last
    return numbers


def _upsert(connection: Connection, table: Table, keys: tuple[str, ...], rows: list[dict[str, Any]],
            keep: tuple[str, ...] = ()) -> None:
    """Insert the rows, or update them to match; the columns `keep` are set on insert only."""
    if not rows:
        return
    statement = insert_for(connection, table)
    updates = {c.name: statement.excluded[c.name] for c in table.columns if c.name not in keys + keep}
    connection.execute(statement.on_conflict_do_update(index_elements=list(keys), set_=updates), rows)


def _delete_in(connection: Connection, table: Table, column: str, values: Sequence[Any]) -> None:
    for chunk in in_chunks(values):
        connection.execute(delete(table).where(table.c[column].in_(chunk)))


def _replace(connection: Connection, table: Table, owner: str, owners: Sequence[Any],
             rows: list[dict[str, Any]]) -> None:
    """The rows belonging to each of `owners` become exactly `rows`."""
    _delete_in(connection, table, owner, owners)
    if rows:
        connection.execute(table.insert(), rows)


def _ordered(connection: Connection, table: Table, key: str) -> list[Any]:
    return list(connection.execute(select(table).order_by(table.c.position, table.c[key])))


def _grouped(connection: Connection, table: Table, owner: str, value: str,
             order: str | None = None) -> dict[str, list[str]]:
    ordering = [table.c[order]] if order else []
    found: dict[str, list[str]] = {}
    for row in connection.execute(select(table.c[owner], table.c[value]).order_by(table.c[owner], *ordering,
                                                                                 table.c[value])):
        found.setdefault(row[0], []).append(row[1])
    return found


# --- writes (/member, `liaison-bot member`) ---------------------------------------------------------

class _DirectoryChanges:
    """Writes to the directory on the caller's connection, inside the caller's transaction.

    `changed` tells the unit of work that the snapshot must be reloaded after its commit
    (DatabaseDirectory.refresh); storage.uow.SqlUnitOfWork.commit does it.
    """

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self.changed = False

    def _mark_changed(self) -> None:
        if not self.changed:
            bump_version(self._conn)  # once per transaction: other processes reload after it commits
        self.changed = True


class SqlDirectoryWriter(_DirectoryChanges):
    """handlers.ports.DirectoryWriter."""

    def _exists(self, contact_id: str) -> bool:
        c = directory_contacts.c
        return self._conn.execute(select(c.id).where(c.id == contact_id)).first() is not None

    def _check_accounts(self, contact: Contact) -> None:
        i = directory_identities.c
        taken = self._conn.execute(
            select(i.identity, i.contact).where(i.identity.in_([str(x) for x in contact.identities]),
                                                i.contact != contact.id)).first()
        if taken is not None:
            raise ValueError(f"the account {taken.identity} belongs to {taken.contact}")
        if len(set(contact.identities)) != len(contact.identities):
            raise ValueError(f"{contact.id} lists an account twice")

    def _write_parts(self, contact: Contact) -> None:
        _replace(self._conn, directory_roles, "contact", [contact.id],
                 [{"contact": contact.id, "role": r.value} for r in sorted(contact.roles, key=lambda r: r.value)])
        _replace(self._conn, directory_identities, "contact", [contact.id],
                 [{"identity": str(x), "contact": contact.id, "position": n} for n, x in enumerate(contact.identities)])

    def _row(self, contact: Contact) -> dict[str, Any]:
        return {"name": contact.name, "organisation": contact.organisation, "desk": contact.desk,
                "timezone": contact.timezone, "backup": contact.backup}

    def add_contact(self, contact: Contact) -> None:
        if self._exists(contact.id):
            raise ValueError(f"there is a contact {contact.id} already")
        self._check_accounts(contact)
        c = directory_contacts.c
        last = self._conn.execute(select(func.max(c.position))).scalar_one_or_none()
        self._conn.execute(directory_contacts.insert().values(
            id=contact.id, position=(last if last is not None else -1) + 1, **self._row(contact)))
        self._write_parts(contact)
        self._mark_changed()

    def update_contact(self, contact: Contact) -> None:
        if not self._exists(contact.id):
            raise KeyError(contact.id)
        self._check_accounts(contact)
        self._conn.execute(update(directory_contacts).where(directory_contacts.c.id == contact.id)
                           .values(**self._row(contact)))
        self._write_parts(contact)
        self._mark_changed()

    def register_room(self, room: Room) -> bool:
        """Register `room` (or register it again, as given, when it was retired or is registered);
        True when it was new or retired."""
        r = directory_rooms.c
        found = self._conn.execute(select(r.retired_at).where(r.chat == str(room.chat))).first()
        values = {"name": room.name, "purpose": room.purpose.value, "hubs": _joined(room.hubs),
                  "topics": _joined(room.topics), "retired_at": None}
        if found is None:
            last = self._conn.execute(select(func.max(r.position))).scalar_one_or_none()
            self._conn.execute(directory_rooms.insert().values(
                chat=str(room.chat), position=(last if last is not None else -1) + 1, **values))
        else:
            self._conn.execute(update(directory_rooms).where(r.chat == str(room.chat)).values(**values))
        _replace(self._conn, directory_room_members, "room", [str(room.chat)],
                 [{"room": str(room.chat), "organisation": code} for code in sorted(room.organisations)])
        self._mark_changed()
        return found is None or found.retired_at is not None

    def retire_room(self, chat: ChatRef, at: datetime) -> bool:
        """Retire a registered room; False when it is not registered (or retired already)."""
        r = directory_rooms.c
        result = self._conn.execute(update(directory_rooms).where(r.chat == str(chat), r.retired_at.is_(None))
                                    .values(retired_at=at))
        if result.rowcount:
            self._mark_changed()
        return bool(result.rowcount)

    def retired_at(self, chat: ChatRef) -> datetime | None:
        r = directory_rooms.c
        found = self._conn.execute(select(r.retired_at).where(r.chat == str(chat))).first()
        if found is None or found.retired_at is None:
            return None
        at: datetime = found.retired_at
        return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)  # SQLite gives back naive UTC

    def remove_contact(self, contact_id: str) -> bool:
        # Children first: SQLite enforces ON DELETE CASCADE only with PRAGMA foreign_keys.
        _delete_in(self._conn, directory_roles, "contact", [contact_id])
        _delete_in(self._conn, directory_identities, "contact", [contact_id])
        result = self._conn.execute(delete(directory_contacts).where(directory_contacts.c.id == contact_id))
        self._mark_changed()
        return result.rowcount > 0


# --- sharing arrangements (/arrangement) ------------------------------------------------------------

class SqlArrangements(_DirectoryChanges):
    """handlers.ports.ArrangementRepository."""

    def add(self, arrangement: Arrangement) -> Arrangement:
        a = directory_arrangements.c
        if self._conn.execute(select(a.key).where(a.key == arrangement.key)).first() is not None:
            raise ValueError(f"there is an arrangement {arrangement.kind!r} between "
                             f"{', '.join(sorted(arrangement.parties))} already")
        last = self._conn.execute(select(func.max(a.number), func.max(a.position))).one()
        number = (last[0] or 0) + 1
        self._conn.execute(directory_arrangements.insert().values(
            key=arrangement.key, kind=arrangement.kind, position=(last[1] if last[1] is not None else -1) + 1,
            topics=",".join(sorted(arrangement.topics)) if arrangement.topics else None, number=number,
            starts=arrangement.starts, ends=arrangement.ends, giver=arrangement.giver))
        self._conn.execute(directory_parties.insert(), [
            {"arrangement": arrangement.key, "organisation": code} for code in sorted(arrangement.parties)])
        self._mark_changed()
        return Arrangement(arrangement.kind, arrangement.parties, arrangement.topics, arrangement.starts,
                           arrangement.ends, arrangement.giver, number=number)

    def end(self, number: int, at: datetime, reason: str) -> bool:
        a = directory_arrangements.c
        result = self._conn.execute(update(directory_arrangements)
                                    .where(a.number == number, a.ended_at.is_(None))
                                    .values(ended_at=at, end_reason=reason))
        if result.rowcount:
            self._mark_changed()
        return bool(result.rowcount)
