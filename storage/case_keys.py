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

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import CheckConstraint, Column, Connection, Engine, LargeBinary, String, Table, select, text, update

from alerts.clock import Clock
from storage.db import InsertFor
from storage.keyring import Keyring
from storage.schema import metadata
from storage.schema import UtcDateTime

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


# Built once (storage.db.InsertFor): a new case's key is one of the statements of every accepted item.
_INSERT_KEY = InsertFor(lambda insert: insert(case_keys).on_conflict_do_nothing(index_elements=["reference"])
                        .returning(case_keys.c.reference))  # RETURNING, not rowcount: drivers disagree on it here


def _insert_key(connection: Connection, reference: str, key_id: str, wrapped: bytes | None, master_key_id: str,
                created_at: datetime, erased_at: datetime | None) -> bool:
    """Insert the key row unless the case has one (of two writers making a case's key, the first
    wins); True when this one went in."""
    inserted = connection.execute(
        _INSERT_KEY(connection),
        {"reference": reference, "key_id": key_id, "wrapped_key": wrapped, "master_key_id": master_key_id,
         "created_at": created_at, "erased_at": erased_at},
    ).first()
    return inserted is not None


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
        self._numbered: set[str] = set()

    def _now(self) -> datetime:
        return self._clock.now() if self._clock else datetime.now(timezone.utc)

    def forget(self) -> None:
        """Drop what is cached: after a savepoint rollback a cached key may name a row that is gone
        (its reference number is then handed out again, with a new key) or an erasure undone."""
        self._cache.clear()
        self._numbered.clear()

    def numbered(self, reference: str) -> None:
        """`reference` was just handed out by its counter: nobody can hold its key row yet, so its
        key is made without a look-up first (a row found there all the same still wins)."""
        self._numbered.add(reference)

    def load(self, references: list[str]) -> None:
        """Read (and unwrap) the keys of `references` not cached yet, in one query: for a reader about
        to open many cases' content (a search)."""
        wanted = [r for r in references if r not in self._cache]
        if not wanted:
            return
        for row in self._connection.execute(select(case_keys).where(case_keys.c.reference.in_(wanted))):
            if row.wrapped_key is None:
                key = CaseKey(row.reference, row.key_id, None, row.erased_at)
            else:
                key = CaseKey(row.reference, row.key_id, unwrap(self._keyring, row.reference, row.key_id,
                                                                row.master_key_id, bytes(row.wrapped_key)), None)
            self._cache[row.reference] = key

    def get(self, reference: str) -> CaseKey | None:
        cached = self._cache.get(reference)
        if cached is not None:
            return cached
        row = self._connection.execute(select(case_keys).where(case_keys.c.reference == reference)).first()
        if row is None:
            return None
        if row.wrapped_key is None:
            key = CaseKey(reference, row.key_id, None, row.erased_at)
        else:
            key = CaseKey(reference, row.key_id,
                          unwrap(self._keyring, reference, row.key_id, row.master_key_id, bytes(row.wrapped_key)), None)
        self._cache[reference] = key
        return key

    def get_or_create(self, reference: str) -> CaseKey:
        """The case's key, made now if it has none; two writers racing both end up with the winner's.
        The look-up comes first, so that an existing key is read without waiting on a writer that
        holds its row (an erasure under way); a reference just numbered has no row to look up."""
        cached = self._cache.get(reference)
        if cached is not None:
            return cached
        if reference in self._numbered:
            self._numbered.discard(reference)
        else:
            existing = self.get(reference)
            if existing is not None:
                return existing
        key_id = "ck-" + os.urandom(8).hex()
        data_key = os.urandom(32)
        wrapped = _wrap(self._keyring, reference, key_id, data_key)
        if _insert_key(self._connection, reference, key_id, wrapped, self._keyring.current_id, self._now(), None):
            # Ours: no need to read it back and unwrap what we hold.
            ours = self._cache[reference] = CaseKey(reference, key_id, AESGCM(data_key), None)
            return ours
        key = self.get(reference)  # another writer's, or an erasure's tombstone
        assert key is not None, "the insert met a row that is there"
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
        driver = raw.driver_connection
        assert driver is not None, "a connection just checked out of the pool holds its driver's"
        driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
