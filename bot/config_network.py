"""The [network] section: topics, organisations and their desks, contacts, rooms, sharing arrangements.

Entries are read into the domain's own frozen values (alerts.directory), then checked against
each other: a contact's organisation, desk and backup exist, an account belongs to one contact,
each organisation and desk has at most one point of contact, and an arrangement names known
organisations and topics.

This is what the database directory is seeded from at each start (storage.directory): for every
organisation, contact, room and arrangement named here, the file wins; whatever admins added in
the database and the file does not name is kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from alerts.arrangements import Arrangement
from alerts.countries import country_code, country_name
from alerts.directory import Contact, Directory, Organisation, OrgKind, Room, RoomPurpose, Standing
from alerts.identity import ChatRef, UserRef
from alerts.roles import Role
from bot.config_reader import REQUIRED, Table
from bot.config_values import CHAT_EXPECT, TIMEZONE_EXPECT, Duplicate, Refused, chat_ref, timezone_name

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,15}$")
_CONTACT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_WORD = re.compile(r"^[a-z][a-z0-9-]*$")

ID_EXPECT = 'a short id like "th-npoc" (lower-case letters, digits, ".", "_" or "-")'
WORD_EXPECT = 'a lower-case word like "{}" (letters, digits and "-")'
ROLE_EXPECT = "a role: officer, contact, coordinator, admin or auditor"
IDENTITY_EXPECT = 'an account like "console:th-npoc", "matrix:@alice:example.org" or "telegram:user:42"'


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    name: str
    topics: tuple[str, ...]  # the vocabulary of `topic:`; lower case
    organisations: tuple[Organisation, ...]
    contacts: tuple[Contact, ...]
    rooms: tuple[Room, ...]
    arrangements: tuple[Arrangement, ...] = ()

    def directory(self) -> Directory:
        """A fresh snapshot: Directory holds dicts, so no two callers share one to mutate."""
        return Directory.build(self.organisations, self.contacts, self.rooms, self.arrangements)


def word(raw: Any) -> str:
    """A desk or topic name, kept in lower case as the directory and the parser compare them."""
    if not isinstance(raw, str) or not _WORD.match(raw.strip().lower()):
        raise ValueError(raw)
    return raw.strip().lower()


def once(convert: Callable[[Any], Any], first_seen: dict[Any, str], owner: str, noun: str) -> Callable[[Any], Any]:
    """`convert`, refusing a value already given (by this entry or an earlier one)."""
    def check(raw: Any) -> Any:
        value = convert(raw)
        if value in first_seen:
            raise Duplicate(noun, first_seen[value])
        first_seen[value] = owner
        return value
    return check


def read_network(table: Table, default_timezone: str) -> NetworkSettings:
    name = table.string("name", 'a name like "Regional liaison network"', default="Liaison network")
    topics = table.items("topics", once(word, {}, "earlier in the list", "topic"),
                         WORD_EXPECT.format("document-fraud"), default=())
    organisations, org_keys = _read_organisations(table)
    contacts = _read_contacts(table, organisations, default_timezone)
    rooms = _read_rooms(table, organisations)
    arrangements = _read_arrangements(table, organisations, topics or ())
    _warn_missing_national_points(table, organisations, org_keys, contacts)
    table.done()
    return NetworkSettings(name or "", topics or (), tuple(organisations.values()), contacts, rooms, arrangements)


def _org_code(kind: OrgKind | None) -> Callable[[Any], str]:
    def check(raw: Any) -> str:
        if not isinstance(raw, str) or not _CODE.match(raw.strip()):
            raise ValueError(raw)
        code = raw.strip().upper()
        alpha2 = country_code(code)
        if kind is OrgKind.COUNTRY:
            if alpha2 is None:
                raise ValueError(raw)
            return alpha2  # the directory keys countries by alpha-2 and finds them by either code
        if kind is not None and alpha2 is not None:
            raise Refused(f"that is the ISO code of {country_name(alpha2)}; give an organisation a code "
                          "that is no country's")
        return code
    return check


def _read_organisations(table: Table) -> tuple[dict[str, Organisation], dict[str, str]]:
    found: dict[str, Organisation] = {}
    first_given: dict[str, str] = {}
    keys: dict[str, str] = {}  # code -> where it is in the file, for warnings about it
    for entry in table.tables("organisations", "an organisation"):
        kind = entry.choice("kind", OrgKind)
        expect = ('an ISO 3166 country code like "TH" or "THA"' if kind is OrgKind.COUNTRY
                  else 'a short code of letters like "IOM"')
        code = entry.value("code", once(_org_code(kind), first_given, f"by {entry.path}", "organisation code"), expect)
        if code is not None:
            keys[code] = entry.path
        # a country's name defaults to its ISO name (also when its code was refused: one error is enough)
        default_name = (country_name(code) if code else "") if kind is OrgKind.COUNTRY else REQUIRED
        name = entry.string("name", 'a name like "International Organization for Migration"', default_name)
        standing = entry.choice("standing", Standing, Standing.MEMBER) or Standing.MEMBER
        desks = entry.items("desks", once(word, {}, "earlier in the list", "desk"),
                            WORD_EXPECT.format("immigration"), default=())
        entry.done()
        if code is not None and kind is not None and name is not None:
            found[code] = Organisation(code, name, kind, standing, desks or ())
    return found, keys


def _known_org(organisations: dict[str, Organisation]) -> Callable[[Any], str]:
    def check(raw: Any) -> str:
        if not isinstance(raw, str):
            raise ValueError(raw)
        key = raw.strip().upper()
        code = key if key in organisations else country_code(key)
        if code not in organisations:
            raise Refused(f"not in network.organisations ({', '.join(organisations) or 'none yet'})")
        return code
    return check


def _user_ref(raw: Any) -> UserRef:
    if not isinstance(raw, str):
        raise ValueError(raw)
    return UserRef.parse(raw)


def _read_contacts(table: Table, organisations: dict[str, Organisation], default_timezone: str) -> tuple[Contact, ...]:
    contacts: list[Contact] = []
    id_owner: dict[str, str] = {}
    identity_owner: dict[UserRef, str] = {}
    points: dict[tuple[str, str | None], str] = {}
    backups: list[tuple[Table, str, str]] = []
    for entry in table.tables("contacts", "a contact"):
        contact_id = entry.value("id", once(_contact_id, id_owner, f"by {entry.path}", "contact id"), ID_EXPECT)
        owner = f"by {contact_id}, {entry.path}" if contact_id else f"by {entry.path}"
        name = entry.string("name", 'a name like "National point of contact"')
        org = entry.value("organisation", _known_org(organisations), 'the code of an organisation like "TH"')
        desk = entry.value("desk", word, WORD_EXPECT.format("immigration"), None)
        roles = entry.items("roles", _role, ROLE_EXPECT)
        identities = entry.items("identities", once(_user_ref, identity_owner, owner, "account"), IDENTITY_EXPECT)
        timezone = entry.value("timezone", timezone_name, TIMEZONE_EXPECT, default_timezone)
        backup = entry.string("backup", 'the id of another contact, like "th-immigration"', default=None)
        entry.done()
        for key, given in (("roles", roles), ("identities", identities)):
            if given == () and entry.has(key) and entry.raw(key) == []:
                entry.error(key, f"expected at least one {'role' if key == 'roles' else 'account'}, got an empty list")
        if org is not None and desk is not None and desk not in organisations[org].desks:
            _refuse_desk(entry, organisations[org], desk)
            continue  # not built: as a national point of contact it would only add a misleading error
        if contact_id is None or name is None or org is None or roles is None or identities is None:
            continue
        role_set = frozenset(roles)
        if Role.CONTACT in role_set:
            where = f"{organisations[org].name}" + (f" {desk} desk" if desk else " (national)")
            if (org, desk) in points:
                entry.error("roles", f"expected one point of contact per organisation and desk, got a second for "
                                     f"{where}; the first is {points[(org, desk)]}")
            points.setdefault((org, desk), f"{contact_id} ({entry.path})")
        if backup is not None:
            backups.append((entry, contact_id, backup))
        contacts.append(Contact(contact_id, name, org, role_set, identities, desk, timezone or default_timezone,
                                backup))
    for entry, contact_id, backup in backups:
        if backup == contact_id:
            entry.error("backup", f'expected another contact\'s id, got "{backup}", the contact itself')
        elif backup not in id_owner:
            entry.error("backup", f'expected the id of another contact, got "{backup}", which no contact has')
    return tuple(contacts)


def _contact_id(raw: Any) -> str:
    if not isinstance(raw, str) or not _CONTACT_ID.match(raw.strip()):
        raise ValueError(raw)
    return raw.strip()


def _role(raw: Any) -> Role:
    if not isinstance(raw, str):
        raise ValueError(raw)
    return Role.parse(raw)


def _refuse_desk(entry: Table, org: Organisation, desk: str) -> None:
    if org.desks:
        entry.error("desk", f"expected one of {org.name}'s desks ({', '.join(org.desks)}), got \"{desk}\"")
    else:
        entry.error("desk", f'expected no desk: {org.name} has none (add desks = ["{desk}"] to it), got "{desk}"')


def _read_rooms(table: Table, organisations: dict[str, Organisation]) -> tuple[Room, ...]:
    rooms: list[Room] = []
    chat_owner: dict[ChatRef, str] = {}
    member_of = _known_org(organisations)

    def org_or_all(raw: Any) -> tuple[str, ...]:
        if isinstance(raw, str) and raw.strip().lower() == "all":
            return tuple(organisations)  # a network room holds everyone: no need to list twenty codes
        return (member_of(raw),)

    for entry in table.tables("rooms", "a room"):
        chat = entry.value("chat", once(chat_ref, chat_owner, f"by {entry.path}", "room"), CHAT_EXPECT)
        name = entry.string("name", 'a name like "Network room"')
        purpose = entry.choice("purpose", RoomPurpose)
        groups = entry.items("organisations", org_or_all, 'an organisation code like "TH", or "all"')
        entry.done()
        held = frozenset(code for group in groups or () for code in group)
        if groups is not None and not held and entry.raw("organisations") == []:
            entry.error("organisations", 'expected at least one organisation code, or ["all"], got an empty list')
        if purpose in (RoomPurpose.COUNTRY, RoomPurpose.ORGANISATION) and len(held) > 1:
            entry.error("organisations", f"expected one organisation for a {purpose.value} room, got {len(held)}")
        if chat is not None and name is not None and purpose is not None and groups is not None:
            rooms.append(Room(chat, name, purpose, held))
    return tuple(rooms)


def _warn_missing_national_points(table: Table, organisations: dict[str, Organisation], keys: dict[str, str],
                                  contacts: tuple[Contact, ...]) -> None:
    """A warning, not an error: a network onboarding a member must still start; the router then
    refuses items to it with a clear reason until its point of contact is added."""
    national = {c.organisation for c in contacts if c.is_point_of_contact and c.desk is None}
    for code, org in organisations.items():
        if code not in national:
            table.problems.warn(keys[code], f"{org.name} has no national point of contact (a contact with role "
                                            f'"contact" and no desk); items to {code} are refused until one is added')


def _read_arrangements(table: Table, organisations: dict[str, Organisation],
                       topics: tuple[str, ...]) -> tuple[Arrangement, ...]:
    """`[[network.arrangements]]`: between (two or more organisations), kind, and topics (all if left out)."""
    found: dict[str, Arrangement] = {}
    known_topics = ", ".join(topics) or "none: add topics = [...] under [network]"

    def topic(raw: Any) -> str:
        name = word(raw)
        if name not in topics:
            raise Refused(f"not in network.topics ({known_topics})")
        return name

    for entry in table.tables("arrangements", "a sharing arrangement"):
        parties = entry.items("between", once(_known_org(organisations), {}, "earlier in the list", "organisation"),
                              'an organisation code like "MY"')
        kind = entry.string("kind", 'what the arrangement is, like "MoU MY-TH 2019"')
        covered = entry.items("topics", once(topic, {}, "earlier in the list", "topic"),
                              WORD_EXPECT.format("document-fraud"), default=())
        entry.done()
        written = entry.raw("between")
        if isinstance(written, list) and len(written) < 2:
            entry.error("between", f'expected at least two organisations, like ["MY", "TH"], got {len(written)}')
            continue
        if covered == () and entry.raw("topics") == []:
            entry.error("topics", "expected at least one topic, got an empty list; leave topics out for every topic")
            continue
        if parties is None or len(parties) < 2 or kind is None or covered is None:
            continue  # the problem was reported where it was found
        arrangement = Arrangement(kind, frozenset(parties), frozenset(covered))
        if arrangement.key in found:
            entry.error("kind", f'expected each arrangement once, got "{kind}" between the same organisations again')
            continue
        found[arrangement.key] = arrangement
    return tuple(found.values())
