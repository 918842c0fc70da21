"""Focal points manage their own people, and no one else's: /member add and /member remove with the
fakes. A refusal says why, is recorded, and changes nothing (no directory write, no room action)."""

from __future__ import annotations

import itertools

import pytest

from alerts.audit import AuditAction
from alerts.clock import ManualClock
from alerts.directory import Directory
from alerts.due import DuePolicy
from alerts.errors import InvalidValue
from alerts.focal import management_refusal
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage, MessageKind
from alerts.roles import Role
from handlers.dispatcher import Dispatcher
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from tests.fakes import MemoryDirectory, MemoryStore, MemoryUnitOfWork
from tests.sample_network import network_with_rooms, person

NFP, OFP = Role.NATIONAL_FOCAL_POINT, Role.ORGANISATIONAL_FOCAL_POINT


class Network:
    def __init__(self) -> None:
        base = network_with_rooms()
        contacts = list(base.contacts.values()) + [
            person("th-nfp", "TH", NFP, Role.OFFICER),
            person("th-police-ofp", "TH", OFP, desk="police"),
            person("th-ofp", "TH", OFP),  # no desk: which agency they stand for is unknown
            person("iom-ofp", "IOM", OFP),
            person("th-boss", "TH", Role.ADMIN),
            person("th-police", "TH", Role.OFFICER, desk="police"),
            person("lost", "ZZ", Role.OFFICER),  # an organisation the directory does not hold
        ]
        self.directory = MemoryDirectory(Directory.build(base.organisations.values(), contacts, base.rooms,
                                                         base.arrangements))
        self.store = MemoryStore()
        self.clock = ManualClock()
        counter = itertools.count(1)
        self.dispatcher = Dispatcher(
            self.directory, PostingPolicy(DuePolicy.default(), {}),
            lambda: Vocabulary(topics=("document-fraud",),
                               organisations=frozenset(self.directory.current().organisations),
                               desks={"TH": ("immigration", "police")}),
            lambda: f"key-{next(counter)}",
        )
        self._events = itertools.count(1)

    def says(self, who: str, text: str) -> str:
        before = set(self.store.outbox)
        message = InboundMessage(f"e{next(self._events)}", UserRef.parse(f"console:{who}"),
                                 ChatRef.parse(f"console:@{who}"), text, self.clock.now())
        with MemoryUnitOfWork(self.store, self.directory) as uow:
            self.dispatcher.handle(uow, message)
            uow.commit()
        return "\n".join(m.text for k, m in self.store.outbox.items()
                         if k not in before and str(m.destination) == f"chat:console:@{who}")

    def room_actions(self) -> int:
        return sum(m.kind is MessageKind.MEMBERSHIP for m in self.store.outbox.values())

    def refusals(self) -> list[dict[str, str]]:
        return [dict(e.detail or {}) for e in self.store.audit if e.action is AuditAction.REFUSAL]

    def has(self, contact_id: str) -> bool:
        return self.directory.current().contact(contact_id) is not None


@pytest.fixture
def net() -> Network:
    return Network()


def test_a_national_focal_point_adds_and_removes_people_of_their_own_country(net: Network) -> None:
    answer = net.says("th-nfp", "/member add console:somsak country:TH role:officer desk:immigration")
    assert answer.startswith("Added somsak (@somsak, Thailand, immigration desk) with roles officer;")
    assert net.has("somsak") and net.room_actions() > 0
    answer = net.says("th-nfp", '/member remove console:th-deputy reason:"posted elsewhere"')
    assert answer.startswith("Removed Th Deputy (Thailand) (@th-deputy)") and not net.has("th-deputy")
    assert net.refusals() == []


def test_a_national_focal_point_is_refused_another_countrys_person_and_nothing_changes(net: Network) -> None:
    answer = net.says("th-nfp", "/member add console:eve country:MY role:officer")
    assert answer == ("Not allowed: you manage the people of Thailand only; this person is of Malaysia. "
                      "Ask an admin.")
    assert not net.has("eve")
    answer = net.says("th-nfp", "/member remove console:my-officer")
    assert "you manage the people of Thailand only; this person is of Malaysia" in answer
    assert net.has("my-officer")
    assert net.room_actions() == 0
    assert [r["command"] for r in net.refusals()] == ["member add", "member remove"]
    assert not [e for e in net.store.audit if e.action is AuditAction.ADMIN]


def test_someone_of_another_country_cannot_be_moved_into_your_own(net: Network) -> None:
    answer = net.says("th-nfp", "/member add console:my-officer country:TH role:officer")
    assert "this person is of Malaysia" in answer
    assert net.directory.current().contact("my-officer").organisation == "MY"  # type: ignore[union-attr]


def test_a_focal_point_gives_no_administration_roles_and_touches_no_admin(net: Network) -> None:
    answer = net.says("th-nfp", "/member add console:eve country:TH role:admin")
    assert "may give or take away only the roles contact, national-focal-point, officer, " \
           "organisational-focal-point, not admin" in answer
    assert not net.has("eve")
    assert "not coordinator" in net.says("th-nfp", "/member add console:eve country:TH role:coordinator")
    assert "not auditor" in net.says("th-nfp", "/member add console:eve country:TH role:auditor")
    assert not net.has("eve")
    assert "not admin" in net.says("th-nfp", "/member remove console:th-boss")
    assert net.has("th-boss")
    # Making an admin of their country an officer too would be managing the admin: refused as well.
    assert "not admin" in net.says("th-nfp", "/member add console:th-boss country:TH role:officer")


def test_an_organisational_focal_point_in_a_country_manages_their_own_desk_only(net: Network) -> None:
    answer = net.says("th-police-ofp", "/member add console:niran country:TH role:officer desk:police")
    assert answer.startswith("Added niran")
    answer = net.says("th-police-ofp", "/member remove console:th-immigration")
    assert "you manage the people of Thailand police desk only; this person is of Thailand immigration desk" \
        in answer and net.has("th-immigration")
    assert "this person is of Thailand." in net.says("th-police-ofp", "/member remove console:th-deputy")  # national level
    assert "not national-focal-point" in net.says("th-police-ofp",
                                                  "/member add console:x country:TH role:nfp desk:police")
    assert net.says("th-police-ofp", "/member remove console:th-police").startswith("Removed")


def test_an_organisational_focal_point_of_an_organisation_manages_its_people(net: Network) -> None:
    assert net.says("iom-ofp", "/member add console:ana org:IOM role:officer").startswith("Added ana")
    assert "you manage the people of IOM only; this person is of Thailand" in \
        net.says("iom-ofp", "/member add console:bo country:TH role:officer")


def test_fail_closed_a_focal_point_without_a_place_or_a_person_without_one(net: Network) -> None:
    answer = net.says("th-ofp", "/member add console:eve country:TH role:officer")
    assert "you need a desk (your agency) in the directory" in answer and not net.has("eve")
    answer = net.says("th-nfp", "/member remove console:lost")
    assert "this person is of ZZ" in answer and net.has("lost")
    assert net.room_actions() == 0


def test_admins_keep_managing_everyone_and_others_are_refused_by_role(net: Network) -> None:
    assert net.says("admin", "/member add console:eve country:MY role:officer").startswith("Added eve")
    answer = net.says("my-officer", "/member remove console:eve")
    assert answer.startswith("/member needs one of these roles: admin, national-focal-point, "
                             "organisational-focal-point.")
    assert net.has("eve")


def test_the_refusal_reason_for_each_kind_of_manager() -> None:
    directory = network_with_rooms()
    officer = person("x", "TH", Role.OFFICER)
    assert management_refusal(officer, directory, "TH", None, {Role.OFFICER}) == \
        "Only admins and focal points manage the people in the directory."
    assert management_refusal(None, directory, "TH", None, {Role.OFFICER}) is not None
    assert management_refusal(person("a", "RSO", Role.ADMIN), directory, "ZZ", None, {Role.ADMIN}) is None
    # A national focal point of an organisation that is no country has no country to manage.
    assert "need a country of your own" in (management_refusal(person("n", "IOM", NFP), directory, "IOM", None,
                                                               {Role.OFFICER}) or "")
    # Holding both roles: either one suffices.
    both = person("b", "TH", NFP, OFP, desk="police")
    assert management_refusal(both, directory, "TH", "immigration", {Role.OFFICER}) is None


@pytest.mark.parametrize("text, role", [
    ("National Focal Point", NFP), ("national-focal-point", NFP), ("NFP", NFP),
    ("Organisational Focal Point", OFP), ("organizational_focal_point", OFP), ("ofp", OFP),
    ("officer", Role.OFFICER), ("npoc", Role.CONTACT),
])
def test_the_portal_spellings_of_roles_are_understood(text: str, role: Role) -> None:
    assert Role.parse(text) is role


def test_an_unknown_role_lists_every_role() -> None:
    with pytest.raises(InvalidValue) as error:
        Role.parse("focal point")
    assert "national-focal-point, organisational-focal-point" in str(error.value)


def test_a_focal_point_sets_backups_among_their_own_people_only(net: Network) -> None:
    answer = net.says("th-nfp", "/member backup console:th-deputy th-immigration")
    assert answer == ("Th Immigration (Thailand immigration) (@th-immigration) is now the backup of Th Deputy "
                      "(Thailand) (@th-deputy): they take over Th Deputy's open items at removal.")
    assert net.directory.current().contacts["th-deputy"].backup == "th-immigration"
    answer = net.says("th-nfp", "/member backup th-deputy my-officer")
    assert answer == "Not allowed: you manage the people of Thailand only; the backup is of Malaysia. Ask an admin."
    answer = net.says("th-nfp", "/member backup my-officer th-deputy")
    assert "this person is of Malaysia" in answer
    assert net.directory.current().contacts["th-deputy"].backup == "th-immigration"
    assert net.directory.current().contacts["my-officer"].backup is None
    assert [r["command"] for r in net.refusals()] == ["member backup", "member backup"]
    assert net.says("th-nfp", "/member backup th-deputy none").endswith("would stay with nobody.")
    assert net.directory.current().contacts["th-deputy"].backup is None
    assert "cannot be their own backup" in net.says("th-nfp", "/member backup th-deputy th-deputy")
    assert "Nobody in the directory is ghost" in net.says("th-nfp", "/member backup th-deputy ghost")
    # Admins set anyone's.
    assert net.says("admin", "/member backup my-officer th-deputy").startswith("Th Deputy")
    recorded = [e.detail for e in net.store.audit if e.action is AuditAction.ADMIN]
    assert {"command": "member backup", "contact": "th-deputy", "backup": "th-immigration", "previous": ""} in recorded
