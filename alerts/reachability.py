"""Who can be reached on the platforms the bot runs, and what routes to those who cannot.

A copy whose destination is on a platform no connector serves would wait in the outbox forever
while the originator believes it is on its way; routing says who cannot be reached instead, and
check-config names such contacts before anyone posts. A room on such a platform is set aside: no
copy is placed there (the recipient's direct chat is used) and /room sync plans nothing for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from alerts.directory import Contact, Directory, Room
from alerts.identity import ChatRef, Platform
from alerts.items import Selector, SelectorKind
from alerts.roles import Role
from alerts.routing_rules import RoutingPolicy
from alerts.routing_types import Destination, DestinationKind

NO_ACCOUNT = "no account on an enabled platform"


def reachable(destination: Destination, platforms: AbstractSet[Platform] | None) -> bool:
    """Whether a connector for the destination's platform runs (`platforms` None: every platform does)."""
    return platforms is None or destination.platform in platforms


# One id of each kind per platform, for the example in a refusal that names a platform the bot runs.
ROOM_EXAMPLES = {Platform.MATRIX: "matrix:!kul:example.org", Platform.TELEGRAM: "telegram:-1001234567890",
                 Platform.CONSOLE: "console:#kul"}
ACCOUNT_EXAMPLES = {Platform.MATRIX: "@alice:example.org", Platform.TELEGRAM: "telegram:user:42",
                    Platform.CONSOLE: "console:alice"}


def reaches(contact: Contact | None, platforms: AbstractSet[Platform] | None) -> bool:
    """Whether the bot can tell `contact` anything: an account of theirs is on a platform it runs."""
    return contact is not None and any(platforms is None or i.platform in platforms for i in contact.identities)


def running_text(platforms: AbstractSet[Platform]) -> str:
    """Platforms as people read them: "matrix and console"."""
    names = [p.value for p in Platform if p in platforms]
    if not names:
        return "no platform"
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def not_run(platform: Platform, platforms: AbstractSet[Platform] | None) -> str | None:
    """Why nothing on `platform` could ever be reached, as a clause after the platform's name ("on
    matrix, which …"), or None where a connector for it runs (`platforms` None: every one does)."""
    if platforms is None or platform in platforms:
        return None
    return f"which this bot does not run (it runs {running_text(platforms)})"


def example_platform(platforms: AbstractSet[Platform] | None) -> Platform:
    """The platform a refusal's example is on: one the bot runs, Matrix first."""
    return next((p for p in Platform if platforms is None or p in platforms), Platform.CONSOLE)


def room_not_run(room: Room, platforms: AbstractSet[Platform] | None) -> str | None:
    """Why nothing is posted in `room` nor synced there: "Network room is on matrix, which this bot
    does not run (it runs console)"; None where its platform runs."""
    unrun = not_run(room.chat.platform, platforms)
    return None if unrun is None else f"{room.name} is on {room.chat.platform.value}, {unrun}"


def configured_room_not_run(what: str, chat: ChatRef, platforms: AbstractSet[Platform] | None) -> str | None:
    """The one line said where what goes to a room the configuration names (`what`: "digest room")
    goes to the admins instead, because the room is on a platform not run; None where it runs."""
    unrun = not_run(chat.platform, platforms)
    if unrun is None:
        return None
    return f"⚠ The {what} {chat} is on {chat.platform.value}, {unrun}: sent to the admins instead."


@dataclass(frozen=True, slots=True)
class SetAside:
    """A room or a contact the configuration names that no platform the bot runs reaches: it stays in
    the directory (admins see it and can fix it), but nothing is posted to it and /room sync leaves it out."""

    kind: str  # "room" or "contact"
    position: int  # among the configuration's rooms, or its contacts: the index of its key path
    name: str  # the room's chat, or the contact's id
    platforms: tuple[Platform, ...]  # the platforms it is on, none of them run


def set_aside(rooms: Sequence[Room], contacts: Sequence[Contact], platforms: AbstractSet[Platform]) -> list[SetAside]:
    """The rooms, then the contacts, in the order given, that no platform in `platforms` reaches."""
    found = [SetAside("room", i, str(r.chat), (r.chat.platform,)) for i, r in enumerate(rooms)
             if r.chat.platform not in platforms]
    for i, contact in enumerate(contacts):
        on = tuple(p for p in Platform if any(identity.platform is p for identity in contact.identities))
        if not any(p in platforms for p in on):
            found.append(SetAside("contact", i, contact.id, on))
    return found


def why_unreachable(destination: Destination) -> str:
    if destination.kind is DestinationKind.DIRECT:
        return NO_ACCOUNT
    return f"its room is on {destination.platform.value}, which is not enabled"


@dataclass(frozen=True, slots=True)
class Unreachable:
    """A contact with no account on an enabled platform, and what would route items to them."""

    contact: Contact
    routes: tuple[str, ...]


def unreachable_contacts(directory: Directory, policy: RoutingPolicy,
                         platforms: Iterable[Platform]) -> list[Unreachable]:
    """Every contact none of whose accounts is on `platforms`, in directory order, with what routes to them."""
    enabled = frozenset(platforms)
    found = []
    for contact in directory.contacts.values():
        if any(identity.platform in enabled for identity in contact.identities):
            continue
        found.append(Unreachable(contact, _routes_to(contact, directory, policy)))
    return found


def _routes_to(contact: Contact, directory: Directory, policy: RoutingPolicy) -> tuple[str, ...]:
    routes = [f"to:@{contact.id}"]
    if directory.point_of_contact(contact.organisation, contact.desk) == contact:
        routes.append(f"to:{contact.organisation}/{contact.desk}" if contact.desk else f"to:{contact.organisation}")
    if contact in directory.member_points_of_contact():
        routes.append("to:all")
    for topic, selectors in policy.topic_defaults.items():
        if any(_selects(s, contact, directory) for s in selectors):
            routes.append(f"topic {topic}")
    for rule in policy.rules:
        if any(_selects(s, contact, directory) for s in rule.add):
            routes.append(f"rule {rule.name}")
    if contact.has(Role.COORDINATOR):
        routes.append("urgent items and escalations (coordinator)")
    backing = [c.id for c in directory.contacts.values() if c.backup == contact.id]
    if backing:
        routes.append(f"escalations as backup of {', '.join(backing)}")
    return tuple(routes)


def _selects(selector: Selector, contact: Contact, directory: Directory) -> bool:
    if selector.kind is SelectorKind.PERSON:
        return directory.contact(selector.person or "") == contact
    if selector.kind is SelectorKind.ALL:
        return contact in directory.member_points_of_contact()
    org = directory.organisation(selector.organisation or "")
    return org is not None and directory.point_of_contact(org.code, selector.desk) == contact
