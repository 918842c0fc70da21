"""Where each recipient's copy is posted: their direct chat, or a room the caveat allows.

Posting in rooms (when a rule or the policy asks for it, or the item names a hub) picks, for each
recipient, a registered room holding the recipient's organisation that the caveat allows and that
holds no organisation the item is not for (a room post must not reach further than the item's
addressees, whatever the TLP). A hub or topic room takes only items of its hubs or topics, and comes
first for them; then the organisation's own room, then the smallest such room. Recipients of one route
who sit in the same room get one post there, not one each.

When no room may take it, the copy goes to the recipient's direct chat instead: a direct chat with
an addressed recipient satisfies every TLP, so falling back is always safe, and the delivery's
reason says why the room was not used. Only a recipient with no chat account at all is refused.

Channels: a room must also be encrypted enough for the item (alerts.caveat_rules.channel_violation),
and so must a direct chat. When the recipient's first account is on a channel the item may not use
(Telegram, for RED), the copy goes to the direct chat of their first account that may carry it, and
the first account gets a content-free notice saying where to read it. A recipient with no account
that may carry it is refused (NoAllowedChannel).

The same rule (direct_place) chooses the direct chat of every other message about an item (feedback,
reminders, escalations, forwards, hand-overs, failure notices), so none of them takes another way.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from alerts.caveat_rules import ENCRYPTED_ONLY, Checker, Violation, channel_violation
from alerts.caveats import Caveat, Tlp
from alerts.directory import Contact, Directory, Room
from alerts.errors import RouteRefused
from alerts.identity import Platform, UserRef
from alerts.reachability import room_not_run
from alerts.routing_rules import PostIn
from alerts.routing_types import Delivery, Destination, Notice

REASON_LIMIT = 200  # storage keeps the reason in 200 characters


class NoAllowedChannel(RouteRefused):
    """The recipient has no account whose direct chat may carry the item (only Telegram, for RED)."""


@dataclass(frozen=True, slots=True)
class Pick:
    """A recipient and why: named by the originator, or added automatically (a rule, coordinators)."""

    reason: str
    automatic: bool = False


@dataclass
class _Draft:
    contact: str
    destination: Destination
    reason: str
    also: list[str] = field(default_factory=list)

    def frozen(self) -> Delivery:
        reason = self.reason
        if self.also:
            reason += f"; also for {', '.join(self.also)}"
        if len(reason) > REASON_LIMIT:
            reason = reason[: REASON_LIMIT - 1] + "…"
        return Delivery(self.contact, self.destination, reason, tuple(self.also))


@dataclass(frozen=True, slots=True)
class DirectPlace:
    """Where a message about an item goes for one contact. `destination`: the direct chat of their
    first account that may carry it (None when no account may). `notice`: their usual chat (the first
    account on a running platform), to be told content-free where to read it, when that is not
    `destination`. Both None for a contact with no account at all."""

    destination: Destination | None
    notice: Destination | None

    def running(self, platforms: AbstractSet[Platform] | None) -> DirectPlace:
        """Only what a platform the bot runs carries (`platforms` None: every one): a message for a
        chat no connector serves would wait in the outbox forever, so it is not made at all."""
        def kept(place: Destination | None) -> Destination | None:
            return place if place is None or platforms is None or place.platform in platforms else None
        return DirectPlace(kept(self.destination), kept(self.notice))


def direct_place(contact: Contact, caveat: Caveat, directory: Directory,
                 encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY,
                 platforms: AbstractSet[Platform] | None = None) -> DirectPlace:
    """The direct chat a message carrying the content or facts of an item under `caveat` may go to,
    for `contact`; `platforms` are those the bot runs (None: all). Accounts on a running platform
    come first, so nothing waits for a connector that is not there when another account would do."""
    if not contact.identities:
        return DirectPlace(None, None)
    running = [i for i in contact.identities if platforms is None or i.platform in platforms]
    ordered = running + [i for i in contact.identities if i not in running]
    usual = Destination.direct(ordered[0])
    allowed = first_allowed(ordered, caveat, directory, encrypted_only)
    return DirectPlace(allowed, None if allowed == usual else usual)


def first_allowed(identities: list[UserRef], caveat: Caveat, directory: Directory,
                  encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY) -> Destination | None:
    """The direct chat of the first of `identities` whose channel may carry an item under `caveat`."""
    for identity in identities:
        destination = Destination.direct(identity)
        if channel_violation(caveat, destination, directory, encrypted_only) is None:
            return destination
    return None


class Placer:
    """Places the recipients of one route; made per route, so its caches never outlive a snapshot."""

    def __init__(self, directory: Directory, caveat: Caveat, audience: frozenset[str], checker: Checker,
                 encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY, platforms: AbstractSet[Platform] | None = None,
                 *, hub: str | None = None, topic: str | None = None) -> None:
        """`hub` and `topic` are the item's: a hub or topic room takes only items of its hubs or topics,
        and is preferred for them."""
        self.directory = directory
        self.hub = hub.upper() if hub else None
        self.topic = topic
        self.platforms = platforms
        self.caveat = caveat
        self.audience = audience
        self.checker = checker
        self.encrypted_only = encrypted_only
        self._rooms: dict[str, Room | Violation] = {}
        self.notices: list[Notice] = []  # filled by place()
        self.not_in_room: list[tuple[str, str]] = []  # filled by place(): (contact, why no room took it)

    def place(self, chosen: dict[str, Pick], post: PostIn) -> tuple[Delivery, ...]:
        self.notices = []
        self.not_in_room = []
        placed: list[_Draft] = []
        in_room: dict[object, _Draft] = {}
        for contact_id, pick in chosen.items():
            contact = self.directory.contacts[contact_id]
            reason = pick.reason
            if post is PostIn.ROOMS:
                room = self.room_for(contact.organisation)
                if isinstance(room, Room):
                    shared = in_room.get(room.chat)
                    if shared is not None:
                        shared.also.append(contact_id)
                    else:
                        shared = in_room[room.chat] = _Draft(contact_id, Destination.chat(room.chat),
                                                             f"{reason}; in {room.name}")
                        placed.append(shared)
                    continue
                reason = f"{reason}; direct: {room}"
                self.not_in_room.append((contact_id, str(room)))
            placed.append(_Draft(contact_id, self.direct(contact), reason))
        return tuple(p.frozen() for p in placed)

    def direct(self, contact: Contact) -> Destination:
        """The direct chat of the contact's first account that may carry the item; a notice for the
        first account when that is not it."""
        if not contact.identities:
            raise RouteRefused(f"{contact.title(self.directory)} has no chat account in the directory. "
                               "Ask an admin to add one (/member add).")
        place = direct_place(contact, self.caveat, self.directory, self.encrypted_only, self.platforms)
        if place.destination is None:
            tlp = self.caveat.tlp
            platforms = ", ".join(sorted({i.platform.value.capitalize() for i in contact.identities}))
            raise NoAllowedChannel(f"{contact.title(self.directory)} can receive {tlp.label} only over an "
                                   f"end-to-end encrypted channel (Matrix or the console), and has only {platforms}. "
                                   "Ask an admin to add a Matrix account for them (/member add), or leave them out.")
        if place.notice is not None:
            self.notices.append(Notice(contact.id, place.notice, place.destination))
        return place.destination

    def room_for(self, organisation: str) -> Room | Violation:
        """The room to post in for recipients of `organisation`, or why there is none."""
        if organisation not in self._rooms:
            self._rooms[organisation] = self._choose(organisation)
        return self._rooms[organisation]

    def _choose(self, organisation: str) -> Room | Violation:
        holding = [r for r in self.directory.rooms_holding(organisation) if r.takes(self.hub, self.topic)]
        if not holding:
            name = self.directory.organisations[organisation].name
            return Violation(f"{name} has no registered room" + (f" for {self.hub}" if self.hub else ""))
        # The item's hub room first, then its topic room, then the organisation's own, then the smallest.
        own_first = sorted(holding, key=lambda r: (not r.hubs, not r.topics, not r.is_own_room_of(organisation),
                                                   len(r.organisations)))
        first_reason: Violation | None = None
        for room in own_first:
            place = Destination.chat(room.chat)
            # A room on a platform the bot does not run is set aside: a copy there would wait forever,
            # while the recipient's direct chat may well be reached.
            unrun = room_not_run(room, self.platforms)
            violation = Violation(unrun) if unrun is not None else self.checker(self.caveat, place, self.directory, self.audience) or \
                channel_violation(self.caveat, place, self.directory, self.encrypted_only)
            if violation is None and not room.organisations <= self.audience:
                violation = Violation(f"{room.name} holds organisations the item is not for")
            if violation is None:
                return room
            first_reason = first_reason or violation
        assert first_reason is not None
        return first_reason
