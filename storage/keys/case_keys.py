"""Per-case data keys: one random AES-256 key per case (item reference), wrapped by a master key.

Erasing a case overwrites its wrapped key with NULL: everything sealed under it, in items,
outbox, inbox and audit details alike, can no longer be opened by anyone. The row stays, with the time
of erasure, so that "erased" can be told apart from "deleted by someone" and so that no new key
is made for an erased case.

The wrapped key is only as gone as every copy of the row: on SQLite we set secure_delete and
the caller should truncate the WAL after commit (truncate_wal); PostgreSQL keeps dead tuples
until VACUUM, and backups keep what they kept. Whoever holds both the master key and such an
old copy can still unwrap; that is the limit of erasure by key destruction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, CheckConstraint, Column, Connection, Engine, LargeBinary, String, Table, select, text, update

from alerts.clock import Clock
from storage.keys.driver import Binder, execute, fetch_one, insert_many, submit, together
from storage.keyring import Keyring
from storage.schema import metadata
from storage.schema import UtcDateTime
from storage.write_behind import held_writes

case_keys = Table(
    "case_keys",
    metadata,
    Column("reference", String(32), primary_key=True),
    Column("key_id", String(40), nullable=False, unique=True),
    Column("wrapped_key", LargeBinary),  # 12-byte nonce + AES-GCM(master, data key); NULL once erased
    Column("master_key_id", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("erased_at", UtcDateTime),
    CheckConstraint("(wrapped_key IS NULL) = (erased_at IS NOT NULL)", name="wrapped_until_erased"),
)


_LIVE_KEY = "SELECT key_id, master_key_id, wrapped_key FROM case_keys WHERE reference = ?"
_BY_REFERENCE = select(case_keys).where(case_keys.c.reference == bindparam("reference"))


# ON CONFLICT ... DO NOTHING: of two writers making a case's key, the first wins (SQLite >= 3.24, PostgreSQL).
_INSERT_KEY = ("INSERT INTO case_keys (reference, key_id, wrapped_key, master_key_id, created_at, erased_at) "
               "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (reference) DO NOTHING")
# PostgreSQL makes a missing key and reads the case's key in one round trip (storage.keys.driver.together):
# the insert is tried only when no key is visible, as a SELECT then INSERT would, so that an existing
# key is read without waiting on a writer that holds its row (an erasure under way).
_CREATE_IF_NONE = ("INSERT INTO case_keys (reference, key_id, wrapped_key, master_key_id, created_at) "
                   "SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM case_keys WHERE reference = ?) "
                   "ON CONFLICT (reference) DO NOTHING")
_KEY_ROW = Binder((case_keys.c.reference, case_keys.c.key_id, case_keys.c.wrapped_key, case_keys.c.master_key_id,
                   case_keys.c.created_at, case_keys.c.erased_at))
_NEW_KEY = Binder((case_keys.c.reference, case_keys.c.key_id, case_keys.c.wrapped_key, case_keys.c.master_key_id,
                   case_keys.c.created_at, case_keys.c.reference))


def _insert_key(connection: Connection, reference: str, key_id: str, wrapped: bytes | None, master_key_id: str,
                created_at: datetime, erased_at: datetime | None) -> int:
    """Insert the key row unless the case has one; returns the driver's rowcount (1: inserted)."""
    return execute(connection, _INSERT_KEY,
                   _KEY_ROW(connection, (reference, key_id, wrapped, master_key_id, created_at, erased_at)))


class CaseKeyError(Exception):
    """A case key that exists but cannot be unwrapped: wrong master key, or the row was altered."""


@dataclass(frozen=True)
class CaseKey:
    reference: str
    key_id: str
    aead: AESGCM | None  # None once erased
    erased_at: datetime | None

    @property
    def erased(self) -> bool:
        return self.aead is None


def wrap_aad(reference: str, key_id: str, master_key_id: str) -> bytes:
    # Binds the wrapped key to its case: a wrapped key copied to another case's row does not open.
    return b"case_keys|" + reference.encode() + b"|" + key_id.encode() + b"|" + master_key_id.encode()


def unwrap(keyring: Keyring, reference: str, key_id: str, master_key_id: str, wrapped: bytes) -> AESGCM:
    try:
        data_key = keyring.aead(master_key_id).decrypt(
            wrapped[:12], wrapped[12:], wrap_aad(reference, key_id, master_key_id)
        )
    except Exception as exc:  # InvalidTag, unknown master key, short blob: all "cannot unwrap"
        raise CaseKeyError(f"the data key of case {reference} cannot be unwrapped ({type(exc).__name__})") from None
    return AESGCM(data_key)


def _wrap(keyring: Keyring, reference: str, key_id: str, data_key: bytes) -> bytes:
    nonce = os.urandom(12)
    master = keyring.current_id
    return nonce + keyring.aead(master).encrypt(nonce, data_key, wrap_aad(reference, key_id, master))


class CaseKeys:
    """The case keys seen through one connection, in the caller's transaction; unwrapped keys are cached."""

    def __init__(self, connection: Connection, keyring: Keyring, clock: Clock | None = None) -> None:
        self._connection = connection
        self._keyring = keyring
        self._clock = clock
        self._cache: dict[str, CaseKey] = {}
        self._new: set[str] = set()

    def _now(self) -> datetime:
        return self._clock.now() if self._clock else datetime.now(timezone.utc)

    def forget(self) -> None:
        """Drop what is cached: after a savepoint rollback a cached key may name a row that is gone
        (its reference number is then handed out again, with a new key) or an erasure undone."""
        self._cache.clear()
        self._new.clear()

    def expect_new(self, reference: str) -> None:
        """`reference` was just numbered: its key is to be made, so get_or_create tries the insert
        first instead of looking for a row first. Only a hint: a row that is there all the same (an
        erasure's tombstone) still wins, through the insert's conflict."""
        self._new.add(reference)

    def get(self, reference: str) -> CaseKey | None:
        cached = self._cache.get(reference)
        if cached is not None:
            return cached
        # On the path of every append: driver SQL, see storage.keys.driver.
        return self._from_row(reference, fetch_one(self._connection, _LIVE_KEY, (reference,)))

    def _from_row(self, reference: str, row: Any) -> CaseKey | None:
        if row is None:
            return None
        key_id, master_key_id, wrapped = row
        if wrapped is None:  # erased: the rare path may take the time to read a proper datetime
            erased_at = self._connection.execute(_BY_REFERENCE, {"reference": reference}).one().erased_at
            key = CaseKey(reference, key_id, None, erased_at)
        else:
            key = CaseKey(reference, key_id, unwrap(self._keyring, reference, key_id, master_key_id, bytes(wrapped)), None)
        self._cache[reference] = key
        return key

    def get_or_create(self, reference: str) -> CaseKey:
        """The case's key, made now if it has none; two writers racing both end up with the winner's."""
        cached = self._cache.get(reference)
        if cached is not None:
            return cached
        connection = self._connection
        if reference in self._new and held_writes(connection) is not None:
            return self._create_held(reference)
        postgres = connection.dialect.name == "postgresql"
        # On PostgreSQL the check goes with the insert (_CREATE_IF_NONE); on SQLite a new case skips it.
        if not postgres and reference not in self._new:
            existing = self.get(reference)
            if existing is not None:
                return existing
        key_id = "ck-" + os.urandom(8).hex()
        data_key = os.urandom(32)
        wrapped = _wrap(self._keyring, reference, key_id, data_key)
        if postgres:
            with together(connection):
                execute(connection, _CREATE_IF_NONE, _NEW_KEY(connection, (
                    reference, key_id, wrapped, self._keyring.current_id, self._now(), reference)))
                cursor = submit(connection, _LIVE_KEY, (reference,))
            try:
                row = cursor.fetchone()
            finally:
                cursor.close()
            mine = row is not None and row[0] == key_id
        else:
            # A key another writer made first stays; ours is dropped.
            row = None
            mine = _insert_key(connection, reference, key_id, wrapped, self._keyring.current_id, self._now(), None) == 1
        self._new.discard(reference)
        if mine:
            # Ours: no need to read it back and unwrap what we hold.
            key = self._cache[reference] = CaseKey(reference, key_id, AESGCM(data_key), None)
            return key
        key = self._from_row(reference, row) if postgres else self.get(reference)
        assert key is not None, "the row was just inserted or another writer's is there"
        return key

    def _create_held(self, reference: str) -> CaseKey:
        """A new case's key, its row held back with the transaction's other writes: should a row be
        there after all (an erasure's tombstone), sending it raises HeldWriteConflict and the
        transaction is done again without holding, where the row found wins."""
        key_id = "ck-" + os.urandom(8).hex()
        data_key = os.urandom(32)
        wrapped = _wrap(self._keyring, reference, key_id, data_key)
        row = _KEY_ROW(self._connection, (reference, key_id, wrapped, self._keyring.current_id, self._now(), None))
        insert_many(self._connection, _INSERT_KEY, [row], all_new=True)
        self._new.discard(reference)
        key = self._cache[reference] = CaseKey(reference, key_id, AESGCM(data_key), None)
        return key

    def erase(self, reference: str, now: datetime | None = None) -> bool:
        """Destroy the case's key; True when a live key was destroyed, False when there was none."""
        now = now or self._now()
        if self._connection.dialect.name == "sqlite":
            # Zero the freed cell that held the wrapped key instead of leaving it in a free page.
            self._connection.execute(text("PRAGMA secure_delete=ON"))
        self._cache.pop(reference, None)
        result = self._connection.execute(
            update(case_keys).where(case_keys.c.reference == reference, case_keys.c.erased_at.is_(None))
            .values(wrapped_key=None, erased_at=now)
        )
        if result.rowcount:
            return True
        # No key yet, or already erased: leave a tombstone so that no key is ever made for this case.
        _insert_key(self._connection, reference, "ck-" + os.urandom(8).hex(), None, self._keyring.current_id, now, now)
        return False

    def created_before(self, cutoff: datetime) -> list[str]:
        """References whose key is live and was made before `cutoff`, oldest first."""
        rows = self._connection.execute(
            select(case_keys.c.reference)
            .where(case_keys.c.erased_at.is_(None), case_keys.c.created_at < cutoff)
            .order_by(case_keys.c.created_at, case_keys.c.reference)
        )
        return [row.reference for row in rows]

    def rewrap(self) -> int:
        """Wrap every live case key under the current master key; returns how many were rewrapped."""
        current = self._keyring.current_id
        rows = self._connection.execute(
            select(case_keys).where(case_keys.c.erased_at.is_(None), case_keys.c.master_key_id != current)
        ).all()
        for row in rows:
            aad = wrap_aad(row.reference, row.key_id, row.master_key_id)
            wrapped = bytes(row.wrapped_key)
            try:
                data_key = self._keyring.aead(row.master_key_id).decrypt(wrapped[:12], wrapped[12:], aad)
            except Exception as exc:
                raise CaseKeyError(f"the data key of case {row.reference} cannot be unwrapped "
                                   f"({type(exc).__name__})") from None
            self._connection.execute(
                update(case_keys).where(case_keys.c.reference == row.reference)
                .values(wrapped_key=_wrap(self._keyring, row.reference, row.key_id, data_key), master_key_id=current)
            )
        self._cache.clear()
        return len(rows)


def truncate_wal(engine: Engine) -> None:
    """After an erasure commits on SQLite: checkpoint and empty the WAL, which still holds old pages.

    Runs on a raw driver connection, outside any transaction (a checkpoint inside one cannot
    finish). Best effort: a reader still holding an old snapshot keeps its frames until it ends.
    """
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
