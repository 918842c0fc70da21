"""Room membership as the directory calls for it: who belongs in which registered room, the drift
between that and who is there, and plans of actions (invite, remove) that close the gap.

Pure: no I/O. The handlers (handlers/membership.py) decide, bot/actions/membership.py carries out.

Who belongs in a room (one rule, used for onboarding, offboarding and drift alike):

| purpose        | who belongs                                                                  |
| -------------- | ---------------------------------------------------------------------------- |
| network        | every contact of the organisations the room holds                            |
| country        | every contact of that country                                                |
| organisation   | every contact of that organisation                                           |
| coordination   | contacts of the organisations it holds, and every coordinator in the network |
| management     | admins                                                                       |

A person is placed with each of their accounts on the room's platform (none there: they cannot be
placed, and the plan says so). The bot's own accounts are never drift.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace

from alerts.directory import Contact, Directory, Room, RoomPurpose
from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import MessageKind, OutboundMessage
from alerts.roles import Role
from alerts.routing import Destination


class RoomAction(enum.Enum):
    INVITE = "invite"
    REMOVE = "remove"


def belongs_in(contact: Contact, room: Room) -> bool:
    """Whether the directory calls for `contact` to be in `room` (the table in the module docstring)."""
    if room.purpose is RoomPurpose.MANAGEMENT:
        return contact.has(Role.ADMIN)
    if room.purpose is RoomPurpose.COORDINATION and contact.has(Role.COORDINATOR):
        return True
    return contact.organisation in room.organisations


def accounts_in(contact: Contact, room: Room) -> tuple[UserRef, ...]:
    """The contact's accounts on the room's platform."""
    return tuple(i for i in contact.identities if i.platform is room.chat.platform)


def rooms_for(contact: Contact, directory: Directory) -> tuple[Room, ...]:
    """The registered rooms the contact belongs in, in registration order, whatever their platform."""
    return tuple(room for room in directory.rooms if belongs_in(contact, room))


def expected_members(room: Room, directory: Directory) -> dict[UserRef, str]:
    """Account -> contact id of everyone who belongs in `room` and has an account on its platform."""
    found: dict[UserRef, str] = {}
    for contact in directory.contacts.values():
        if belongs_in(contact, room):
            for identity in accounts_in(contact, room):
                found.setdefault(identity, contact.id)
    return found


@dataclass(frozen=True, slots=True)
class Drift:
    """A room's difference from the directory. `known` is False when nobody has looked at the room's
    members yet, so `unexpected` may miss people (Telegram cannot list a group's members)."""

    room: Room
    expected: int
    present: int
    missing: tuple[tuple[UserRef, str], ...]  # (account, contact id)
    unexpected: tuple[UserRef, ...]
    known: bool = True

    @property
    def clean(self) -> bool:
        return not self.missing and not self.unexpected


def drift(room: Room, directory: Directory, present: Iterable[UserRef] | None,
          ignore: Iterable[UserRef] = ()) -> Drift:
    """Expected against `present` (None: nothing is known of the room's members yet)."""
    expected = expected_members(room, directory)
    skip = set(ignore)
    actual = {u for u in (present or ()) if u not in skip}
    missing = tuple((u, c) for u, c in sorted(expected.items()) if u not in actual)
    unexpected = tuple(sorted(u for u in actual if u not in expected))
    return Drift(room, len(expected), len(actual), missing, unexpected, known=present is not None)


@dataclass(frozen=True, slots=True)
class PlannedAction:
    """One room action. `op` names the command (or CLI run) that planned it, and with action, room
    and account makes the action's key: the same action of the same run is never done twice."""

    action: RoomAction
    room: ChatRef
    room_name: str
    identity: UserRef
    contact: str | None  # None: an account the directory does not know (drift)
    reason: str
    op: str
    requested_by: str = ""
    reply_chat: str | None = None  # where progress and failures are told (a ChatRef string)
    total: int = 1  # actions in the run
    note: str = ""  # what the person is shown where the platform shows a reason (the admin's, on a removal)

    @property
    def key(self) -> str:
        digest = hashlib.sha256(f"{self.op}|{self.action.value}|{self.room}|{self.identity}".encode()).hexdigest()
        return f"mbr-{digest[:48]}"

    def describe(self) -> str:
        verb = "invite" if self.action is RoomAction.INVITE else "remove"
        who = self.contact or str(self.identity)
        account = "" if self.contact is None else f" ({self.identity})"
        return f"{verb} {who}{account} {'to' if self.action is RoomAction.INVITE else 'from'} {self.room_name}"

    def to_json(self) -> str:
        return json.dumps({
            "action": self.action.value, "room": str(self.room), "room_name": self.room_name,
            "identity": str(self.identity), "contact": self.contact, "reason": self.reason, "op": self.op,
            "requested_by": self.requested_by, "reply_chat": self.reply_chat, "total": self.total,
            **({"note": self.note} if self.note else {}),
        }, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PlannedAction:
        data = json.loads(text)
        return cls(RoomAction(data["action"]), ChatRef.parse(data["room"]), data["room_name"],
                   UserRef.parse(data["identity"]), data.get("contact"), data.get("reason", ""), data["op"],
                   data.get("requested_by", ""), data.get("reply_chat"), int(data.get("total", 1)),
                   data.get("note", ""))


@dataclass(frozen=True, slots=True)
class Plan:
    actions: tuple[PlannedAction, ...]
    unplaceable: tuple[Room, ...] = ()  # rooms the person belongs in but has no account on the platform of

    def __bool__(self) -> bool:
        return bool(self.actions)

    @property
    def rooms(self) -> int:
        """How many rooms the actions are in: two accounts of one person in one room are one room."""
        return len({a.room for a in self.actions})


def _numbered(actions: list[PlannedAction]) -> tuple[PlannedAction, ...]:
    return tuple(replace(a, total=len(actions)) for a in actions)


@dataclass(frozen=True, slots=True)
class Run:
    """Who asked, from where, under which id: what every action of one command carries."""

    op: str
    requested_by: str
    reply_chat: str | None


def onboarding_plan(contact: Contact, directory: Directory, run: Run,
                    present: Mapping[ChatRef, Iterable[UserRef]] | None = None) -> Plan:
    """Invites into every room the contact belongs in, on each account on the room's platform;
    accounts known to be there already are left alone."""
    actions: list[PlannedAction] = []
    unplaceable: list[Room] = []
    for room in rooms_for(contact, directory):
        accounts = accounts_in(contact, room)
        if not accounts:
            unplaceable.append(room)
            continue
        there = set((present or {}).get(room.chat, ()))
        actions += [PlannedAction(RoomAction.INVITE, room.chat, room.name, a, contact.id, "onboarding", run.op,
                                  run.requested_by, run.reply_chat) for a in accounts if a not in there]
    return Plan(_numbered(actions), tuple(unplaceable))


def offboarding_plan(contact: Contact, directory: Directory, run: Run,
                     present: Mapping[ChatRef, Collection[UserRef] | None] | None = None, note: str = "") -> Plan:
    """Removal from every registered room on every platform the person has an account on where they
    may be: not only the rooms the directory put them in, since they may have joined others on their
    own. A Matrix room whose members the bot knows (`present`: the sync keeps them) and where they are
    not is left out. The console has no real rooms: its members are those the directory puts there and
    those the bot brought in (the roster records them), so only those rooms are planned. Elsewhere
    (Telegram cannot list a group's members) every room is tried. `note`: the admin's reason, shown
    to the person where the platform shows one."""
    known = present or {}

    def maybe_in(room: Room, account: UserRef) -> bool:
        members = known.get(room.chat)
        if room.chat.platform is Platform.CONSOLE:
            return belongs_in(contact, room) or account in (members or ())
        return room.chat.platform is not Platform.MATRIX or members is None or account in members

    actions = [PlannedAction(RoomAction.REMOVE, room.chat, room.name, a, contact.id, "offboarding", run.op,
                             run.requested_by, run.reply_chat, note=note)
               for room in directory.rooms for a in accounts_in(contact, room) if maybe_in(room, a)]
    return Plan(_numbered(actions))


def sync_plan(drifts: Iterable[Drift], directory: Directory, run: Run) -> Plan:
    """Invite who is missing, remove who should not be there."""
    actions: list[PlannedAction] = []
    for d in drifts:
        actions += [PlannedAction(RoomAction.INVITE, d.room.chat, d.room.name, u, c, "room sync", run.op,
                                  run.requested_by, run.reply_chat) for u, c in d.missing]
        for u in d.unexpected:
            owner = directory.contact_for(u)
            actions.append(PlannedAction(RoomAction.REMOVE, d.room.chat, d.room.name, u, owner.id if owner else None,
                                         "room sync", run.op, run.requested_by, run.reply_chat))
    return Plan(_numbered(actions))


def contact_id_for(identity: UserRef, taken: Iterable[str]) -> str:
    """A readable, unused contact id for a new account: console:alice -> alice,
    matrix:@alice:example.org -> alice (alice-example-org if taken), telegram:user:42 -> tg-42."""
    if identity.platform is Platform.TELEGRAM:
        base = f"tg-{identity.telegram_id}"
        longer = base
    elif identity.platform is Platform.MATRIX:
        local, _, server = identity.user_id[1:].partition(":")
        base, longer = local.lower(), f"{local}-{server}".lower().replace(".", "-")
    else:
        base = longer = identity.user_id.lower()
    used = {t.lower() for t in taken}
    for candidate in (base, longer):
        if candidate not in used:
            return candidate
    n = 2
    while f"{longer}-{n}" in used:
        n += 1
    return f"{longer}-{n}"


def action_message(action: PlannedAction) -> OutboundMessage:
    """The outbox row that carries a planned action to bot/actions/membership.py: kind MEMBERSHIP,
    addressed to the room (so a room's actions keep their order), keyed by the action's key."""
    return OutboundMessage(key=action.key, kind=MessageKind.MEMBERSHIP, destination=Destination.chat(action.room),
                           text=action.to_json(), contact=action.contact)
