"""Items with their resolved routes and the state of each delivery.

The route is stored as it was resolved when the item was accepted, so later changes to the
directory do not change who an item went to. A forward adds deliveries to the same item: the
stored route grows, each new delivery with its reason ("forward by X, consented by Y").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, literal, or_, select, update

from alerts.caveats import Caveat, Handling, Tlp
from alerts.errors import ReferenceUnavailable
from alerts.grading import Grading
from alerts.identity import ChatRef
from alerts.incident import Incident
from alerts.items import DueSpec, Item, ItemDraft, ItemKind, ItemState, Reference
from alerts.lifecycle import Closure, DeliveryState, Erasure, ForwardRequest, ForwardState, Withdrawal
from alerts.messages import Attachment, InboundMessage
from alerts.priority import Priority
from alerts.routing import Delivery, Destination, Route
from handlers.ports import DeliveryRecord, ItemRecord
from storage.drafts import content_of, join_selectors, split_selectors
from storage.content import attachment_aad, item_aad, open_json, seal_json
from storage.forwards import SqlForwardRequests
from storage.db import InsertFor, insert_for
from storage.inbox import file_under_case
from storage.sealing import ContentErased, ContentSealer
from storage.schema import UtcDateTime
from storage.tables import (DELIVERY_STATES, attachments, deliveries, items, outbox, outbox_parts, reference_counters,
                            superseded_deliveries)

# A delivery only moves forward (alerts.lifecycle): a late "sent" must not undo an
# acknowledgement that overtook it.
_DELIVERY_RANK = {state.value: state.rank for state in DeliveryState}
_DELIVERY_MOMENT = {"sent": "sent_at", "acknowledged": "acknowledged_at", "answered": "answered_at"}


def _first_part_at(table: Any) -> Any:
    """When the first message of a delivery's outbox row went (DeliveryRecord.first_part_at), for its row."""
    p = outbox_parts.c
    return (select(func.min(p.sent_at)).where(p.outbox_key == table.c.outbox_key).correlate(table)
            .scalar_subquery().label("first_part_at"))

# One statement, so concurrent writers on PostgreSQL queue on the counter row (or on the unique index
# for the year's first number) instead of reading the same last number. Built once (storage.db.InsertFor).
_NEXT_NUMBER = InsertFor(lambda dialect_insert: dialect_insert(reference_counters).on_conflict_do_update(
    index_elements=[reference_counters.c.kind, reference_counters.c.year],
    set_={"last_number": reference_counters.c.last_number + 1},
).returning(reference_counters.c.last_number))
_ADD_ITEM = insert(items)
_ADD_DELIVERIES = insert(deliveries)


class SqlItemRepository:
    """handlers.ports.ItemRepository on one connection, inside the caller's transaction."""

    def __init__(self, connection: Connection, sealer: ContentSealer) -> None:
        self._conn = connection
        self._sealer = sealer
        self._forwards = SqlForwardRequests(connection, sealer)

    def next_reference(self, kind: ItemKind, year: int) -> Reference:
        number = self._conn.execute(_NEXT_NUMBER(self._conn),
                                    {"kind": kind.value, "year": year, "last_number": 1}).scalar_one()
        reference = Reference(kind, year, number)
        self._sealer.numbered(str(reference))
        return reference

    def add(self, item: Item, route: Route, outbox_keys: Mapping[str, str]) -> None:
        """Store a new item and its route; `outbox_keys` maps each contact id to its outbox key."""
        draft = item.draft
        reference = str(item.reference)
        if draft.kind is not item.reference.kind:
            raise ValueError("the draft's kind differs from the reference's kind")
        deliveries_rows = self._delivery_rows(reference, route, outbox_keys)
        try:
            sealed = seal_json(self._sealer, content_of(draft), aad=item_aad(reference), case=reference)
        except ContentErased:
            raise ReferenceUnavailable(reference) from None
        # The row as parameters, not .values(): one prepared statement, without building a new one per item.
        self._conn.execute(_ADD_ITEM, dict(
            reference=reference,
            kind=item.reference.kind.value,
            year=item.reference.year,
            number=item.reference.number,
            originator=item.originator,
            origin_chat=str(item.origin_chat),
            created_at=item.created_at,
            ack_due=item.ack_due,
            feedback_due=item.feedback_due,
            state=item.state.value,
            tlp=draft.caveat.tlp.value,
            handling=draft.caveat.handling.value,
            orcon=draft.caveat.orcon,
            priority=draft.priority.value,
            topic=draft.topic,
            grading=draft.grading.code if draft.grading else None,
            recipients=join_selectors(draft.recipients),
            due_after=draft.due.after if draft.due else None,
            due_at=draft.due.at if draft.due else None,
            content=sealed,
        ))
        self._insert_rows(deliveries_rows)

    def add_deliveries(self, reference: Reference, route: Route, outbox_keys: Mapping[str, str]) -> None:
        """More deliveries of an existing item (a forward); the stored route grows by `route`."""
        found = self._conn.execute(select(items.c.reference).where(items.c.reference == str(reference))).first()
        if found is None:
            raise ValueError(f"no item {reference} to add deliveries to")
        self._insert_rows(self._delivery_rows(str(reference), route, outbox_keys))

    def revise(self, item: Item, route: Route, outbox_keys: Mapping[str, str], at: datetime) -> None:
        """Store `item`, the next revision of an item stored before, in its place: its draft, due times
        and revision; the current deliveries are kept apart (superseded_deliveries) and `route`'s become
        the item's."""
        ref, draft = str(item.reference), item.draft
        rows = self._delivery_rows(ref, route, outbox_keys)
        sealed = seal_json(self._sealer, content_of(draft), aad=item_aad(ref), case=ref)
        earlier = self._conn.execute(select(items.c.revision).where(items.c.reference == ref)).scalar_one()
        d = deliveries.c
        columns = ["item_reference", "contact", "destination", "reason", "outbox_key", "state", "sent_at",
                   "acknowledged_at", "answered_at", "platform_message_id"]
        self._conn.execute(insert(superseded_deliveries).from_select(
            [*columns, "revision", "superseded_at"],
            select(*[d[name] for name in columns], literal(earlier or 1), literal(at, UtcDateTime()))
            .where(d.item_reference == ref).order_by(d.id)))
        self._conn.execute(delete(deliveries).where(d.item_reference == ref))
        self._conn.execute(update(items).where(items.c.reference == ref).values(
            ack_due=item.ack_due, feedback_due=item.feedback_due, tlp=draft.caveat.tlp.value,
            handling=draft.caveat.handling.value, orcon=draft.caveat.orcon, priority=draft.priority.value,
            topic=draft.topic, grading=draft.grading.code if draft.grading else None,
            recipients=join_selectors(draft.recipients), due_after=draft.due.after if draft.due else None,
            due_at=draft.due.at if draft.due else None, content=sealed, revision=item.revision,
            revised_at=item.revised_at))
        self._insert_rows(rows)

    def earlier_deliveries(self, reference: Reference) -> list[tuple[int, DeliveryRecord]]:
        d = superseded_deliveries.c
        rows = self._conn.execute(
            select(superseded_deliveries, outbox.c.contact.label("sent_to"), outbox.c.destination.label("sent_at_place"),
                   _first_part_at(superseded_deliveries))
            .select_from(superseded_deliveries.outerjoin(outbox, outbox.c.key == d.outbox_key))
            .where(d.item_reference == str(reference)).order_by(d.revision, d.id)).all()
        return [(row.revision, DeliveryRecord(row.contact, row.destination, row.outbox_key, row.state, row.sent_at,
                                              row.acknowledged_at, row.answered_at, row.platform_message_id,
                                              row.superseded_at, _held_by(row), _held_at(row), row.first_part_at))
                for row in rows]

    def mark_earlier(self, outbox_key: str, state: str, at: datetime,
                     platform_message_id: str) -> tuple[int, DeliveryRecord] | None:
        if state not in DELIVERY_STATES:
            raise ValueError(f"unknown delivery state {state!r}")
        d = superseded_deliveries.c
        behind = [s for s, rank in _DELIVERY_RANK.items() if rank < _DELIVERY_RANK[state]]
        values: dict[str, Any] = {"state": case((d.state.in_(behind), state), else_=d.state),
                                  "platform_message_id": func.coalesce(d.platform_message_id, platform_message_id)}
        moment = _DELIVERY_MOMENT.get(state)
        if moment is not None:
            values[moment] = func.coalesce(d[moment], at)
        self._conn.execute(update(superseded_deliveries).where(d.outbox_key == outbox_key).values(**values))
        row = self._conn.execute(
            select(superseded_deliveries, outbox.c.contact.label("sent_to"), outbox.c.destination.label("sent_at_place"),
                   _first_part_at(superseded_deliveries))
            .select_from(superseded_deliveries.outerjoin(outbox, outbox.c.key == d.outbox_key))
            .where(d.outbox_key == outbox_key).order_by(d.revision.desc()).limit(1)).first()
        if row is None:
            return None
        return row.revision, DeliveryRecord(row.contact, row.destination, row.outbox_key, row.state, row.sent_at,
                                            row.acknowledged_at, row.answered_at, row.platform_message_id,
                                            row.superseded_at, _held_by(row), _held_at(row), row.first_part_at)

    def set_due(self, reference: Reference, ack_due: datetime | None, feedback_due: datetime | None) -> None:
        self._conn.execute(update(items).where(items.c.reference == str(reference))
                           .values(ack_due=ack_due, feedback_due=feedback_due))

    def close(self, reference: Reference, closure: Closure) -> bool:
        """Close an open item; False when it is closed already (the first closure stands)."""
        ref = str(reference)
        outcome = seal_json(self._sealer, {"outcome": closure.outcome}, aad=_outcome_aad(ref), case=ref)
        result = self._conn.execute(
            update(items)
            .where(items.c.reference == ref, items.c.state == ItemState.OPEN.value)
            .values(state=ItemState.CLOSED.value, closed_at=closure.closed_at, closed_by=closure.closed_by,
                    outcome=outcome)
        )
        return result.rowcount > 0

    def withdraw(self, reference: Reference, withdrawal: Withdrawal) -> bool:
        """Close the item (if open) and mark it withdrawn; False when it was withdrawn already."""
        ref = str(reference)
        c = items.c
        reason = seal_json(self._sealer, {"reason": withdrawal.reason or ""}, aad=_withdrawal_aad(ref), case=ref)
        result = self._conn.execute(update(items).where(c.reference == ref, c.withdrawn_at.is_(None)).values(
            state=ItemState.CLOSED.value,
            closed_at=func.coalesce(c.closed_at, literal(withdrawal.withdrawn_at, UtcDateTime())),
            closed_by=func.coalesce(c.closed_by, withdrawal.withdrawn_by),
            withdrawn_at=withdrawal.withdrawn_at,
            withdrawn_by=withdrawal.withdrawn_by,
            withdrawal=reason,
        ))
        return result.rowcount > 0

    def add_forward(self, request: ForwardRequest) -> None:
        self._forwards.add(request)

    def forwards(self, reference: Reference) -> list[ForwardRequest]:
        return self._forwards.for_item(str(reference))

    def decide_forward(
        self, request_id: str, state: ForwardState, decided_by: str, at: datetime, reason: str
    ) -> bool:
        return self._forwards.decide(request_id, state, decided_by, at, reason)

    def _insert_rows(self, rows: list[dict[str, str]]) -> None:
        if rows:
            self._conn.execute(_ADD_DELIVERIES, rows)

    @staticmethod
    def _delivery_rows(reference: str, route: Route, outbox_keys: Mapping[str, str]) -> list[dict[str, str]]:
        """The deliveries' rows, in the route's order (their ids give it back)."""
        missing = [d.contact for d in route.deliveries if d.contact not in outbox_keys]
        if missing:
            raise ValueError(f"no outbox key for {len(missing)} deliveries")
        queued = DeliveryState.QUEUED.value
        return [{"item_reference": reference, "contact": d.contact, "destination": str(d.destination),
                 "reason": d.reason, "outbox_key": outbox_keys[d.contact], "state": queued}
                for d in route.deliveries]

    def get(self, reference: Reference, *, for_update: bool = False) -> ItemRecord | None:
        query = select(items).where(items.c.reference == str(reference))
        # The items row is the item's lock on PostgreSQL (the deliveries are read after it, in a statement
        # of their own, so they are read as the writer before us left them); SQLite's BEGIN IMMEDIATE
        # already makes each writer wait for the one before, and it leaves FOR UPDATE out.
        row = self._conn.execute(query.with_for_update(of=items) if for_update else query).one_or_none()
        if row is None:
            return None
        return self._records([row])[0]

    def get_many(self, references: Sequence[Reference]) -> list[ItemRecord]:
        """The items of `references` that exist, in that order: one query for the items, one for their
        deliveries and one for their case keys, however many they are."""
        wanted = [str(r) for r in references]
        if not wanted:
            return []
        keys = getattr(self._sealer, "case_keys", None)
        if keys is not None:
            keys.load(wanted)
        rows = {row.reference: row for row in self._conn.execute(select(items).where(items.c.reference.in_(wanted)))}
        return self._records([rows[r] for r in wanted if r in rows])

    def file_message(self, reference: Reference, message: InboundMessage, *, origin: bool = False) -> tuple[str, ...]:
        file_under_case(self._conn, self._sealer, message, str(reference))
        case_ref = str(reference)
        rows: list[dict[str, Any]] = []
        for ident, attachment in zip(message.attachment_ids(), message.attachments):
            if attachment.data is None:
                continue
            aad = attachment_aad(case_ref, ident)
            try:
                meta = seal_json(self._sealer, {"name": attachment.name, "mime": attachment.mime}, aad=aad,
                                 case=case_ref)
                data = self._sealer.seal(attachment.data, aad=aad, case=case_ref)
            except ContentErased:
                return ()  # nothing may outlive the erasure
            rows.append({"item_reference": case_ref, "id": ident, "size": len(attachment.data),
                         "created_at": message.received_at, "meta": meta, "data": data,
                         "origin": origin})
        if rows:
            self._conn.execute(insert_for(self._conn, attachments).on_conflict_do_nothing(
                index_elements=["item_reference", "id"]), rows)
        return tuple(sorted(row["id"] for row in rows))  # as attachment_ids() orders them

    def attachment_ids(self, reference: Reference) -> tuple[str, ...]:
        """The ids of the attachments filed with the message that created the item, in order."""
        c = attachments.c
        return tuple(self._conn.execute(select(c.id).where(c.item_reference == str(reference), c.origin)
                                        .order_by(c.id)).scalars())

    def attachment(self, reference: Reference, ident: str) -> Attachment | None:
        """An attachment of the item, opened; None when there is none by that id (or it was erased)."""
        case_ref = str(reference)
        row = self._conn.execute(select(attachments).where(
            attachments.c.item_reference == case_ref, attachments.c.id == ident)).one_or_none()
        if row is None:
            return None
        aad = attachment_aad(case_ref, ident)
        try:
            meta = open_json(self._sealer, row.meta, aad=aad, case=case_ref)
            data = self._sealer.open(bytes(row.data), aad=aad, case=case_ref)
        except ContentErased:
            return None
        return Attachment(meta["name"], meta["mime"], len(data), data, ident)

    def for_contact(self, contact_id: str) -> list[ItemRecord]:
        """Open items the contact sent or received, oldest first."""
        received = select(deliveries.c.item_reference).where(deliveries.c.contact == contact_id)
        rows = self._conn.execute(
            select(items)
            .where(items.c.state == ItemState.OPEN.value)
            .where(or_(items.c.originator == contact_id, items.c.reference.in_(received)))
            .order_by(items.c.created_at, items.c.reference)
        ).all()
        return self._records(rows)

    def find(self, contact_id: str | None, *, topic: str | None = None, since: datetime | None = None,
             until: datetime | None = None) -> list[Reference]:
        """References by metadata alone, newest first (see handlers.ports.ItemRepository.find)."""
        c = items.c
        query = select(c.kind, c.year, c.number)
        if contact_id is not None:
            received = select(deliveries.c.item_reference).where(deliveries.c.contact == contact_id)
            # Copies sent to them as a delegate: the outbox row (ix_outbox_contact) went to them.
            held = (select(deliveries.c.item_reference)
                    .join(outbox, outbox.c.key == deliveries.c.outbox_key).where(outbox.c.contact == contact_id))
            query = query.where(or_(c.originator == contact_id, c.reference.in_(received), c.reference.in_(held)))
        if topic is not None:
            query = query.where(c.topic == topic)
        if since is not None:
            query = query.where(c.created_at >= since)
        if until is not None:
            query = query.where(c.created_at < until)
        rows = self._conn.execute(query.order_by(c.created_at.desc(), c.year.desc(), c.kind.desc(),
                                                 c.number.desc())).all()
        return [Reference(ItemKind(row.kind), row.year, row.number) for row in rows]

    def delivery_by_message(self, platform_message_id: str) -> tuple[Reference, str] | None:
        # Whose copy it is: the outbox row's contact, the delegate where it went to someone standing in.
        row = self._conn.execute(
            select(deliveries.c.item_reference, func.coalesce(outbox.c.contact, deliveries.c.contact).label("holder"))
            .select_from(deliveries.outerjoin(outbox, outbox.c.key == deliveries.c.outbox_key))
            .where(deliveries.c.platform_message_id == platform_message_id)
            .limit(1)
        ).first()
        return (Reference.parse(row.item_reference), row.holder) if row else None

    def mark_delivery(
        self, outbox_key: str, state: str, at: datetime, platform_message_id: str | None = None
    ) -> bool:
        """Record how far a delivery got; False when the outbox key is not an item's delivery."""
        if state not in DELIVERY_STATES:
            raise ValueError(f"unknown delivery state {state!r}")
        behind = [s for s, rank in _DELIVERY_RANK.items() if rank < _DELIVERY_RANK[state]]
        c = deliveries.c
        values: dict[str, Any] = {
            "state": case((c.state.in_(behind), state), else_=c.state),
            "platform_message_id": func.coalesce(c.platform_message_id, platform_message_id),
        }
        moment = _DELIVERY_MOMENT.get(state)
        if moment is not None:
            # The first time is the one that counts; a redelivery does not move it.
            values[moment] = func.coalesce(c[moment], at)
        result = self._conn.execute(update(deliveries).where(c.outbox_key == outbox_key).values(**values))
        return result.rowcount > 0

    def _records(self, rows: Iterable[Any]) -> list[ItemRecord]:
        rows = list(rows)
        if not rows:
            return []
        references = [row.reference for row in rows]
        by_item: dict[str, list[Any]] = {ref: [] for ref in references}
        for d in self._conn.execute(
            select(deliveries, outbox.c.contact.label("sent_to"), outbox.c.destination.label("sent_at_place"),
                   _first_part_at(deliveries))
            .select_from(deliveries.outerjoin(outbox, outbox.c.key == deliveries.c.outbox_key))
            .where(deliveries.c.item_reference.in_(references)).order_by(deliveries.c.id)
        ):
            by_item[d.item_reference].append(d)
        return [self._record(row, by_item[row.reference]) for row in rows]

    def _record(self, row: Any, delivery_rows: list[Any]) -> ItemRecord:
        erasure = self._erasure(row)
        content: dict[str, Any] = {"body": "", "purpose": None, "outside_ref": None}
        if erasure is None:
            try:
                content = open_json(self._sealer, row.content, aad=item_aad(row.reference), case=row.reference)
            except ContentErased as erased:  # erased before items recorded their erasure
                erasure = Erasure(erased.erased_at or row.created_at)
        kind = ItemKind(row.kind)
        due = None
        if row.due_after is not None:
            due = DueSpec(after=row.due_after)
        elif row.due_at is not None:
            due = DueSpec(at=row.due_at)
        draft = ItemDraft(
            kind=kind,
            body=content["body"],
            recipients=split_selectors(row.recipients),
            caveat=Caveat(Tlp(row.tlp), Handling(row.handling), bool(row.orcon)),
            grading=Grading(row.grading[0], row.grading[1]) if row.grading else None,
            priority=Priority(row.priority),
            topic=row.topic,
            due=due,
            purpose=content["purpose"],
            outside_ref=content["outside_ref"],
            incident=Incident.from_json(content.get("incident")),
            hub=content.get("hub"),
        )
        item = Item(
            reference=Reference(kind, row.year, row.number),
            draft=draft,
            originator=row.originator,
            origin_chat=ChatRef.parse(row.origin_chat),
            created_at=row.created_at,
            ack_due=row.ack_due,
            feedback_due=row.feedback_due,
            state=ItemState.CLOSED if erasure else ItemState(row.state),
            revision=row.revision or 1,
            revised_at=row.revised_at,
        )
        route = Route(tuple(Delivery(d.contact, Destination.parse(d.destination), d.reason) for d in delivery_rows))
        records = tuple(
            DeliveryRecord(
                contact=d.contact,
                destination=d.destination,
                outbox_key=d.outbox_key,
                state=d.state,
                sent_at=d.sent_at,
                acknowledged_at=d.acknowledged_at,
                answered_at=d.answered_at,
                platform_message_id=d.platform_message_id,
                held_by=_held_by(d),
                held_at=_held_at(d),
                first_part_at=d.first_part_at,
            )
            for d in delivery_rows
        )
        closure = None
        if row.closed_at is not None:
            outcome = ""
            if erasure is None and row.outcome is not None:
                outcome = open_json(self._sealer, row.outcome, aad=_outcome_aad(row.reference),
                                    case=row.reference)["outcome"]
            closure = Closure(closed_by=row.closed_by, closed_at=row.closed_at, outcome=outcome)
        elif erasure is not None:  # erased while open, before items recorded their erasure
            closure = Closure(closed_by="", closed_at=erasure.erased_at, outcome="")
        withdrawal = None
        if row.withdrawn_at is not None:
            reason = None
            if erasure is None and row.withdrawal is not None:
                reason = open_json(self._sealer, row.withdrawal, aad=_withdrawal_aad(row.reference),
                                   case=row.reference)["reason"] or None
            withdrawal = Withdrawal(row.withdrawn_at, row.withdrawn_by or "", reason)
        return ItemRecord(item=item, route=route, deliveries=records, closure=closure, erasure=erasure,
                          withdrawal=withdrawal)

    def _erasure(self, row: Any) -> Erasure | None:
        if row.erased_at is None:
            return None
        reason = open_json(self._sealer, row.erasure, aad=_erasure_aad(row.reference))["reason"] if row.erasure else ""
        return Erasure(row.erased_at, reason or None)


def _held_by(row: Any) -> str | None:
    """Who a delivery's copy went to instead of its recipient (their delegate: the outbox row's
    contact, handlers/away.py); None when it went to the recipient, or was never queued."""
    return row.sent_to if row.sent_to is not None and row.sent_to != row.contact else None


def _held_at(row: Any) -> str | None:
    """The chat a delegate was sent the copy in (the outbox row's destination); None when not held."""
    return row.sent_at_place if _held_by(row) is not None else None


# closed_by of an item the erasure closed: who erased it is sealed with the reason, as the audit
# log keeps its actors.
ERASURE_CLOSER = "erasure"


def close_as_erased(connection: Connection, sealer: ContentSealer, reference: str, erasure: Erasure,
                    actor: str) -> bool:
    """In the erasure's transaction: the item is closed (if it was open, by ERASURE_CLOSER) and
    marked erased, the reason and `actor` sealed under the master key since the case key is gone,
    its closing outcome dropped. True when there was such an item."""
    c = items.c
    reason = seal_json(sealer, {"reason": erasure.reason or "", "by": actor}, aad=_erasure_aad(reference))
    result = connection.execute(update(items).where(c.reference == reference).values(
        state=ItemState.CLOSED.value,
        closed_at=func.coalesce(c.closed_at, literal(erasure.erased_at, UtcDateTime())),
        closed_by=func.coalesce(c.closed_by, ERASURE_CLOSER),
        outcome=None,
        erased_at=erasure.erased_at,
        erasure=reason,
    ))
    return result.rowcount > 0


def _erasure_aad(reference: str) -> bytes:
    return item_aad(reference) + b"|erasure"


def _withdrawal_aad(reference: str) -> bytes:
    return item_aad(reference) + b"|withdrawal"


def _outcome_aad(reference: str) -> bytes:
    return item_aad(reference) + b"|outcome"
