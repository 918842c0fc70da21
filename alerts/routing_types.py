"""What routing produces: a Route of Deliveries, each to a Destination, with the reason for it."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from alerts.identity import ChatRef, Platform, UserRef


class DestinationKind(enum.Enum):
    DIRECT = "direct"  # the person's direct chat with the bot, created on demand where needed
    CHAT = "chat"      # a known chat: a registered room, or the chat a command came from


@dataclass(frozen=True, slots=True)
class Destination:
    """Where a message is posted: a person's direct chat with the bot, or a known chat."""

    kind: DestinationKind
    address: UserRef | ChatRef

    @classmethod
    def direct(cls, user: UserRef) -> Destination:
        return cls(DestinationKind.DIRECT, user)

    @classmethod
    def chat(cls, chat: ChatRef) -> Destination:
        return cls(DestinationKind.CHAT, chat)

    @classmethod
    def parse(cls, text: str) -> Destination:
        kind, _, rest = text.partition(":")
        if kind == DestinationKind.DIRECT.value:
            return cls.direct(UserRef.parse(rest))
        if kind == DestinationKind.CHAT.value:
            return cls.chat(ChatRef.parse(rest))
        raise ValueError(f"not a destination: {text!r}")

    @property
    def platform(self) -> Platform:
        return self.address.platform

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.address}"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One message to post. `contact` is the person it is for, and whose acknowledgement counts.

    A room post may reach further recipients of the same route sitting in that room; they are in
    `also` rather than getting a second copy in the same room (the reason names them too, because
    storage keeps one row per delivery and the reason is what it keeps of them).
    """

    contact: str
    destination: Destination
    reason: str
    also: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Notice:
    """A content-free message: the recipient's copy went to `read_at` (an end-to-end encrypted
    channel), and `destination` (their usual chat, which may not carry the content) is told so."""

    contact: str
    destination: Destination
    read_at: Destination


@dataclass(frozen=True, slots=True)
class Route:
    deliveries: tuple[Delivery, ...]
    # Recipients sent to without a sharing arrangement, because the originator confirmed it.
    confirmed_without_arrangement: tuple[str, ...] = ()
    # Told where to read their copy; only made when routing, never stored with the item.
    notices: tuple[Notice, ...] = ()
    # Recipients whose copy was to be posted in a room (a hub's, or as a rule asks) and went to their
    # direct chat instead, each with why no room could take it: the originator's receipt says so.
    # Only made when routing, as the notices.
    not_in_room: tuple[tuple[str, str], ...] = ()

    @property
    def contacts(self) -> tuple[str, ...]:
        """The contact each delivery is for: one per delivery, in order."""
        return tuple(d.contact for d in self.deliveries)

    @property
    def recipients(self) -> tuple[str, ...]:
        """Everyone the route reaches by name, including those reached by a room post for another."""
        return tuple(c for d in self.deliveries for c in (d.contact, *d.also))
