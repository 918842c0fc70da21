"""Where an item may be posted under its caveat, as pure functions.

    check(caveat, destination, directory, audience)   one destination
    channel_violation(caveat, destination, directory)  whether the channel is encrypted enough for it
    verify_route(route, draft, originator, directory)  a whole route, independently of how it was made

`audience` is the set of organisations the item is for: the organisations of its recipients, and
the originator's own (a room holding the source's colleagues discloses nothing new). The router
uses `check` to choose destinations, and runs `verify_route` over every route it returns, so that
a mistake in choosing can never post where a caveat forbids (defence in depth).

| TLP          | direct chats                        | rooms                                          |
| CLEAR        | anyone                              | any chat                                       |
| GREEN        | people in the directory             | registered rooms (their members are network)  |
| AMBER        | people of the audience              | registered rooms holding only the audience     |
| AMBER+STRICT | people of the audience              | an audience organisation's own room            |
| RED          | named people only (verify_route)    | never                                          |

Channels, whatever the TLP's rule above says: the content of an item whose TLP is in `encrypted_only`
(by default RED and AMBER+STRICT) goes only over end-to-end encrypted channels: Matrix direct chats
(the connector creates them encrypted, and reuses only encrypted ones), Matrix rooms seen encrypted,
and the console (it never leaves the machine). Telegram is never end-to-end encrypted for a bot. An
unencrypted Matrix room never gets AMBER or above, whatever `encrypted_only` says.

Answers, too: an answer carrying the facts of an AMBER+STRICT or RED item (its recipients, their
progress) is given only in the asker's direct chat, never in a chat others read (`private_answer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from alerts.caveats import Caveat, Tlp
from alerts.directory import Contact, Directory
from alerts.identity import ChatRef, Platform
from alerts.items import ItemDraft, SelectorKind
from alerts.routing_types import Destination, DestinationKind, Route


@dataclass(frozen=True, slots=True)
class Violation:
    """Why a delivery may not be made, in words fit for the person who asked for it."""

    reason: str

    def __str__(self) -> str:
        return self.reason


Checker = Callable[[Caveat, Destination, Directory, frozenset[str]], "Violation | None"]

# The TLPs whose content goes only over end-to-end encrypted channels unless the config says otherwise.
ENCRYPTED_ONLY: frozenset[Tlp] = frozenset({Tlp.AMBER_STRICT, Tlp.RED})
# The TLPs whose facts (recipients, times, progress) are answered only in the asker's direct chat.
PRIVATE_FACTS: frozenset[Tlp] = frozenset({Tlp.AMBER_STRICT, Tlp.RED})


def end_to_end(destination: Destination, directory: Directory) -> bool:
    """Whether what is posted at `destination` is end-to-end encrypted (see the module docstring)."""
    platform = destination.platform
    if platform is Platform.CONSOLE:
        return True
    if platform is not Platform.MATRIX:
        return False  # Telegram's Bot API has cloud chats only
    if destination.kind is DestinationKind.DIRECT:
        return True
    room = directory.room(destination.address)  # type: ignore[arg-type]
    return room is not None and room.encrypted


def channel_violation(caveat: Caveat, destination: Destination, directory: Directory,
                      encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY) -> Violation | None:
    """None when the channel of `destination` may carry an item's content under `caveat`."""
    tlp = caveat.tlp
    if tlp.rank < Tlp.AMBER.rank and tlp not in encrypted_only:
        return None
    if end_to_end(destination, directory):
        return None
    if tlp in encrypted_only:
        return Violation(f"{tlp.label} goes only over end-to-end encrypted channels (Matrix, the console), "
                         f"and {_channel_name(destination, directory)} is not one")
    if destination.platform is Platform.MATRIX and destination.kind is DestinationKind.CHAT:
        return Violation(f"{tlp.label} is never posted in an unencrypted Matrix room, and "
                         f"{_channel_name(destination, directory)} is not encrypted")
    return None


def _channel_name(destination: Destination, directory: Directory) -> str:
    if destination.kind is DestinationKind.DIRECT:
        return f"a {destination.platform.value.capitalize()} direct chat"
    room = directory.room(destination.address)  # type: ignore[arg-type]
    return room.name if room is not None else str(destination.address)


def shared_chat(chat: ChatRef, direct: bool = False) -> bool:
    """Whether people besides the sender may read `chat`: a group or room. A Matrix room cannot be
    told from a direct chat by its id: it counts as shared (failing closed) unless the connector
    said it is the sender's direct chat (`direct`)."""
    return not direct and chat.is_direct is not True


def private_answer(chat: ChatRef, tlps: frozenset[Tlp] | set[Tlp], direct: bool = False) -> bool:
    """Whether an answer carrying facts of items at `tlps` must go to the asker's direct chat
    rather than to `chat`, where the command was typed."""
    return shared_chat(chat, direct) and bool(PRIVATE_FACTS & set(tlps))


def check(caveat: Caveat, destination: Destination, directory: Directory,
          audience: frozenset[str] = frozenset()) -> Violation | None:
    """None when an item under `caveat`, meant for organisations `audience`, may go to `destination`."""
    tlp = caveat.tlp
    if tlp is Tlp.CLEAR:
        return None
    if destination.kind is DestinationKind.DIRECT:
        return _check_direct(tlp, destination, directory, audience)
    if tlp is Tlp.RED:
        return Violation("TLP:RED is never posted in a room or group, only in direct chats with each named person")
    room = directory.room(destination.address)  # type: ignore[arg-type]
    if room is None:
        return Violation(f"{tlp.label} is posted only in registered rooms, and {destination.address} is not one")
    if tlp is Tlp.GREEN:
        return None
    if not room.organisations:
        return Violation(f"{tlp.label} needs a room whose members are known; {room.name} lists no organisations")
    if tlp is Tlp.AMBER_STRICT:
        owner = next(iter(room.organisations))
        if not (room.is_own_room_of(owner) and owner in audience):
            return Violation(f"TLP:AMBER+STRICT is posted only in the recipient organisation's own room, "
                             f"and {room.name} is not one")
        return None
    outsiders = room.organisations - audience
    if outsiders:
        return Violation(f"TLP:AMBER is posted only in rooms restricted to the recipient organisations, and "
                         f"{room.name} also holds {', '.join(sorted(outsiders))}")
    return None


def _check_direct(tlp: Tlp, destination: Destination, directory: Directory,
                  audience: frozenset[str]) -> Violation | None:
    person = directory.contact_for(destination.address)  # type: ignore[arg-type]
    if person is None:
        return Violation(f"{tlp.label} goes only to people in the directory, and {destination.address} is not")
    if tlp is not Tlp.GREEN and person.organisation not in audience:
        return Violation(f"{tlp.label} goes only to the recipient organisations, and "
                         f"{person.title(directory)} is not in one")
    return None


def named_people(draft: ItemDraft, directory: Directory) -> set[str]:
    """The contact ids the item's own `to:` names one by one (TLP:RED goes to nobody else)."""
    named = set()
    for selector in draft.recipients:
        if selector.kind is SelectorKind.PERSON:
            person = directory.contact(selector.person or "")
            if person is not None:
                named.add(person.id)
    return named


def verify_route(route: Route, draft: ItemDraft, originator: Contact, directory: Directory,
                 checker: Checker = check, encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY) -> Violation | None:
    """The first delivery of `route` that breaks the item's caveat, its channel rule or the routing
    contract, if any. Content-free notices (route.notices) carry no content and are not checked."""
    caveat = draft.caveat
    recipients = route.recipients
    known = [directory.contacts.get(c) for c in recipients]
    if None in known:
        return Violation(f"{recipients[known.index(None)]} is not in the directory")
    if len(set(recipients)) != len(recipients):
        return Violation("someone would receive the item twice")
    if originator.id in recipients:
        return Violation("the originator would receive their own item")
    audience = frozenset(c.organisation for c in known if c is not None) | {originator.organisation}
    named = named_people(draft, directory) if caveat.tlp is Tlp.RED else set()
    for delivery in route.deliveries:
        destination = delivery.destination
        if destination.kind is DestinationKind.DIRECT:
            owner = directory.contact_for(destination.address)  # type: ignore[arg-type]
            if delivery.also or owner is not directory.contacts[delivery.contact]:
                return Violation(f"a direct chat reaches {delivery.contact} alone, through one of their accounts")
        if caveat.tlp is Tlp.RED and delivery.contact not in named:
            return Violation(f"TLP:RED goes only to people named in to:, and {delivery.contact} was not named")
        violation = checker(caveat, destination, directory, audience) or \
            channel_violation(caveat, destination, directory, encrypted_only)
        if violation is not None:
            return violation
    return None
