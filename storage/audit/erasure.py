"""Erasure of a case: destroy its data key, close its item as erased, and record that, without any of its content.

After erasure the case's content (items, outbox, inbox texts filed under the case, audit details)
cannot be opened by anyone, while the audit chain still verifies (it hashes ciphertexts) and the
disclosure record (who received what, when, how, why) stays readable under the master key. The
item stays, closed and marked erased (when, why), so every view and command can say so; its
messages not yet sent are cancelled, so the delivery worker never meets a text it cannot open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, Engine, delete, exists, select, union_all

from alerts.audit import AuditAction, AuditEvent
from alerts.clock import Clock
from alerts.lifecycle import Erasure
from storage.audit.log import SqlAuditLog
from storage.items import close_as_erased
from storage.keyring import Keyring
from storage.case_keys import case_keys, truncate_wal
from storage.outbox import cancel_case
from storage.tables import attachments, items
from storage.sealing import CaseKeySealer

RETENTION_ACTOR = "system:retention"


@dataclass(frozen=True)
class Erased:
    """What one erasure did: a live key destroyed (False: none was left), its item closed as erased
    (False: there was no item), and how many unsent messages were cancelled."""

    reference: str
    key_destroyed: bool
    item_closed: bool
    outbox_cancelled: int


def erase_case(connection: Connection, keyring: Keyring, reference: str, *, reason: str, actor: str,
               now: datetime, sealer: CaseKeySealer | None = None) -> Erased:
    """In the caller's transaction: cancel the case's unsent messages, close its item as erased,
    destroy its key, and record all that in the audit log."""
    sealer = sealer or CaseKeySealer(connection, keyring)
    cancelled = cancel_case(connection, reference)
    # Its attachments are sealed under the key about to go; the rows go too, so no blob outlives it.
    connection.execute(delete(attachments).where(attachments.c.item_reference == reference))
    closed = close_as_erased(connection, sealer, reference, Erasure(now, reason), actor)
    destroyed = sealer.case_keys.erase(reference, now)
    SqlAuditLog(connection, keyring, sealer=sealer).record(AuditEvent(
        action=AuditAction.ERASURE, at=now, actor=actor, reference=reference, purpose=reason,
        detail={"case_key": "destroyed" if destroyed else "none left (already erased, or never made)",
                "item": "closed as erased" if closed else "none",
                "outbox_cancelled": str(cancelled)},
    ))
    return Erased(reference, destroyed, closed, cancelled)


def case_known(connection: Connection, reference: str) -> bool:
    """Whether `reference` names an item or a case key (live, or erased already) in this database."""
    either = union_all(select(items.c.reference).where(items.c.reference == reference),
                       select(case_keys.c.reference).where(case_keys.c.reference == reference))
    return bool(connection.execute(select(exists(either.subquery().select()))).scalar())


def erase(engine: Engine, keyring: Keyring, reference: str, *, reason: str, actor: str,
          clock: Clock | None = None) -> Erased:
    """Erase in a transaction of its own, then empty SQLite's WAL of the old key's pages."""
    now = clock.now() if clock else datetime.now(timezone.utc)
    with engine.begin() as connection:
        erased = erase_case(connection, keyring, reference, reason=reason, actor=actor, now=now)
    truncate_wal(engine)
    return erased


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
