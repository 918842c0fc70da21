"""Which channels may carry an item's content: end-to-end encryption for RED and AMBER+STRICT (by
default, configurable per TLP), never AMBER or above in an unencrypted Matrix room; content-free
notices where a recipient's usual chat may not carry it; a refusal when they have no channel at all.

The properties run over random directories whose rooms are on Matrix (encrypted or not), Telegram or
the console, whose people have random accounts, and random `encrypted_only` sets, against an oracle
written here from the rules, independently of alerts.caveat_rules.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import alerts.routing_places
from alerts.caveat_rules import channel_violation, private_answer
from alerts.caveats import Caveat, Tlp
from alerts.directory import Contact, Directory, Organisation, OrgKind, Room, RoomPurpose
from alerts.errors import RouteRefused
from alerts.identity import ChatRef, Platform, UserRef
from alerts.items import ItemDraft, ItemKind, Selector, SelectorKind
from alerts.roles import Role
from alerts.routing import Destination, DestinationKind, PostIn, Route, Router, RoutingPolicy
from tests.unit.test_routing_properties import SETTINGS, Case, cases, problems

ROOM_PLATFORMS = ("console", "matrix", "telegram")


def e2ee(destination: Destination, directory: Directory) -> bool:
    """The oracle's own reading: console always; Matrix direct chats; Matrix rooms seen encrypted."""
    if destination.address.platform is Platform.CONSOLE:
        return True
    if destination.address.platform is Platform.TELEGRAM:
        return False
    if destination.kind is DestinationKind.DIRECT:
        return True
    return any(r.chat == destination.address and r.encrypted for r in directory.rooms)


def channel_problems(case: Case, route: Route) -> list[str]:
    d, tlp = case.directory, case.draft.caveat.tlp
    found = []
    for delivery in route.deliveries:
        where = delivery.destination
        if tlp in case.policy.encrypted_only and not e2ee(where, d):
            found.append(f"{tlp.label} content on a channel without end-to-end encryption: {where}")
        if tlp.rank >= Tlp.AMBER.rank and where.kind is DestinationKind.CHAT \
                and where.address.platform is Platform.MATRIX and not e2ee(where, d):
            found.append(f"{tlp.label} in an unencrypted Matrix room: {where}")
    for notice in route.notices:
        contact = d.contacts[notice.contact]
        mine = [x.destination for x in route.deliveries if x.contact == notice.contact]
        if notice.destination != Destination.direct(contact.identities[0]) or mine != [notice.read_at]:
            found.append(f"a notice that does not point at the copy: {notice}")
    return found


@st.composite
def channel_cases(draw: st.DrawFn, tlps: st.SearchStrategy[Tlp] | None = None) -> Case:
    case = draw(cases(tlps=tlps))
    rooms = []
    for i, room in enumerate(case.directory.rooms):
        platform = draw(st.sampled_from(ROOM_PLATFORMS))
        chat = {"console": f"console:#r{i}", "matrix": f"matrix:!r{i}:example.org", "telegram": f"telegram:-100{i}"}
        rooms.append(replace(room, chat=ChatRef.parse(chat[platform]), encrypted=draw(st.booleans())))
    d = case.directory
    directory = Directory.build(d.organisations.values(), d.contacts.values(), rooms, d.arrangements)
    encrypted_only = draw(st.frozensets(st.sampled_from(Tlp)) | st.just(frozenset({Tlp.RED, Tlp.AMBER_STRICT})))
    return Case(directory, replace(case.policy, encrypted_only=encrypted_only), case.draft,
                directory.contacts[case.originator.id], case.confirmed)


def outcome(case: Case, router: Router) -> list[str]:
    try:
        route = router.route(case.draft, case.originator, confirmed=case.confirmed)
    except RouteRefused:
        return []
    return problems(case, route) + channel_problems(case, route)


@SETTINGS
@given(channel_cases())
def test_no_content_on_a_channel_its_tlp_may_not_use(case: Case) -> None:
    assert outcome(case, Router(case.directory, case.policy)) == []


@SETTINGS
@given(channel_cases())
def test_the_final_check_stops_a_placer_that_ignores_channels(case: Case) -> None:
    """Even when the room and direct chat choice forgets encryption, nothing unencrypted goes out."""
    blind = pytest.MonkeyPatch()
    blind.setattr(alerts.routing_places, "channel_violation", lambda *_args, **_kw: None)
    try:
        assert outcome(case, Router(case.directory, case.policy, checker=lambda *_: None)) == []
    finally:
        blind.undo()


@SETTINGS
@given(channel_cases(tlps=st.sampled_from([Tlp.RED, Tlp.AMBER_STRICT])))
def test_a_named_recipient_without_an_allowed_channel_refuses_the_item(case: Case) -> None:
    tlp = case.draft.caveat.tlp
    try:
        route = Router(case.directory, case.policy).route(case.draft, case.originator, confirmed=case.confirmed)
    except RouteRefused:
        return
    if tlp not in case.policy.encrypted_only:
        return
    for contact_id in route.recipients:
        contact = case.directory.contacts[contact_id]
        reached_in_room = any(contact_id in (x.contact, *x.also) and x.destination.kind is DestinationKind.CHAT
                              for x in route.deliveries)
        assert reached_in_room or any(i.platform is not Platform.TELEGRAM for i in contact.identities)


def test_the_oracle_catches_a_route_on_telegram() -> None:
    directory = _network(("telegram:user:7", "matrix:@b:example.org"))
    case = Case(directory, RoutingPolicy(), _red_to_b(), directory.contacts["a"], False)
    leak = Route((alerts.routing.Delivery("b", Destination.direct(UserRef.parse("telegram:user:7")), "x"),))
    assert channel_problems(case, leak) == [
        "TLP:RED content on a channel without end-to-end encryption: direct:telegram:user:7"]


# --- examples ------------------------------------------------------------------------------------

def _network(accounts: tuple[str, ...], rooms: tuple[Room, ...] = ()) -> Directory:
    return Directory.build(
        [Organisation("MY", "Malaysia", OrgKind.COUNTRY), Organisation("TH", "Thailand", OrgKind.COUNTRY)],
        [Contact("a", "A", "MY", frozenset({Role.OFFICER}), (UserRef.parse("console:a"),)),
         Contact("b", "B", "TH", frozenset({Role.CONTACT}), tuple(UserRef.parse(x) for x in accounts))],
        rooms)


def _red_to_b(tlp: Tlp = Tlp.RED) -> ItemDraft:
    return ItemDraft(ItemKind.ALERT, "x", (Selector(SelectorKind.PERSON, person="b"),), Caveat(tlp))


def test_red_for_someone_on_telegram_first_goes_to_their_matrix_chat_with_a_notice_on_telegram() -> None:
    directory = _network(("telegram:user:7", "matrix:@b:example.org"))
    route = Router(directory).route(_red_to_b(), directory.contacts["a"])
    assert [str(x.destination) for x in route.deliveries] == ["direct:matrix:@b:example.org"]
    assert [(n.contact, str(n.destination), str(n.read_at)) for n in route.notices] == [
        ("b", "direct:telegram:user:7", "direct:matrix:@b:example.org")]


def test_red_for_someone_with_only_telegram_is_refused_with_the_reason() -> None:
    directory = _network(("telegram:user:7",))
    with pytest.raises(RouteRefused, match=r"B \(Thailand\) can receive TLP:RED only over an end-to-end encrypted "
                                           r"channel \(Matrix or the console\), and has only Telegram"):
        Router(directory).route(_red_to_b(), directory.contacts["a"])


def test_encrypted_only_is_per_tlp() -> None:
    directory = _network(("telegram:user:7",))
    policy = RoutingPolicy(encrypted_only=frozenset({Tlp.RED}))
    route = Router(directory, policy).route(_red_to_b(Tlp.AMBER_STRICT), directory.contacts["a"])
    assert [str(x.destination) for x in route.deliveries] == ["direct:telegram:user:7"]
    with pytest.raises(RouteRefused):
        Router(directory).route(_red_to_b(Tlp.AMBER_STRICT), directory.contacts["a"])


def test_an_unencrypted_matrix_room_never_gets_amber_and_an_encrypted_one_does() -> None:
    plain = Room(ChatRef.parse("matrix:!th:example.org"), "Thailand", RoomPurpose.COUNTRY, frozenset({"TH"}))
    draft = replace(_red_to_b(Tlp.AMBER), recipients=(Selector(SelectorKind.ORGANISATION, organisation="TH"),))
    rooms = RoutingPolicy(post=PostIn.ROOMS)
    for encrypted, where in ((False, "direct:matrix:@b:example.org"), (True, "chat:matrix:!th:example.org")):
        directory = _network(("matrix:@b:example.org",), (replace(plain, encrypted=encrypted),))
        route = Router(directory, rooms).route(draft, directory.contacts["a"])
        assert [str(x.destination) for x in route.deliveries] == [where]
    violation = channel_violation(Caveat(Tlp.AMBER), Destination.chat(plain.chat), _network((), (plain,)))
    assert str(violation) == "TLP:AMBER is never posted in an unencrypted Matrix room, and Thailand is not encrypted"
    green = channel_violation(Caveat(Tlp.GREEN), Destination.chat(plain.chat), _network((), (plain,)))
    assert green is None


def test_answers_with_red_or_amber_strict_facts_are_private_outside_direct_chats() -> None:
    group, own = ChatRef.parse("telegram:-1001"), ChatRef.parse("telegram:42")
    matrix_room = ChatRef.parse("matrix:!x:example.org")
    assert private_answer(group, {Tlp.RED}) and private_answer(matrix_room, {Tlp.AMBER_STRICT, Tlp.GREEN})
    assert not private_answer(own, {Tlp.RED}) and not private_answer(ChatRef.parse("console:@a"), {Tlp.RED})
    assert not private_answer(group, {Tlp.AMBER, Tlp.GREEN})


def test_an_automatic_copy_without_an_allowed_channel_is_left_out_not_refused() -> None:
    from alerts.priority import Priority
    directory = Directory.build(
        [Organisation("MY", "Malaysia", OrgKind.COUNTRY), Organisation("TH", "Thailand", OrgKind.COUNTRY),
         Organisation("RSO", "Regional Support Office", OrgKind.COORDINATOR)],
        [Contact("a", "A", "MY", frozenset({Role.OFFICER}), (UserRef.parse("console:a"),)),
         Contact("b", "B", "TH", frozenset({Role.CONTACT}), (UserRef.parse("matrix:@b:example.org"),)),
         Contact("c", "C", "RSO", frozenset({Role.COORDINATOR}), (UserRef.parse("telegram:user:9"),))])
    draft = ItemDraft(ItemKind.ALERT, "x", (Selector(SelectorKind.ORGANISATION, organisation="TH"),),
                      Caveat(Tlp.AMBER_STRICT), priority=Priority.URGENT)
    assert Router(directory).route(draft, directory.contacts["a"]).recipients == ("b",)
    amber = replace(draft, caveat=Caveat(Tlp.AMBER))  # AMBER may use Telegram: the coordinator is told
    assert Router(directory).route(amber, directory.contacts["a"]).recipients == ("b", "c")
