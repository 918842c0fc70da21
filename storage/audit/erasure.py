"""Erasure of a case: destroy its data key and record that, without any of its content.

After erasure the case's content (items, outbox, audit details) cannot be opened by anyone,
while the audit chain still verifies (it hashes ciphertexts) and the disclosure record (who
received what, when, how, why) stays readable under the master key.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, Engine

from alerts.audit import AuditAction, AuditEvent
from alerts.clock import Clock
from storage.audit.log import SqlAuditLog
from storage.keyring import Keyring
from storage.case_keys import truncate_wal
from storage.sealing import CaseKeySealer

RETENTION_ACTOR = "system:retention"


def erase_case(connection: Connection, keyring: Keyring, reference: str, *, reason: str, actor: str,
               now: datetime, sealer: CaseKeySealer | None = None) -> bool:
    """In the caller's transaction; True when a live key was destroyed, False when none was left."""
    sealer = sealer or CaseKeySealer(connection, keyring)
    destroyed = sealer.case_keys.erase(reference, now)
    SqlAuditLog(connection, keyring, sealer=sealer).record(AuditEvent(
        action=AuditAction.ERASURE, at=now, actor=actor, reference=reference, purpose=reason,
        detail={"case_key": "destroyed" if destroyed else "none left (already erased, or never made)"},
    ))
    return destroyed


def erase(engine: Engine, keyring: Keyring, reference: str, *, reason: str, actor: str,
          clock: Clock | None = None) -> bool:
    """Erase in a transaction of its own, then empty SQLite's WAL of the old key's pages."""
    now = clock.now() if clock else datetime.now(timezone.utc)
    with engine.begin() as connection:
        destroyed = erase_case(connection, keyring, reference, reason=reason, actor=actor, now=now)
    truncate_wal(engine)
    return destroyed


def erase_expired(connection: Connection, keyring: Keyring, now: datetime, retention: timedelta, *,
                  actor: str = RETENTION_ACTOR) -> list[str]:
    """Erase every case whose key was made more than `retention` before `now`; returns their references.

    Runs in the caller's transaction (a scheduled job's); call truncate_wal(engine) after commit.
    """
    sealer = CaseKeySealer(connection, keyring)
    expired = sealer.case_keys.created_before(now - retention)
    for reference in expired:
        erase_case(connection, keyring, reference, now=now, actor=actor, sealer=sealer,
                   reason=f"retention period of {retention.days} days expired")
    return expired
