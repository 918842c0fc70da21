"""A small network for unit tests: three countries, an organisation, a coordinator, a few people."""

from __future__ import annotations

from alerts.arrangements import Arrangement
from alerts.directory import Contact, Directory, Organisation, OrgKind, Room, RoomPurpose, Standing
from alerts.identity import ChatRef, UserRef
from alerts.roles import Role


def person(id: str, org: str, *roles: Role, desk: str | None = None, backup: str | None = None,
           tz: str = "UTC", identities: tuple[str, ...] = ()) -> Contact:
    return Contact(
        id=id,
        name=id.replace("-", " ").title(),
        organisation=org,
        roles=frozenset(roles),
        identities=tuple(UserRef.parse(i) for i in (identities or (f"console:{id}",))),
        desk=desk,
        timezone=tz,
        backup=backup,
    )


def small_network() -> Directory:
    organisations = [
        Organisation("TH", "Thailand", OrgKind.COUNTRY, desks=("immigration", "police")),
        Organisation("MY", "Malaysia", OrgKind.COUNTRY),
        Organisation("AU", "Australia", OrgKind.COUNTRY),
        Organisation("CA", "Canada", OrgKind.COUNTRY, Standing.OBSERVER),
        Organisation("IOM", "IOM", OrgKind.ORGANISATION),
        Organisation("RSO", "Regional Support Office", OrgKind.COORDINATOR),
    ]
    contacts = [
        person("th-npoc", "TH", Role.CONTACT, backup="th-deputy", tz="Asia/Bangkok"),
        person("th-deputy", "TH", Role.OFFICER, tz="Asia/Bangkok"),
        person("th-immigration", "TH", Role.CONTACT, desk="immigration", tz="Asia/Bangkok"),
        person("my-npoc", "MY", Role.CONTACT, tz="Asia/Kuala_Lumpur"),
        person("my-officer", "MY", Role.OFFICER, tz="Asia/Kuala_Lumpur"),
        person("au-npoc", "AU", Role.CONTACT, tz="Australia/Canberra",
               identities=("matrix:@au-npoc:example.org", "telegram:user:4242")),
        person("ca-npoc", "CA", Role.CONTACT, tz="America/Toronto"),
        person("iom-npoc", "IOM", Role.CONTACT),
        person("rso-coord", "RSO", Role.COORDINATOR, tz="Asia/Bangkok"),
        person("admin", "RSO", Role.ADMIN),
        person("auditor", "RSO", Role.AUDITOR),
    ]
    rooms = [
        Room(ChatRef.parse("console:#network"), "Network room", RoomPurpose.NETWORK,
             frozenset({"TH", "MY", "AU", "IOM", "RSO"})),
    ]
    return Directory.build(organisations, contacts, rooms)


def room(chat: str, name: str, purpose: RoomPurpose, *organisations: str) -> Room:
    return Room(ChatRef.parse(chat), name, purpose, frozenset(organisations))


def network_with_rooms() -> Directory:
    """small_network, plus rooms of every kind and a sharing arrangement with the observer (Canada).

    Rooms: the network room (everyone but Canada), Thailand's own room, a Malaysia-Thailand joint
    room, IOM's own room, a coordination room (RSO only), and an unlisted room (no organisations).
    Arrangement: Malaysia and Canada share on document-fraud only.
    """
    base = small_network()
    rooms = base.rooms + (
        room("console:#thailand", "Thailand room", RoomPurpose.COUNTRY, "TH"),
        room("console:#my-th", "Malaysia-Thailand room", RoomPurpose.NETWORK, "MY", "TH"),
        room("console:#iom", "IOM room", RoomPurpose.ORGANISATION, "IOM"),
        room("console:#coordination", "Coordinators", RoomPurpose.COORDINATION, "RSO"),
        room("console:#unlisted", "Unlisted", RoomPurpose.MANAGEMENT),
    )
    arrangements = (Arrangement("MoU MY-CA 2021", frozenset({"MY", "CA"}), frozenset({"document-fraud"})),)
    return Directory.build(base.organisations.values(), base.contacts.values(), rooms, arrangements)
