"""Items held for two-person release (alerts/release.py) and the decisions taken on them.

Who sent it, who decided, and when stay in clear for the rounds that remind and expire; the
reason given for a decline is people's words, so it is sealed under the item's case key, as is a
held correction's draft. Migration 0013_release creates the table; 0017_heldfix adds the correction.
An item has one row: a correction held after its earlier release was decided takes that row's place
(the earlier decision stays in the audit log).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (Boolean, CheckConstraint, Column, ForeignKey, Integer, LargeBinary, String, Table, delete,
                        select, update)
from sqlalchemy import Connection

from alerts.items import ItemDraft
from alerts.release import HeldRelease, ReleaseState
from storage.content import open_json, seal_json
from storage.drafts import draft_from_json, draft_json
from storage.schema import UtcDateTime, metadata
from storage.sealing import ContentErased, ContentSealer

RELEASE_STATES = tuple(state.value for state in ReleaseState)

releases = Table(
    "releases",
    metadata,
    Column("item_reference", String(32), ForeignKey("items.reference"), primary_key=True),
    Column("originator", String(200), nullable=False),
    Column("organisation", String(16), nullable=False),
    Column("confirmed", Boolean, nullable=False),
    Column("requested_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("decided_by", String(200)),
    Column("decided_at", UtcDateTime),
    Column("reason", LargeBinary),  # sealed JSON {reason}, once decided
    Column("revision", Integer),  # a held correction's: the revision it makes (0017_heldfix)
    Column("correction", LargeBinary),  # a held correction's draft, sealed JSON
    CheckConstraint(f"state IN ({', '.join(repr(v) for v in RELEASE_STATES)})", name="state"),
)


def _aad(reference: str) -> bytes:
    return b"releases|" + reference.encode() + b"|reason"


def _correction_aad(reference: str) -> bytes:
    return b"releases|" + reference.encode() + b"|correction"


class SqlReleases:
    """handlers.ports.ReleaseRepository on the caller's connection and transaction."""

    def __init__(self, connection: Connection, sealer: ContentSealer) -> None:
        self._conn = connection
        self._sealer = sealer

    def hold(self, held: HeldRelease) -> None:
        c = releases.c
        self._conn.execute(delete(releases).where(c.item_reference == held.reference,
                                                  c.state != ReleaseState.PENDING.value))
        correction = None
        if held.correction is not None:
            correction = seal_json(self._sealer, draft_json(held.correction), aad=_correction_aad(held.reference),
                                   case=held.reference)
        self._conn.execute(releases.insert().values(
            revision=held.revision if held.correction is not None else None, correction=correction,
            item_reference=held.reference, originator=held.originator, organisation=held.organisation,
            confirmed=held.confirmed, requested_at=held.requested_at, expires_at=held.expires_at,
            state=held.state.value, decided_by=held.decided_by, decided_at=held.decided_at,
            reason=self._sealed(held.reference, held.reason) if held.decided_at else None))

    def get(self, reference: str) -> HeldRelease | None:
        row = self._conn.execute(select(releases).where(releases.c.item_reference == reference)).first()
        return self._held(row) if row is not None else None

    def pending(self) -> list[HeldRelease]:
        c = releases.c
        rows = self._conn.execute(select(releases).where(c.state == ReleaseState.PENDING.value)
                                  .order_by(c.requested_at, c.item_reference)).all()
        return [self._held(row) for row in rows]

    def decide(self, reference: str, state: ReleaseState, decided_by: str, at: datetime, reason: str) -> bool:
        if state is ReleaseState.PENDING:
            raise ValueError("a decision approves, declines, expires or fails")
        c = releases.c
        # Only a pending row changes: of two decisions racing, the first to commit wins.
        result = self._conn.execute(
            update(releases).where(c.item_reference == reference, c.state == ReleaseState.PENDING.value)
            .values(state=state.value, decided_by=decided_by, decided_at=at, reason=self._sealed(reference, reason)))
        return result.rowcount > 0

    def _sealed(self, reference: str, reason: str) -> bytes:
        return seal_json(self._sealer, {"reason": reason}, aad=_aad(reference), case=reference)

    def _held(self, row: Any) -> HeldRelease:
        reason = ""
        if row.reason is not None:
            try:
                reason = open_json(self._sealer, row.reason, aad=_aad(row.item_reference),
                                   case=row.item_reference)["reason"]
            except ContentErased:  # the case was erased: its words with it
                reason = ""
        return HeldRelease(
            reference=row.item_reference, originator=row.originator, organisation=row.organisation,
            confirmed=bool(row.confirmed), requested_at=row.requested_at, expires_at=row.expires_at,
            state=ReleaseState(row.state), decided_by=row.decided_by, decided_at=row.decided_at, reason=reason,
            correction=self._correction(row), revision=row.revision or 1)

    def _correction(self, row: Any) -> ItemDraft | None:
        if row.correction is None:
            return None
        try:
            return draft_from_json(open_json(self._sealer, row.correction, aad=_correction_aad(row.item_reference),
                                             case=row.item_reference))
        except ContentErased:  # the case was erased: nothing of it is released any more
            return None
