"""Appending to the audit log, in the caller's transaction (handlers.ports.AuditLog).

An entry commits or rolls back with the change it records, because it is written on the same
Connection. Appends are serialised by the one-row audit_head: PostgreSQL locks it FOR UPDATE;
on SQLite the engine's BEGIN IMMEDIATE (storage.db) already made this transaction the only
writer. The head also carries the Merkle frontier, so a checkpoint never rescans the log.
The head is read once per transaction: it is locked until the transaction ends, so later appends
in it know the head they left. A savepoint that ended may have undone appends, so after one the
head is read again (see _HEADS).
The head carries an HMAC under a key derived from the key file (encoding.head_mac): it is checked
whenever the head is read from the database to be extended or signed, and renewed by every append,
so a tail cut or rewritten without the key is refused here and reported by verify.
"""

from __future__ import annotations

import hmac
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.engine import RootTransaction, Transaction

from alerts.audit import AuditAction, AuditEvent
from alerts.clock import Clock
from alerts.items import Reference
from alerts.lifecycle import Feedback, feedback_of
from alerts.revisions import RevisionText, revision_text_of
from storage.audit.encoding import (
    GENESIS_HASH,
    HEAD_MAC_LABEL,
    SCHEMA_VERSION,
    detail_plaintext,
    entry_hash,
    from_micros,
    head_mac,
    loads,
    meta_plaintext,
    part_aad,
    to_micros,
)
from storage.audit.merkle import Frontier
from storage.audit.tables import audit_entries, audit_head
from storage.db import insert_for
from storage.keyring import Keyring
from storage.sealing import CaseKeySealer, SealError

# Entries about the log itself, not content of the case they name: sealed under the master key.
NOT_CASE_CONTENT = frozenset({AuditAction.ERASURE, AuditAction.EXPORT, AuditAction.CONSULTATION, AuditAction.KEY})


class AuditHeadCorrupt(Exception):
    """The head row does not describe a tree, or its MAC does not verify; appending would extend a
    broken (or forged) log, so it refuses."""


class AuditHeadUnkeyed(AuditHeadCorrupt):
    """The head of a non-empty log carries no MAC: written before heads were keyed, or altered."""


UNKEYED = ("the audit log's head carries no MAC (a log written before heads were keyed, or one altered): "
           "run `liaison-bot db upgrade`, which verifies the log and then keys its head")
FORGED = ("the audit log's head does not verify under the key file: entries after the last checkpoint were "
          "changed without the key, or this is not the database's key file; run `liaison-bot audit verify`")


@dataclass
class Head:
    seq: int
    entry_hash: bytes
    frontier: Frontier
    mac: bytes | None = None


_SELECT_HEAD = select(audit_head.c.seq, audit_head.c.entry_hash, audit_head.c.frontier, audit_head.c.mac).where(
    audit_head.c.id == 1)
_LOCK_HEAD = _SELECT_HEAD.with_for_update()  # FOR UPDATE on PostgreSQL; SQLite leaves it out
_UPDATE_HEAD = update(audit_head).where(audit_head.c.id == 1)  # the values come as parameters
_INSERT_ENTRIES = insert(audit_entries)
_ENTRY_COLUMNS = ("seq", "recorded_at_us", "action", "reference", "key_id", "schema_version", "case_ref",
                  "sealed_meta", "sealed_detail", "prev_hash", "entry_hash")


def mac_for(keyring: Keyring, seq: int, last_hash: bytes, frontier: bytes) -> bytes:
    return head_mac(keyring.derive(HEAD_MAC_LABEL), seq, last_hash, frontier)


def check_head_mac(keyring: Keyring, seq: int, last_hash: bytes, frontier: bytes, mac: bytes | None) -> None:
    """Raises AuditHeadUnkeyed or AuditHeadCorrupt; a log never appended to needs no MAC."""
    if mac is None:
        if seq == 0:
            return
        raise AuditHeadUnkeyed(UNKEYED)
    if not hmac.compare_digest(bytes(mac), mac_for(keyring, seq, last_hash, frontier)):
        raise AuditHeadCorrupt(FORGED)


# The head as the last append of a transaction left it, by root transaction, with the transaction
# (the root or a savepoint) that append ran in: nobody else can move the head before the root ends
# (it holds the lock), and a new transaction is a new key. The remembered head holds in the
# transaction it was made in and, if that is the root, in any savepoint under it (an append there
# would have replaced it). A savepoint that ends makes it stale: rolled back, it may have undone
# the append; released, the head is simply read again.
_HEADS: weakref.WeakKeyDictionary[RootTransaction, tuple[weakref.ref[Transaction], Head]] = weakref.WeakKeyDictionary()


def lock_head(connection: Connection, keyring: Keyring | None = None) -> Head:
    """The head, locked until the caller's transaction ends; made on first use. With `keyring`,
    its MAC is checked (AuditHeadCorrupt): whoever extends or signs the head passes one."""
    row = connection.execute(_LOCK_HEAD).first()
    if row is None:
        connection.execute(
            insert_for(connection, audit_head)
            .values(id=1, seq=0, entry_hash=GENESIS_HASH, frontier=b"")
            .on_conflict_do_nothing(index_elements=["id"])
        )
        row = connection.execute(_LOCK_HEAD).first()
    if row is None:  # the insert above made it, or found it made: not there means a broken table
        raise AuditHeadCorrupt("audit_head has no row; run `liaison-bot audit verify`")
    try:
        head = Head(row[0], bytes(row[1]), Frontier.from_bytes(row[0], row[2]),
                    bytes(row[3]) if row[3] is not None else None)
    except (ValueError, TypeError) as exc:
        raise AuditHeadCorrupt(f"audit_head is corrupt ({exc}); run `liaison-bot audit verify`") from None
    if keyring is not None:
        check_head_mac(keyring, head.seq, head.entry_hash, bytes(row[2]), head.mac)
    return head


def _head_for_append(connection: Connection, keyring: Keyring) -> tuple[Head, RootTransaction, Transaction]:
    """The locked head, read from the database once per transaction; the root transaction and the
    innermost one (the root or a savepoint), to remember the new head under after the append."""
    head, root, innermost = _locked_head(connection, keyring)
    # A copy: the caller extends it, and only an append that went through may be remembered.
    return Head(head.seq, head.entry_hash, head.frontier.copy()), root, innermost


def _locked_head(connection: Connection, keyring: Keyring) -> tuple[Head, RootTransaction, Transaction]:
    """_head_for_append's head, not to be changed."""
    root = connection.get_transaction()
    remembered = _HEADS.get(root) if root is not None else None
    innermost = connection.get_nested_transaction() or root
    if remembered is not None and remembered[0]() in (innermost, root):
        head = remembered[1]
    else:
        head = lock_head(connection, keyring)
        root = connection.get_transaction()  # begun by lock_head if there was none
        innermost = connection.get_nested_transaction() or root
        assert root is not None and innermost is not None
        _HEADS[root] = (weakref.ref(innermost), head)  # as read: the head holds until this transaction appends
    assert root is not None and innermost is not None
    return head, root, innermost


class SqlAuditLog:
    """Seals, chains and appends audit entries on the caller's Connection, each as it is recorded,
    or those of a held() block together as it ends."""

    def __init__(self, connection: Connection, keyring: Keyring, clock: Clock | None = None,
                 sealer: CaseKeySealer | None = None) -> None:
        self._connection = connection
        self._keyring = keyring
        self._clock = clock
        self._sealer = sealer or CaseKeySealer(connection, keyring, clock)
        self._held: list[tuple[AuditEvent, int]] | None = None

    def record(self, event: AuditEvent) -> None:
        if self._held is not None:
            self._held.append((event, self._recorded_at_us(event)))
        else:
            self.append(event)

    def append(self, event: AuditEvent) -> int:
        """Append `event` now, after any held entries; returns its seq."""
        entries = [(event, self._recorded_at_us(event))]
        if self._held:
            entries = self._held + entries
            self._held.clear()
        return self._append(entries)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Entries recorded in the block are appended together as it ends, still inside it (one
        INSERT and one head update instead of one each per entry); a block that raises drops them.
        The caller's savepoint wraps the block, so they commit or roll back with what they record."""
        if self._held is not None:  # an outer block appends them, but not those of this one if it raises
            mark = len(self._held)
            try:
                yield
            except BaseException:
                del self._held[mark:]
                raise
            return
        self._held = []
        try:
            yield
            entries = self._held
        finally:
            self._held = None
        if entries:
            self._append(entries)

    def feedback(self, reference: Reference) -> list[Feedback]:
        """handlers.ports.AuditLog.feedback: the item's FEEDBACK entries as written so far (not those
        held in this block), each opened under the item's case key; one that cannot be opened (its
        case erased, or a blob that does not verify) is left out rather than failing the reader."""
        found: list[Feedback] = []
        for _, at, meta, detail in self._opened(reference, (AuditAction.FEEDBACK,)):
            entry = feedback_of(meta.get("actor"), at, tuple(meta.get("recipients") or ()), detail)
            if entry is not None:
                found.append(entry)
        return found

    def revisions(self, reference: Reference) -> list[RevisionText]:
        """handlers.ports.AuditLog.revisions: the item's creation and CORRECTION entries opened as
        feedback's are, one per revision (the first written stands), by revision number."""
        found: dict[int, RevisionText] = {}
        for action, at, meta, detail in self._opened(reference, (AuditAction.ITEM_CREATED, AuditAction.CORRECTION)):
            text = revision_text_of(action == AuditAction.ITEM_CREATED.value, at, meta.get("caveat"), detail)
            if text is not None:
                found.setdefault(text.revision, text)
        return [found[n] for n in sorted(found)]

    def _opened(self, reference: Reference, actions: tuple[AuditAction, ...]
                ) -> Iterator[tuple[str, datetime, dict[str, Any], dict[str, Any]]]:
        """The item's entries of `actions` as written so far, oldest first: (action, recorded at, meta,
        detail), each opened under the master key (meta) and the item's case key (detail). An entry
        whose detail was dropped (its case erased when it was written) or does not open (the case
        erased since, or a blob that does not verify) is skipped."""
        e = audit_entries.c
        rows = self._connection.execute(
            select(e.seq, e.action, e.recorded_at_us, e.key_id, e.schema_version, e.case_ref, e.sealed_meta,
                   e.sealed_detail)
            .where(e.reference == str(reference), e.action.in_([a.value for a in actions])).order_by(e.seq))
        for row in rows:
            if row.sealed_detail is None:
                continue
            try:
                meta = loads(self._sealer.open(row.sealed_meta, aad=part_aad(row.seq, row.key_id,
                                                                              row.schema_version, "meta")))
                detail = loads(self._sealer.open(row.sealed_detail, aad=part_aad(
                    row.seq, row.key_id, row.schema_version, "detail"), case=row.case_ref))
            except (SealError, ValueError):
                continue
            yield row.action, from_micros(row.recorded_at_us), meta, detail

    def _recorded_at_us(self, event: AuditEvent) -> int:
        return to_micros(self._clock.now() if self._clock else event.at)

    def _append(self, entries: list[tuple[AuditEvent, int]]) -> int:
        """Seal, chain and insert `entries`; returns the last seq."""
        # The case keys before the head: every writer takes them in this order (sealers make case
        # keys before they append), so two writers cannot wait on each other.
        cases = [self._case(event) for event, _ in entries]
        head, root, innermost = _head_for_append(self._connection, self._keyring)
        key_id = self._keyring.current_id
        prev_hash = head.entry_hash
        seq = head.seq
        rows: list[dict[str, object]] = []
        for (event, recorded_at_us), (case_ref, detail_dropped) in zip(entries, cases):
            seq += 1
            sealed_detail = None
            if event.detail and not detail_dropped:
                sealed_detail = self._sealer.seal(detail_plaintext(event.detail),
                                                  aad=part_aad(seq, key_id, SCHEMA_VERSION, "detail"), case=case_ref)
            sealed_meta = self._sealer.seal(meta_plaintext(event, detail_dropped=detail_dropped),
                                            aad=part_aad(seq, key_id, SCHEMA_VERSION, "meta"))
            action = event.action.value
            digest = entry_hash(seq, recorded_at_us, action, event.reference, key_id, SCHEMA_VERSION,
                                case_ref, sealed_meta, sealed_detail, prev_hash)
            head.frontier.append(digest)
            rows.append(dict(zip(_ENTRY_COLUMNS, (seq, recorded_at_us, action, event.reference, key_id,
                                                  SCHEMA_VERSION, case_ref, sealed_meta, sealed_detail, prev_hash,
                                                  digest))))
            prev_hash = digest
        connection = self._connection
        frontier = head.frontier.to_bytes()
        mac = mac_for(self._keyring, seq, prev_hash, frontier)
        connection.execute(_INSERT_ENTRIES, rows)
        connection.execute(_UPDATE_HEAD, {"seq": seq, "entry_hash": prev_hash, "frontier": frontier, "mac": mac})
        _HEADS[root] = (weakref.ref(innermost), Head(seq, prev_hash, head.frontier, mac))
        return seq

    def _case(self, event: AuditEvent) -> tuple[str | None, bool]:
        """The case whose key seals the entry's detail (None: the master key), and whether the
        detail is dropped because that case was erased."""
        case_ref = event.reference if event.reference and event.action not in NOT_CASE_CONTENT else None
        if not event.detail:
            return None, False  # nothing sealed under a case key
        if case_ref is None:
            return None, False
        # Content arriving for an erased case must not outlive the erasure: keep who/when only.
        return case_ref, self._sealer.case_keys.get_or_create(case_ref).erased

