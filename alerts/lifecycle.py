"""The life of an exchange: deliveries, items and forward requests, and which moves are allowed.

    delivery   queued → sent → acknowledged → answered    (failed sits between queued and sent)
    item       open → closed
    forward    pending → granted | refused

Every move is forward-only and idempotent: asking for a state already reached (or overtaken) is
not an error but "nothing to do", so a repeated /ack, a late "sent" mark from the delivery worker,
or a second /consent never undoes what happened first. Pure functions; storage applies the result.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from alerts.items import ItemState


class DeliveryState(enum.Enum):
    QUEUED = "queued"
    FAILED = "failed"  # the worker gave up for now; a later success or an /ack still moves it on
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    ANSWERED = "answered"  # answering implies acknowledging

    @property
    def rank(self) -> int:
        return _DELIVERY_ORDER.index(self)

    @property
    def acknowledged(self) -> bool:
        return self.rank >= DeliveryState.ACKNOWLEDGED.rank

    @property
    def answered(self) -> bool:
        return self is DeliveryState.ANSWERED


_DELIVERY_ORDER = [
    DeliveryState.QUEUED, DeliveryState.FAILED, DeliveryState.SENT,
    DeliveryState.ACKNOWLEDGED, DeliveryState.ANSWERED,
]


def delivery_step(current: DeliveryState, target: DeliveryState) -> DeliveryState | None:
    """The state to move to, or None when the delivery is already there or further on.

    A recipient may acknowledge or answer a delivery the worker has not marked sent yet: they
    evidently have it (the mark may simply be late), so those moves are allowed from any state.
    """
    return target if target.rank > current.rank else None


class ForwardState(enum.Enum):
    PENDING = "pending"
    GRANTED = "granted"
    REFUSED = "refused"

    @classmethod
    def decided(cls, granted: bool) -> ForwardState:
        return cls.GRANTED if granted else cls.REFUSED


def forward_step(current: ForwardState, granted: bool) -> ForwardState | None:
    """The decision to record, or None when the request was decided already (first answer counts)."""
    return ForwardState.decided(granted) if current is ForwardState.PENDING else None


def close_step(current: ItemState) -> ItemState | None:
    """CLOSED for an open item; None for one already closed (there is no reopening)."""
    return ItemState.CLOSED if current is ItemState.OPEN else None


@dataclass(frozen=True, slots=True)
class Progress:
    """How far one recipient's copy has got, with the first time each step was reached."""

    contact: str
    state: DeliveryState
    sent_at: datetime | None = None
    acknowledged_at: datetime | None = None
    answered_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Closure:
    """How an item ended: who closed it, when, and the outcome they gave (may be empty)."""

    closed_by: str
    closed_at: datetime
    outcome: str


@dataclass(frozen=True, slots=True)
class Erasure:
    """An item whose case was erased: its content is gone for good, so every view says when and why
    instead of showing it. `reason` is None where it was not recorded with the item."""

    erased_at: datetime
    reason: str | None = None


# How /reply's audit entries name the two ways feedback goes (their detail's "direction").
FEEDBACK_TO_ORIGINATOR = "feedback to originator"
UPDATE_TO_RECIPIENTS = "update to recipients"


@dataclass(frozen=True, slots=True)
class Feedback:
    """One /reply on an item, as its audit entry holds it: a recipient's feedback to the originator,
    or the originator's update to the recipients."""

    given_at: datetime
    by: str  # contact id of who typed it
    text: str
    update: bool  # the originator's update to the recipients; else feedback on one copy
    recipients: tuple[str, ...] = ()  # contact ids it went to
    on_behalf_of: str | None = None  # whose copy it answered, when their delegate or backup gave it

    @property
    def copy_of(self) -> str:
        """The recipient whose copy the feedback answers (meaningless for an update)."""
        return self.on_behalf_of or self.by


def feedback_of(by: str | None, at: datetime, recipients: tuple[str, ...], detail: Mapping[str, object] | None
                ) -> Feedback | None:
    """The Feedback a /reply audit entry records; None when its detail is not one (or is gone)."""
    if not by or not detail or not isinstance(detail.get("text"), str):
        return None
    direction = detail.get("direction")
    if direction not in (FEEDBACK_TO_ORIGINATOR, UPDATE_TO_RECIPIENTS):
        return None
    behalf = detail.get("on_behalf_of")
    return Feedback(at, by, str(detail["text"]), direction == UPDATE_TO_RECIPIENTS, recipients,
                    behalf if isinstance(behalf, str) and behalf else None)


@dataclass(frozen=True, slots=True)
class Withdrawal:
    """An item its originator (or a coordinator) took back: its copies are removed where the platform
    allows, and every command about it answers when and why instead of acting on it."""

    withdrawn_at: datetime
    withdrawn_by: str  # contact id
    reason: str | None = None  # None where the asker may not learn why


@dataclass(frozen=True, slots=True)
class ForwardRequest:
    """A request to pass an item on, waiting for (or decided by) its originator.

    `contacts` are the people the originator was asked about: consent covers them and nobody
    else, even if the same selectors resolve to someone new by the time the answer comes.
    """

    id: str
    reference: str
    asker: str
    recipients: tuple[str, ...]  # the to: selectors as written, for the record
    contacts: tuple[str, ...]
    purpose: str
    requested_at: datetime
    state: ForwardState = ForwardState.PENDING
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str = ""

    @property
    def pending(self) -> bool:
        return self.state is ForwardState.PENDING
