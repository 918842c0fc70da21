"""The directory of the network: organisations, their desks, contacts, rooms and sharing arrangements.

A Directory is an immutable snapshot; routing resolves against one snapshot, so that a route
cannot shift half-way. Routing must stay O(recipients) against thousands of contacts and hundreds
of rooms, so every lookup it makes is a dict lookup into an index built once per snapshot: contacts
by identity, by id in any case and by role, points of contact by organisation and desk, national
points of contact of the members, organisations by name, rooms by chat and by the organisations
they hold, the hubs rooms are for, and arrangements by pair of parties.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping

from alerts.arrangements import Arrangement, MissingArrangement, pairs
from alerts.countries import country_code
from alerts.identity import ChatRef, UserRef
from alerts.roles import Role


class OrgKind(enum.Enum):
    COUNTRY = "country"
    ORGANISATION = "organisation"
    COORDINATOR = "coordinator"


class Standing(enum.Enum):
    MEMBER = "member"
    OBSERVER = "observer"


class RoomPurpose(enum.Enum):
    NETWORK = "network"
    COUNTRY = "country"
    ORGANISATION = "organisation"
    COORDINATION = "coordination"
    MANAGEMENT = "management"


# Rooms that belong to one organisation: the only rooms TLP:AMBER+STRICT may be posted in.
OWN_ROOM_PURPOSES = frozenset({RoomPurpose.COUNTRY, RoomPurpose.ORGANISATION})


@dataclass(frozen=True, slots=True)
class Organisation:
    """A member country, an international organisation, or the coordinating office."""

    code: str
    name: str
    kind: OrgKind
    standing: Standing = Standing.MEMBER
    desks: tuple[str, ...] = ()  # its agencies or desks with their own point of contact, lower case


@dataclass(frozen=True, slots=True)
class Contact:
    """A person: one contact across platforms, with a role set and where they sit."""

    id: str
    name: str
    organisation: str
    roles: frozenset[Role]
    identities: tuple[UserRef, ...]  # the first is where direct deliveries go
    desk: str | None = None
    # Their own IANA zone; "" for none of their own (Directory.zone_for gives the clock they read): never
    # "UTC" for none given, which would hide the network's default from them.
    timezone: str = ""
    backup: str | None = None

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def is_point_of_contact(self) -> bool:
        return Role.CONTACT in self.roles

    def title(self, directory: Directory | None = None) -> str:
        org = directory.organisations.get(self.organisation) if directory else None
        where = org.name if org else self.organisation
        if self.desk:
            where += f" {self.desk}"
        return f"{self.name} ({where})"


@dataclass(frozen=True, slots=True)
class Room:
    """A registered room or group and the organisations whose members it holds."""

    chat: ChatRef
    name: str
    purpose: RoomPurpose
    organisations: frozenset[str] = frozenset()
    # End-to-end encrypted as the platform last showed it (a Matrix room's m.room.encryption state);
    # False until seen, so that a room nobody has looked at yet is treated as unencrypted.
    encrypted: bool = False
    # A hub room (an airport, a seaport, a border crossing, a sea area: "KUL") or a topic room takes
    # only items of its hubs or topics; empty: any item its organisations may see.
    hubs: frozenset[str] = frozenset()  # upper case
    topics: frozenset[str] = frozenset()

    def takes(self, hub: str | None, topic: str | None) -> bool:
        """Whether an item of `hub` and `topic` may be posted here, by what the room is for."""
        return (not self.hubs or (hub is not None and hub.upper() in self.hubs)) and \
            (not self.topics or (topic is not None and topic in self.topics))

    def is_own_room_of(self, organisation: str) -> bool:
        """A country's or organisation's own room: it holds that organisation's members only."""
        return self.purpose in OWN_ROOM_PURPOSES and self.organisations == frozenset((organisation,))


@dataclass(frozen=True, slots=True)
class _Index:
    by_identity: dict[UserRef, Contact]
    by_folded_id: dict[str, Contact]
    points: dict[tuple[str, str | None], Contact]
    by_role: dict[Role, tuple[Contact, ...]]
    org_by_name: dict[str, Organisation]
    members: tuple[Organisation, ...]
    member_points: tuple[Contact, ...]
    room_by_chat: dict[ChatRef, Room]
    rooms_by_org: dict[str, tuple[Room, ...]]
    arrangements: dict[frozenset[str], tuple[Arrangement, ...]]
    hubs: frozenset[str]

    @classmethod
    def of(cls, directory: Directory) -> _Index:
        by_identity: dict[UserRef, Contact] = {}
        claimed_twice: set[UserRef] = set()
        points: dict[tuple[str, str | None], Contact] = {}
        by_role: dict[Role, list[Contact]] = {}
        for contact in directory.contacts.values():
            for identity in contact.identities:
                if by_identity.setdefault(identity, contact) is not contact:
                    claimed_twice.add(identity)
            if contact.is_point_of_contact:
                points.setdefault((contact.organisation, contact.desk), contact)  # one per desk; first wins
            for role in contact.roles:
                by_role.setdefault(role, []).append(contact)
        for identity in claimed_twice:
            # The configuration and the database refuse this; should it happen anyway, the account is
            # nobody's: it can neither act as one of them nor receive what is meant for one of them.
            del by_identity[identity]
        members = tuple(o for o in directory.organisations.values() if o.standing is Standing.MEMBER)
        rooms_by_org: dict[str, list[Room]] = {}
        for room in directory.rooms:
            for code in room.organisations:
                rooms_by_org.setdefault(code, []).append(room)
        return cls(
            by_identity=by_identity,
            by_folded_id={c.id.lower(): c for c in reversed(list(directory.contacts.values()))},
            points=points,
            by_role={role: tuple(found) for role, found in by_role.items()},
            org_by_name={o.name.upper(): o for o in reversed(list(directory.organisations.values()))},
            members=members,
            member_points=tuple(p for o in members if (p := points.get((o.code, None))) is not None),
            room_by_chat={room.chat: room for room in reversed(directory.rooms)},
            rooms_by_org={code: tuple(found) for code, found in rooms_by_org.items()},
            arrangements=pairs(directory.arrangements),
            hubs=frozenset(hub for room in directory.rooms for hub in room.hubs),
        )


@dataclass(frozen=True)
class Directory:
    """An immutable snapshot of the network, with the indexes that keep routing O(recipients)."""

    organisations: Mapping[str, Organisation]
    contacts: Mapping[str, Contact]
    rooms: tuple[Room, ...] = ()
    arrangements: tuple[Arrangement, ...] = ()
    default_zone: str = "UTC"  # the configured default_timezone: the clock of people without a zone of their own
    _index: _Index = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Own copies, so that the indexes match what the snapshot holds. They stay plain dicts, as
        # callers have always had them, but a snapshot is never edited once built: a changed directory
        # is a new snapshot (DatabaseDirectory.refresh), so the indexes cannot go stale.
        object.__setattr__(self, "organisations", dict(self.organisations))
        object.__setattr__(self, "contacts", dict(self.contacts))
        object.__setattr__(self, "rooms", tuple(self.rooms))
        object.__setattr__(self, "arrangements", tuple(self.arrangements))
        object.__setattr__(self, "_index", _Index.of(self))

    @classmethod
    def build(cls, organisations: Iterable[Organisation], contacts: Iterable[Contact],
              rooms: Iterable[Room] = (), arrangements: Iterable[Arrangement] = (), *,
              default_zone: str = "UTC") -> Directory:
        return cls({o.code: o for o in organisations}, {c.id: c for c in contacts}, tuple(rooms), tuple(arrangements),
                   default_zone or "UTC")

    def zone_for(self, contact: Contact | None) -> str:
        """The clock a person reads times on, the one rule chat and portal apply: their own zone, else
        the configured default (`default_timezone`), else UTC."""
        if contact is not None and contact.timezone:
            return contact.timezone
        return self.default_zone or "UTC"

    def organisation(self, text: str) -> Organisation | None:
        """An organisation by code, by the other ISO code form, or by name, in any case."""
        key = text.strip().upper()
        found = self.organisations.get(key)
        if found is not None:
            return found
        alpha2 = country_code(key)
        if alpha2 and alpha2 in self.organisations:
            return self.organisations[alpha2]
        return self._index.org_by_name.get(key)

    def contact_for(self, identity: UserRef) -> Contact | None:
        return self._index.by_identity.get(identity)

    def contact(self, text: str) -> Contact | None:
        """A contact by id (with or without a leading @, in any case) or by one of their identities."""
        key = text.strip().removeprefix("@")
        found = self.contacts.get(key) or self._index.by_folded_id.get(key.lower())
        if found is not None:
            return found
        try:
            return self.contact_for(UserRef.parse(text.strip()))
        except ValueError:
            return None

    def point_of_contact(self, organisation: str, desk: str | None = None) -> Contact | None:
        """The desk's single point of contact, falling back to the national point of contact."""
        if desk is not None:
            found = self._index.points.get((organisation, desk.lower()))
            if found:
                return found
        return self._index.points.get((organisation, None))

    def with_role(self, role: Role) -> list[Contact]:
        return list(self._index.by_role.get(role, ()))

    def members(self) -> list[Organisation]:
        return list(self._index.members)

    def member_points_of_contact(self) -> tuple[Contact, ...]:
        """The national point of contact of every member that has one, in directory order: `to:all`."""
        return self._index.member_points

    def room(self, chat: ChatRef) -> Room | None:
        return self._index.room_by_chat.get(chat)

    def rooms_holding(self, organisation: str) -> tuple[Room, ...]:
        """Registered rooms with members of `organisation`, in registration order."""
        return self._index.rooms_by_org.get(organisation, ())

    def hubs(self) -> frozenset[str]:
        """Every hub some registered room is for."""
        return self._index.hubs

    def arrangements_between(self, first: str, second: str) -> tuple[Arrangement, ...]:
        return self._index.arrangements.get(frozenset((first, second)), ())

    def backup_for(self, contact: Contact) -> Contact | None:
        return self.contacts.get(contact.backup) if contact.backup else None


def missing_arrangement(directory: Directory, sender: str, recipient: str, topic: str | None,
                        *, membership: bool = True, at: datetime | None = None) -> MissingArrangement | None:
    """None when `sender` (an organisation code) may share with `recipient` on `topic` at `at`
    (an arrangement's dates are checked against it; without it, a dated arrangement counts for nothing)."""
    if sender == recipient:
        return None
    orgs = directory.organisations
    ours, theirs = orgs.get(sender), orgs.get(recipient)
    if ours is None or theirs is None:  # unknown organisations have no basis; the router refuses earlier
        return MissingArrangement(sender, recipient, recipient, topic)
    if OrgKind.COORDINATOR in (ours.kind, theirs.kind):
        return None
    if membership and ours.standing is Standing.MEMBER and theirs.standing is Standing.MEMBER:
        return None
    between = directory.arrangements_between(sender, recipient)
    lapsed: list[str] = []
    for arrangement in between:
        if not arrangement.covers(topic):
            continue
        # Named as /arrangement list and the reminders name it: two between the same parties stay apart.
        what = f"the arrangement {arrangement.label(sender)} {arrangement.kind!r} for {topic or arrangement.scope()}"
        lapse = arrangement.lapse(at)
        if lapse is not None:
            lapsed.append(f"{what} {lapse}")
        elif not arrangement.allows(sender):
            lapsed.append(f"{what} goes one way only, from {arrangement.giver}")
        else:
            return None
    partial = tuple(a for a in between if not a.covers(topic))
    return MissingArrangement(ours.name, theirs.name, theirs.code, topic, partial, tuple(lapsed))
