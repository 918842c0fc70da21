"""Alerts and requests for information, their reference numbers, recipients and due times."""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.caveats import Caveat
from alerts.errors import InvalidValue
from alerts.grading import Grading
from alerts.identity import ChatRef
from alerts.incident import Incident
from alerts.priority import Priority


class ItemKind(enum.Enum):
    ALERT = "A"
    REQUEST = "R"

    @property
    def noun(self) -> str:
        return "Alert" if self is ItemKind.ALERT else "Request"


_REFERENCE = re.compile(r"^([AR])-(\d{4})-(\d{4,})$")


@dataclass(frozen=True, slots=True)
class Reference:
    """`A-2026-0042`: kind, year of creation, and a number that never repeats within the year."""

    kind: ItemKind
    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Reference:
        match = _REFERENCE.match(text.strip().upper())
        if not match:
            raise InvalidValue("Reference", text, "A-YYYY-NNNN or R-YYYY-NNNN", "A-2026-0042")
        return cls(ItemKind(match[1]), int(match[2]), int(match[3]))

    @classmethod
    def looks_like(cls, text: str) -> bool:
        return bool(_REFERENCE.match(text.strip().upper()))

    def __str__(self) -> str:
        return f"{self.kind.value}-{self.year:04d}-{self.number:04d}"


class SelectorKind(enum.Enum):
    ALL = "all"
    ORGANISATION = "organisation"
    DESK = "desk"
    PERSON = "person"


@dataclass(frozen=True, slots=True)
class Selector:
    """One `to:` entry: `all`, an organisation or country, `TH/immigration`, or a named person."""

    kind: SelectorKind
    organisation: str | None = None
    desk: str | None = None
    person: str | None = None

    def __str__(self) -> str:
        if self.kind is SelectorKind.ALL:
            return "all"
        if self.kind is SelectorKind.ORGANISATION:
            return str(self.organisation)
        if self.kind is SelectorKind.DESK:
            return f"{self.organisation}/{self.desk}"
        return f"@{self.person}"


ALL = Selector(SelectorKind.ALL)


@dataclass(frozen=True, slots=True)
class DueSpec:
    """A due time as written: a duration from creation (`24h`) or a moment (`2026-11-30 14:00`)."""

    after: timedelta | None = None
    at: datetime | None = None

    def __post_init__(self) -> None:
        if (self.after is None) == (self.at is None):
            raise ValueError("DueSpec needs exactly one of after and at")

    def resolve(self, created_at: datetime) -> datetime:
        return created_at + self.after if self.after is not None else self.at  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class ItemDraft:
    """What a command asks for, before it has a reference number or a route."""

    kind: ItemKind
    body: str
    recipients: tuple[Selector, ...] = ()
    caveat: Caveat = Caveat()
    grading: Grading | None = None
    priority: Priority = Priority.ROUTINE
    topic: str | None = None
    due: DueSpec | None = None
    purpose: str | None = None
    outside_ref: str | None = None
    incident: Incident = Incident()  # the harmonised fields (alerts.incident), sealed with the body
    hub: str | None = None  # a hub (airport, seaport, border crossing, sea area) such as KUL, upper case


class ItemState(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Item:
    """An alert or a request as accepted: numbered, timed, and owned by its originator."""

    reference: Reference
    draft: ItemDraft
    originator: str
    origin_chat: ChatRef
    created_at: datetime
    ack_due: datetime | None = None
    feedback_due: datetime | None = None
    state: ItemState = ItemState.OPEN

    @property
    def kind(self) -> ItemKind:
        return self.reference.kind

    @property
    def caveat(self) -> Caveat:
        return self.draft.caveat
