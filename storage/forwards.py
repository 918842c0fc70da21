"""Requests to forward an item, waiting for the originator's consent, and the answers given.

The purpose and the originator's reason are people's words, so they are sealed under the item's
case key (erasing the case erases them too); who asked, about whom, and when stay in clear.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, update

from alerts.lifecycle import ForwardRequest, ForwardState
from storage.content import open_json, seal_json
from storage.sealing import ContentSealer
from storage.tables import forward_requests


def _aad(request_id: str, field: str) -> bytes:
    return b"forward_requests|" + request_id.encode() + b"|" + field.encode()


def _joined(values: tuple[str, ...]) -> str:
    if any("," in v for v in values):
        raise ValueError("a forward's recipient contains a comma")
    return ",".join(values)


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split(",")) if text else ()


class SqlForwardRequests:
    """The forward_requests rows, on the caller's connection and transaction."""

    def __init__(self, connection: Connection, sealer: ContentSealer) -> None:
        self._conn = connection
        self._sealer = sealer

    def add(self, request: ForwardRequest) -> None:
        purpose = seal_json(self._sealer, {"purpose": request.purpose}, aad=_aad(request.id, "purpose"),
                            case=request.reference)
        self._conn.execute(
            forward_requests.insert().values(
                id=request.id,
                item_reference=request.reference,
                asker=request.asker,
                recipients=_joined(request.recipients),
                contacts=_joined(request.contacts),
                requested_at=request.requested_at,
                state=request.state.value,
                decided_by=request.decided_by,
                decided_at=request.decided_at,
                purpose=purpose,
                reason=self._sealed_reason(request.id, request.reference, request.reason) if request.decided_at else None,
            )
        )

    def for_item(self, reference: str) -> list[ForwardRequest]:
        c = forward_requests.c
        rows = self._conn.execute(
            select(forward_requests).where(c.item_reference == reference).order_by(c.requested_at, c.id)
        ).all()
        return [self._request(row) for row in rows]

    def decide(self, request_id: str, state: ForwardState, decided_by: str, at: datetime, reason: str) -> bool:
        if state is ForwardState.PENDING:
            raise ValueError("a decision grants or refuses")
        c = forward_requests.c
        reference = self._conn.execute(select(c.item_reference).where(c.id == request_id)).scalar_one_or_none()
        if reference is None:
            return False
        # Only a pending row changes: of two answers racing, the first to commit wins.
        result = self._conn.execute(
            update(forward_requests)
            .where(c.id == request_id, c.state == ForwardState.PENDING.value)
            .values(state=state.value, decided_by=decided_by, decided_at=at,
                    reason=self._sealed_reason(request_id, reference, reason))
        )
        return result.rowcount > 0

    def _sealed_reason(self, request_id: str, reference: str, reason: str) -> bytes:
        return seal_json(self._sealer, {"reason": reason}, aad=_aad(request_id, "reason"), case=reference)

    def _request(self, row: Any) -> ForwardRequest:
        case = row.item_reference
        purpose = open_json(self._sealer, row.purpose, aad=_aad(row.id, "purpose"), case=case)["purpose"]
        reason = ""
        if row.reason is not None:
            reason = open_json(self._sealer, row.reason, aad=_aad(row.id, "reason"), case=case)["reason"]
        return ForwardRequest(
            id=row.id,
            reference=row.item_reference,
            asker=row.asker,
            recipients=_split(row.recipients),
            contacts=_split(row.contacts),
            purpose=purpose,
            requested_at=row.requested_at,
            state=ForwardState(row.state),
            decided_by=row.decided_by,
            decided_at=row.decided_at,
            reason=reason,
        )
