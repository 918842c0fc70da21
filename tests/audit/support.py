"""Helpers shared by the audit tests: engines with the audit tables, events, and tampering."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select, text

from alerts.audit import AuditAction, AuditEvent
from alerts.clock import ManualClock
from storage.audit.encoding import GENESIS_HASH, entry_hash
from storage.audit.log import SqlAuditLog, mac_for
from storage.audit.merkle import Frontier
from storage.audit.tables import audit_checkpoints, audit_entries, audit_head, key_binding
from storage.db import create_engine_for
from storage.keyring import Keyring
from storage.case_keys import case_keys
from storage.schema import metadata
from storage.tables import attachments, deliveries, items, outbox, outbox_files, outbox_parts

# With the core tables an erasure closes items and cancels outbox rows in.
AUDIT_TABLES = [audit_entries, audit_head, audit_checkpoints, case_keys, key_binding, items, deliveries, outbox,
                attachments, outbox_files, outbox_parts]


def make_engine(url: str) -> Engine:
    engine = create_engine_for(url)
    metadata.create_all(engine, tables=AUDIT_TABLES)
    return engine


def event(clock: ManualClock, i: int, *, reference: str | None = "auto", action: AuditAction = AuditAction.DELIVERY,
          detail: dict[str, str] | None = None, **fields: Any) -> AuditEvent:
    """A delivery of item A-2026-000(i // 3) to a contact; three entries per case."""
    clock.advance(timedelta(seconds=1))
    if reference == "auto":
        reference = f"A-2026-{i // 3:04d}"
    fields.setdefault("actor", "console:th-officer")
    fields.setdefault("recipients", ("my-npoc",))
    fields.setdefault("channel", "direct:console:my-npoc")
    fields.setdefault("caveat", "TLP:AMBER")
    fields.setdefault("purpose", "identity check")
    return AuditEvent(action=action, at=clock.now(), reference=reference,
                      detail={"body": f"message {i}"} if detail is None else detail, **fields)


def append(engine: Engine, keyring: Keyring, clock: ManualClock, events: Iterable[AuditEvent]) -> list[int]:
    """Each event in a transaction of its own, as the bot writes them."""
    seqs = []
    for e in events:
        with engine.begin() as connection:
            seqs.append(SqlAuditLog(connection, keyring, clock).append(e))
    return seqs


def fill(engine: Engine, keyring: Keyring, clock: ManualClock, n: int, start: int = 0) -> list[int]:
    return append(engine, keyring, clock, (event(clock, i) for i in range(start, start + n)))


def execute(engine: Engine, sql: str, **params: Any) -> None:
    """Tampering as an attacker with database access would: plain SQL, committed."""
    with engine.begin() as connection:
        connection.execute(text(sql), params)


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(text(sql), params).scalar()


def rehash_from(engine: Engine, start: int, keyring: Keyring | None = None) -> None:
    """Recompute entry hashes, prev hashes and the head from `start` on, as anyone can (no key
    needed); with `keyring`, also the head's MAC, as only someone holding the key file can."""
    with engine.begin() as connection:
        rows = connection.execute(select(audit_entries).order_by(audit_entries.c.seq)).all()
        frontier, prev = Frontier(), GENESIS_HASH
        for r in rows:
            if r.seq >= start:
                digest = entry_hash(r.seq, r.recorded_at_us, r.action, r.reference, r.key_id, r.schema_version,
                                    r.case_ref, bytes(r.sealed_meta),
                                    bytes(r.sealed_detail) if r.sealed_detail is not None else None, prev)
                connection.execute(text("UPDATE audit_entries SET prev_hash = :p, entry_hash = :h WHERE seq = :s"),
                                   {"p": prev, "h": digest, "s": r.seq})
            else:
                digest = bytes(r.entry_hash)
            frontier.append(digest)
            prev = digest
        connection.execute(text("UPDATE audit_head SET seq = :s, entry_hash = :h, frontier = :f"),
                           {"s": frontier.size, "h": prev, "f": frontier.to_bytes()})
        if keyring is not None:
            connection.execute(text("UPDATE audit_head SET mac = :m"),
                               {"m": mac_for(keyring, frontier.size, prev, frontier.to_bytes())})
