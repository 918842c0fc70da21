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
from dataclasses import KW_ONLY
from datetime import date, datetime
from typing import Annotated, Any, Iterable

from pydantic import Field, ValidationInfo, model_validator

from alerts.arrangements import Arrangement
from alerts.countries import country_code, country_name
from alerts.directory import Contact, Directory, Organisation, OrgKind, Room, RoomPurpose, Standing
from alerts.identity import ChatRef, UserRef
from alerts.roles import ACCEPTED as ROLES_ACCEPTED
from alerts.roles import Role
from bot.config.reader import (Check, Duplicate, Items, Load, Loc, Problems, Refused, Tables, describe, loaded, refuse,
                               settings)
from bot.config.values import CHAT_EXPECT, Choice, Text, TimeZone

_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{1,15}$")
_CONTACT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_WORD = re.compile(r"^[a-z][a-z0-9-]*$")

ID_EXPECT = 'a short id like "th-npoc" (lower-case letters, digits, ".", "_" or "-")'
WORD_EXPECT = 'a lower-case word like "{}" (letters, digits and "-")'


def word(text: str) -> str:
    """A desk or topic name, kept in lower case as the directory and the parser compare them."""
    if not _WORD.match(text.lower()):
        raise ValueError(text)
    return text.lower()


def Word(example: str) -> Check:
    return Check(word, WORD_EXPECT.format(example), text=True)


def known_org(text: str, load: Load) -> str:
    """The code of an organisation declared above, by either of a country's ISO codes."""
    organisations = load.taken("organisation code")  # an entry refused for another mistake is still known
    key = text.upper()
    code = key if key in organisations else country_code(key)
    if code is None or code not in organisations:
        raise Refused(f"not in network.organisations ({', '.join(organisations) or 'none yet'})")
    return code


def known_topic(text: str, load: Load, none: str = "none: add topics = [...] under [network]") -> str:
    name, topics = word(text), load.found.get("network.topics", ())
    if name not in topics:
        raise Refused(f"not in network.topics ({', '.join(topics) or none})")
    return name


def _org_code(raw: Any, load: Load) -> str:
    """Countries are keyed by ISO alpha-2 (and found by either code); other organisations by a code
    that is no country's, so that "TH" always means Thailand."""
    kind = load.entry.get("kind")
    expect = ('an ISO 3166 country code like "TH" or "THA"' if kind is OrgKind.COUNTRY
              else 'a short code of letters like "IOM"')
    if raw is None:
        raise refuse(f"missing; expected {expect}")
    code = raw.strip().upper() if isinstance(raw, str) and _CODE.fullmatch(raw.strip()) else None
    alpha2 = code and country_code(code)
    if code is None or (kind is OrgKind.COUNTRY and alpha2 is None):
        raise refuse(f"expected {expect}, got {describe(raw)}")
    if kind not in (None, OrgKind.COUNTRY) and alpha2 is not None:
        raise refuse(f"expected {expect}, got {describe(raw)}; that is the ISO code of {country_name(alpha2)}; "
                     "give an organisation a code that is no country's")
    return load.once("organisation code", (alpha2 or code) if kind is OrgKind.COUNTRY else code)


ORG_NAME = 'a name like "International Organization for Migration"'


def _org_name(raw: Any, load: Load) -> str | None:
    """A country's name defaults to its ISO name; any other organisation needs one."""
    if raw is not None:
        return Text(ORG_NAME).run(raw, load)
    if load.entry.get("kind") is not OrgKind.COUNTRY:
        raise refuse(f"missing; expected {ORG_NAME}")
    return None


@settings
class OrganisationEntry:
    TITLE = "an organisation"
    kind: Annotated[OrgKind, Choice(OrgKind)]
    code: Annotated[str, Check(_org_code, 'a short code of letters like "IOM", or an ISO 3166 country code like "TH"',
                               load=True)] = Field(None, validate_default=True)  # what it expects depends on kind
    name: Annotated[str | None, Check(_org_name, ORG_NAME, load=True)] = Field(None, validate_default=True)
    standing: Annotated[Standing, Choice(Standing)] = Standing.MEMBER
    desks: Annotated[tuple[str, ...], Items(Word("immigration"), once="desk")] = ()

    def build(self, load: Load) -> Organisation:
        name = self.name or country_name(self.code) or self.code
        return Organisation(self.code, name, self.kind, self.standing, self.desks)


def _contact_id(text: str, load: Load) -> str:
    if not _CONTACT_ID.fullmatch(text):
        raise ValueError(text)
    load.label = f"{load.once('contact id', text)}, {load.label}"  # as its accounts name it when one is given twice
    return text


@settings
class ContactEntry:
    TITLE = "a contact"
    id: Annotated[str, Check(_contact_id, ID_EXPECT, load=True, text=True)]
    name: Annotated[str, Text('a name like "National point of contact"')]
    organisation: Annotated[str, Check(known_org, 'the code of an organisation like "TH"', load=True, text=True)]
    desk: Annotated[str | None, Word("immigration")] = None
    _: KW_ONLY
    roles: Annotated[tuple[Role, ...], Items(Check(Role.parse, f"a role: {ROLES_ACCEPTED}", text=True),
                                             empty="expected at least one role, got an empty list")]
    identities: Annotated[tuple[UserRef, ...], Items(Check(
        lambda text, load: load.once("account", UserRef.parse(text)),
        'an account like "console:th-npoc", "matrix:@alice:example.org" or "telegram:user:42"', load=True, text=True),
        empty="expected at least one account, got an empty list")]
    timezone: TimeZone | None = None  # default: [bot]'s
    backup: Annotated[str | None, Text('the id of another contact, like "th-immigration"')] = None

    def build(self, load: Load) -> Contact:
        org = next((o for o in load.found["network.organisations"] if o.code == self.organisation), None)
        if org is None:
            raise Problems([])  # its organisation was refused, and said why
        if self.desk is not None and self.desk not in org.desks:
            raise refuse(f"expected one of {org.name}'s desks ({', '.join(org.desks)}), got \"{self.desk}\""
                         if org.desks else f'expected no desk: {org.name} has none (add desks = ["{self.desk}"] '
                         f'to it), got "{self.desk}"', "desk")
        contact = Contact(self.id, self.name, org.code, frozenset(self.roles), self.identities, self.desk,
                          self.timezone or "", self.backup)  # none of their own: the default's (Directory.zone_for)
        if Role.CONTACT in contact.roles:
            where = f"{org.name}" + (f" {self.desk} desk" if self.desk else " (national)")
            try:
                load.once("point of contact", (org.code, self.desk), owner=f"{self.id} ({load.path})")
            except Duplicate as exc:
                raise refuse(f"expected one point of contact per organisation and desk, got a second for {where}; "
                             f"the first is {exc.first}", "roles") from None
        return contact


def _backups(built: list[tuple[int, Contact]], load: Load) -> Iterable[tuple[Loc, str]]:
    ids = set(load.taken("contact id"))  # a contact refused for another mistake is still there
    for i, contact in built:
        if contact.backup == contact.id:
            yield (i, "backup"), f'expected another contact\'s id, got "{contact.backup}", the contact itself'
        elif contact.backup is not None and contact.backup not in ids:
            yield (i, "backup"), f'expected the id of another contact, got "{contact.backup}", which no contact has'


def _member_or_all(text: str, load: Load) -> tuple[str, ...]:
    if text.lower() == "all":  # a network room holds everyone: no need to list twenty codes
        return tuple(o.code for o in load.found.get("network.organisations", ()))
    return (known_org(text, load),)


def _hub(text: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9-]{1,31}", text):
        raise ValueError(text)
    return text.upper()


@settings
class RoomEntry:
    TITLE = "a room"
    chat: Annotated[ChatRef, Check(lambda text, load: load.once("room", ChatRef.parse(text)), CHAT_EXPECT,
                                   load=True, text=True)]
    name: Annotated[str, Text('a name like "Network room"')]
    purpose: Annotated[RoomPurpose, Choice(RoomPurpose)]
    organisations: Annotated[tuple[tuple[str, ...], ...], Items(
        Check(_member_or_all, 'an organisation code like "TH", or "all"', load=True, text=True),
        empty='expected at least one organisation code, or ["all"], got an empty list')]
    # a hub room (an airport, a seaport, a sea area) or a topic room takes only items of its hubs or topics
    hubs: Annotated[tuple[str, ...], Items(Check(_hub, 'a hub\'s short name like "KUL"', text=True), once="hub")] = ()
    topics: Annotated[tuple[str, ...], Items(
        Check(known_topic, WORD_EXPECT.format("document-fraud"), load=True, text=True), once="topic")] = ()

    def build(self, load: Load) -> Room:
        held = frozenset(code for group in self.organisations for code in group)
        if self.purpose in (RoomPurpose.COUNTRY, RoomPurpose.ORGANISATION) and len(held) > 1:
            raise refuse(f"expected one organisation for a {self.purpose.value} room, got {len(held)}",
                         "organisations")
        return Room(self.chat, self.name, self.purpose, held, hubs=frozenset(self.hubs), topics=frozenset(self.topics))


def _day(raw: Any) -> date:
    """A TOML date (2026-11-30) or the same as a string."""
    if isinstance(raw, date) and not isinstance(raw, datetime):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
        return date.fromisoformat(raw.strip())
    raise ValueError(raw)


Day = Annotated[date | None, Check(_day, "a date like 2026-11-30 (UTC)")]


def _direction(text: str, load: Load) -> str | None:
    """"both", or one way between two organisations as "MY>CA": the code of the one that gives."""
    if text.lower() == "both":
        return None
    giver, arrow, taker = text.partition(">")
    if not arrow:
        raise ValueError(text)
    return known_org(giver.strip(), load) + ">" + known_org(taker.strip(), load)


@settings
class ArrangementEntry:
    """Between two or more organisations, of a kind (the signed document), on topics (all when left
    out), from a first day until a last day (each optional), both ways or one way ("MY>CA")."""
    TITLE = "a sharing arrangement"
    between: Annotated[tuple[str, ...], Items(Check(known_org, 'an organisation code like "MY"', load=True, text=True),
                                              once="organisation")]
    kind: Annotated[str, Text('what the arrangement is, like "MoU MY-TH 2019"')]
    topics: Annotated[tuple[str, ...], Items(
        Check(known_topic, WORD_EXPECT.format("document-fraud"), load=True, text=True), once="topic",
        empty="expected at least one topic, got an empty list; leave topics out for every topic")] = ()
    starts: Day = None
    ends: Day = None
    direction: Annotated[str | None, Check(_direction, '"both", or one way as "MY>CA"', load=True, text=True)] = None

    def build(self, load: Load) -> Arrangement:
        if len(self.between) < 2:
            raise refuse(f'expected at least two organisations, like ["MY", "TH"], got {len(self.between)}',
                         "between")
        if self.starts is not None and self.ends is not None and self.ends < self.starts:
            raise refuse(f"expected a last day on or after starts ({self.starts}), got {self.ends}", "ends")
        giver = None
        if self.direction is not None:
            giver, _, taker = self.direction.partition(">")
            if len(self.between) != 2 or {giver, taker} != set(self.between):
                raise refuse(f'expected the two organisations of "between" as FROM>TO, got "{self.direction}"; '
                             "a one-way arrangement has exactly two", "direction")
        arrangement = Arrangement(self.kind, frozenset(self.between), frozenset(self.topics), self.starts,
                                  self.ends, giver)
        try:
            load.once("arrangement", arrangement.key)
        except Duplicate:
            raise refuse(f'expected each arrangement once, got "{self.kind}" between the same organisations '
                         "again", "kind") from None
        return arrangement


@settings
class NetworkSettings:
    name: Annotated[str, Text('a name like "Regional liaison network"')] = "Liaison network"
    # the vocabulary of `topic:`; lower case
    topics: Annotated[tuple[str, ...], Items(Word("document-fraud"), once="topic", share="network.topics")] = ()
    organisations: Annotated[tuple[Organisation, ...], Tables(OrganisationEntry, "network.organisations",
                                                              OrganisationEntry.build)] = ()
    contacts: Annotated[tuple[Contact, ...], Tables(ContactEntry, "network.contacts", ContactEntry.build,
                                                    _backups)] = ()
    rooms: Annotated[tuple[Room, ...], Tables(RoomEntry, "network.rooms", RoomEntry.build)] = ()
    arrangements: Annotated[tuple[Arrangement, ...], Tables(ArrangementEntry, "network.arrangements",
                                                            ArrangementEntry.build)] = ()

    def directory(self, default_zone: str = "UTC") -> Directory:
        """A fresh snapshot: Directory holds dicts, so no two callers share one to mutate."""
        return Directory.build(self.organisations, self.contacts, self.rooms, self.arrangements,
                               default_zone=default_zone)

    @model_validator(mode="after")
    def _national_points(self, info: ValidationInfo) -> NetworkSettings:
        """A warning, not an error: a network onboarding a member must still start; the router then
        refuses items to it with a clear reason until its point of contact is added."""
        national = {c.organisation for c in self.contacts if c.is_point_of_contact and c.desk is None}
        for i, org in enumerate(self.organisations):
            if (load := loaded(info)) and org.code not in national:
                load.warn(f"network.organisations[{i}]", f"{org.name} has no national point of contact (a contact "
                          f'with role "contact" and no desk); items to {org.code} are refused until one is added')
        return self
