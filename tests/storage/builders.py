"""Builders for storage tests: items, routes, messages, and a recording stand-in for the audit log."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection

from alerts.audit import AuditEvent
from alerts.caveats import Caveat, Handling, Tlp
from alerts.grading import Grading
from alerts.identity import ChatRef, UserRef
from alerts.items import DueSpec, Item, ItemDraft, ItemKind, Reference, Selector, SelectorKind
from alerts.messages import MessageKind, OutboundMessage
from alerts.priority import Priority
from alerts.routing import Delivery, Destination, Route
from storage.sealing import ContentSealer
from storage.uow import HeldAuditLog, SealingFactory

CREATED = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)


class RecordingAudit:
    """A stand-in AuditLog: remembers what it was given and on which connection."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)

    def held(self) -> AbstractContextManager[None]:
        return nullcontext()  # recorded at once: nothing to write at the block's end


def sealing(sealer: ContentSealer, audit: Callable[[Connection], HeldAuditLog] = RecordingAudit) -> SealingFactory:
    """A unit of work's sealing with one sealer for every connection, and `audit` made for each."""
    return lambda connection: (sealer, audit(connection))


def make_item(
    number: int = 1,
    *,
    originator: str = "th-lo",
    body: str = "Two travellers with altered passports, flight XX123",
    created_at: datetime = CREATED,
    **draft_fields: object,
) -> Item:
    fields: dict[str, object] = {
        "recipients": (
            Selector(SelectorKind.ORGANISATION, organisation="TH"),
            Selector(SelectorKind.DESK, organisation="MY", desk="immigration"),
            Selector(SelectorKind.PERSON, person="sg-npoc"),
        ),
        "caveat": Caveat(Tlp.AMBER_STRICT, Handling.H2, orcon=True),
        "grading": Grading("B", "2"),
        "priority": Priority.URGENT,
        "topic": "document-fraud",
        "due": DueSpec(after=timedelta(hours=24)),
        "purpose": "identity check for prosecution",
        "outside_ref": "OPS/2026/77",
    }
    fields.update(draft_fields)
    draft = ItemDraft(ItemKind.ALERT, body, **fields)  # type: ignore[arg-type]
    return Item(
        reference=Reference(ItemKind.ALERT, 2026, number),
        draft=draft,
        originator=originator,
        origin_chat=ChatRef.parse("console:#network"),
        created_at=created_at,
        ack_due=created_at + timedelta(hours=4),
        feedback_due=created_at + timedelta(hours=24),
    )


def make_route(*contacts: str) -> Route:
    return Route(
        tuple(Delivery(c, Destination.direct(UserRef.parse(f"console:{c}")), f"to:{c}") for c in contacts)
    )


def make_message(key: str, to: str = "alice", text: str = "hello", **fields: object) -> OutboundMessage:
    return OutboundMessage(
        key=key,
        kind=fields.pop("kind", MessageKind.NOTICE),  # type: ignore[arg-type]
        destination=fields.pop("destination", Destination.direct(UserRef.parse(f"console:{to}"))),  # type: ignore[arg-type]
        text=text,
        **fields,  # type: ignore[arg-type]
    )
