"""Rooms by hub and topic: /room register and /room retire, and /alert … hub:KUL posting in the hub's room
only where the caveat allows (the placement check decides). The dispatcher on the fakes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from alerts.audit import AuditAction
from alerts.caveats import Caveat, Tlp
from alerts.directory import Directory, Room, RoomPurpose
from alerts.errors import RouteRefused
from alerts.identity import ChatRef, UserRef
from alerts.render import render_places
from alerts.items import ItemDraft, ItemKind, Selector, SelectorKind
from alerts.routing import DestinationKind, PostIn, Router, RoutingPolicy
from alerts.routing_types import Delivery, Destination, Route
from tests.sample_network import small_network
from tests.unit.test_arrangement_conversations import ArrangementBot

KUL = ChatRef.parse("console:#kul")
REGISTER = '/room register console:#kul name:"KUL airport" purpose:network orgs:MY,TH hubs:KUL'


def _with_hub_room(*extra: Room) -> Directory:
    base = small_network()
    hub = Room(KUL, "KUL airport", RoomPurpose.NETWORK, frozenset({"MY", "TH"}), hubs=frozenset({"KUL"}))
    return Directory.build(base.organisations.values(), base.contacts.values(), base.rooms + (hub, *extra))


def _draft(tlp: Tlp, hub: str | None = "KUL", topic: str | None = None) -> ItemDraft:
    return ItemDraft(ItemKind.ALERT, "Two travellers", (Selector(SelectorKind.ORGANISATION, organisation="TH"),),
                     Caveat(tlp), topic=topic, hub=hub)


def test_a_hub_room_takes_a_green_alert_of_its_hub_but_never_an_amber_strict_one() -> None:
    directory = _with_hub_room()
    officer = directory.contacts["my-officer"]
    green = Router(directory).route(_draft(Tlp.GREEN), officer)
    assert [str(d.destination) for d in green.deliveries] == ["chat:console:#kul"]
    assert green.not_in_room == ()
    strict = Router(directory).route(_draft(Tlp.AMBER_STRICT), officer)
    assert strict.not_in_room == (("th-npoc", "TLP:AMBER+STRICT is posted only in the recipient organisation's "
                                               "own room, and KUL airport is not one"),)  # the receipt says why
    for tlp in (Tlp.AMBER_STRICT, Tlp.RED):
        draft = _draft(tlp) if tlp is not Tlp.RED else ItemDraft(
            ItemKind.ALERT, "x", (Selector(SelectorKind.PERSON, person="th-npoc"),), Caveat(tlp), hub="KUL")
        route = Router(directory).route(draft, officer)
        assert all(d.destination.kind is DestinationKind.DIRECT for d in route.deliveries), route


def test_a_red_alert_of_a_hub_says_why_the_hub_room_was_not_used() -> None:
    directory = _with_hub_room()
    draft = ItemDraft(ItemKind.ALERT, "x", (Selector(SelectorKind.PERSON, person="th-npoc"),
                                            Selector(SelectorKind.PERSON, person="au-npoc")), Caveat(Tlp.RED), hub="KUL")
    route = Router(directory).route(draft, directory.contacts["my-officer"])
    assert all(d.destination.kind is DestinationKind.DIRECT for d in route.deliveries)
    assert route.not_in_room == (("th-npoc", "TLP:RED is never posted in a room, so not in KUL airport"),
                                 ("au-npoc", "TLP:RED is never posted in a room, so not in a room of hub KUL"))
    assert render_places(route, directory, left_out=set())[0] == (
        "Not posted in a room for Th Npoc (Thailand): TLP:RED is never posted in a room, so not in KUL airport; "
        "sent to their direct chat instead.")
    # Without hub: nobody asked for a room, and the receipt says nothing of rooms.
    assert Router(directory).route(replace(draft, hub=None), directory.contacts["my-officer"]).not_in_room == ()


def test_the_receipt_names_the_rooms_and_at_most_three_copies_no_room_took() -> None:
    directory = _with_hub_room()
    direct = Destination.direct(UserRef.parse("console:th-npoc"))
    people = ("th-npoc", "th-immigration", "au-npoc", "iom-npoc", "ca-npoc")
    route = Route((Delivery("my-npoc", Destination.chat(KUL), "to:MY; in KUL airport"),
                   *(Delivery(c, direct, "x") for c in people)),
                  not_in_room=tuple((c, f"no room for {c}") for c in people))
    places = render_places(route, directory, left_out={"iom-npoc"})
    assert places[0] == "Posted in KUL airport."
    assert places[1].startswith("Not posted in a room for ") and places[1].endswith(
        ": no room for th-npoc; sent to their direct chat instead.")
    assert len(places) == 5 and places[4] == "1 more went to their direct chats: no room could take them."
    assert render_places(route, directory, left_out={"my-npoc", *people}) == []  # unreachable: said apart


def test_a_hub_room_takes_nothing_of_another_hub_or_without_a_hub() -> None:
    directory = _with_hub_room(Room(ChatRef.parse("console:#bkk"), "BKK airport", RoomPurpose.NETWORK,
                                    frozenset({"MY", "TH"}), hubs=frozenset({"BKK"})))
    officer = directory.contacts["my-officer"]
    rooms = Router(directory, RoutingPolicy(post=PostIn.ROOMS))
    assert [str(d.destination) for d in rooms.route(_draft(Tlp.GREEN, hub="BKK"), officer).deliveries] == [
        "chat:console:#bkk"]
    # post = rooms without a hub: never a hub room (the network room holds more than the item is for: direct)
    assert [str(d.destination) for d in rooms.route(_draft(Tlp.GREEN, hub=None), officer).deliveries] == [
        "direct:console:th-npoc"]
    with pytest.raises(RouteRefused, match="No room is registered for hub KLU"):
        Router(directory).route(_draft(Tlp.GREEN, hub="KLU"), officer)


def test_a_topic_room_comes_first_for_its_topic_only() -> None:
    base = small_network()
    topic_room = Room(ChatRef.parse("console:#fraud"), "Document fraud", RoomPurpose.NETWORK,
                      frozenset({"MY", "TH"}), topics=frozenset({"document-fraud"}))
    directory = Directory.build(base.organisations.values(), base.contacts.values(), base.rooms + (topic_room,))
    officer = directory.contacts["my-officer"]
    rooms = Router(directory, RoutingPolicy(post=PostIn.ROOMS))
    assert str(rooms.route(_draft(Tlp.GREEN, None, "document-fraud"), officer).deliveries[0].destination) == \
        "chat:console:#fraud"
    assert str(rooms.route(_draft(Tlp.GREEN, None, "maritime"), officer).deliveries[0].destination) == \
        "direct:console:th-npoc"


# --- /room register, /room retire, and hub: in chat ---------------------------------------------------

@pytest.fixture
def bot() -> ArrangementBot:
    return ArrangementBot()


def _posted_in(bot: ArrangementBot, chat: str) -> list[str]:
    return [m.text for m in bot.store.outbox.values() if str(m.destination) == f"chat:{chat}"]


def test_an_admin_registers_a_hub_room_and_hub_alerts_go_there_where_their_caveat_allows(bot: ArrangementBot) -> None:
    assert "No room is registered for hub KUL" in bot.answer("my-officer", "/alert to:TH tlp:green hub:KUL Boat")
    assert bot.answer("admin", REGISTER) == (
        "Registered KUL airport (console:#kul) · network · MY, TH · only items of hubs KUL. Items are posted there "
        "only where their caveat allows. /room sync --apply brings its members in.")
    assert [e.detail["command"] for e in bot.store.audit if e.action is AuditAction.ADMIN] == ["room register"]
    bot.says("my-officer", "/alert to:TH tlp:green hub:KUL Two travellers at gate C3")
    bot.says("my-officer", "/alert to:TH tlp:amber+strict hub:kul Named informant at gate C3")
    in_room = _posted_in(bot, "console:#kul")
    assert len(in_room) == 1 and "Two travellers at gate C3" in in_room[0]
    assert "Hub: KUL" in in_room[0].splitlines()
    assert any("Named informant" in text for text in bot.received_by("th-npoc"))  # in Thailand's direct chat
    assert "hubs KUL" in bot.answer("admin", "/rooms")


def test_the_receipt_of_a_red_hub_alert_says_the_hub_room_was_not_used_and_why(bot: ArrangementBot) -> None:
    bot.answer("admin", REGISTER)
    [receipt] = bot.says("my-officer", "/alert to:@th-npoc tlp:red hub:KUL Named informant at gate C3")
    assert _posted_in(bot, "console:#kul") == []
    assert any("Named informant" in text for text in bot.received_by("th-npoc"))
    assert ("Not posted in a room for Th Npoc (Thailand): TLP:RED is never posted in a room, so not in KUL airport; "
            "sent to their direct chat instead.") in receipt


def test_a_retired_room_gets_nothing_more(bot: ArrangementBot) -> None:
    bot.answer("admin", REGISTER)
    assert bot.answer("admin", "/room retire console:#kul the airport desk moved") == (
        "Retired KUL airport (console:#kul): nothing more is posted there (the airport desk moved). Nobody was "
        "removed from it; the configuration does not bring it back.")
    assert "No room is registered for hub KUL" in bot.answer("my-officer", "/alert to:TH tlp:green hub:KUL Boat")
    assert _posted_in(bot, "console:#kul") == []
    assert bot.answer("admin", "/room retire console:#kul again") == (  # typed twice: said so, not "not registered"
        f"console:#kul was retired already, on {bot.clock.now():%Y-%m-%d %H:%M} UTC: nothing is posted there. "
        "/room register console:#kul … brings it back.")
    assert bot.answer("admin", "/room retire console:#nowhere gone") == (
        "console:#nowhere is not a registered room. /rooms lists them.")


def test_an_item_of_a_retired_hub_can_still_be_forwarded(bot: ArrangementBot) -> None:
    bot.answer("admin", REGISTER)
    bot.says("my-officer", "/alert to:TH tlp:green hub:KUL Two travellers at gate C3")
    bot.answer("admin", "/room retire console:#kul the airport desk moved")
    assert bot.answer("my-officer", '/forward A-2026-0001 to:MY purpose:"joint investigation"').startswith(
        "Forwarded A-2026-0001 to My Npoc (Malaysia)")


@pytest.mark.parametrize("text, answer", [
    ('/room register console:#kul name:"KUL" purpose:network orgs:MY,XX', "XX is not in the network."),
    ('/room register console:#kul name:"KUL" purpose:lounge orgs:MY', "Purpose 'lounge' is not valid."),
    ('/room register console:#kul name:"KUL" purpose:country orgs:MY,TH', "A country room holds one organisation"),
    ('/room register console:#kul purpose:network orgs:MY', "Give name: too."),
    # A name written as words before the fields: refused as such, not as fields "after the text".
    ('/room register console:#kul KUL airport name:KUL purpose:network orgs:MY', "Unexpected 'KUL'. /room register takes"),
    ('/room register console:@alice name:"x" purpose:network orgs:MY', "is a direct chat, not a room"),
    ('/room register console:#kul name:"KUL" purpose:network orgs:MY hubs:K', "Hub 'K' is not valid."),
    ('/room register console:#kul name:"KUL" purpose:network orgs:MY hbus:KUL', "Unknown field 'hbus'"),
    ("/room retire console:#kul", "Say why it is retired"),
])
def test_a_wrong_room_command_is_refused_and_registers_nothing(bot: ArrangementBot, text: str, answer: str) -> None:
    assert answer in bot.answer("admin", text)
    assert bot.current.room(KUL) is None


def test_only_admins_keep_the_rooms(bot: ArrangementBot) -> None:
    bot.answer("rso-coord", REGISTER)
    assert bot.current.room(KUL) is None


def test_the_readme_examples_parse_and_the_refusal_names_the_known_hubs(bot: ArrangementBot) -> None:
    from handlers.commands import AlertCommand, RoomRegisterCommand, RoomRetireCommand
    from handlers.parser import parse

    examples = ['/room register console:#kul name:"KUL airport" purpose:network orgs:MY,TH hubs:KUL',
                '/room register matrix:!fraud:example.org name:"Document fraud" purpose:network orgs:MY,TH,ID '
                "topics:document-fraud",
                "/room retire console:#kul the airport desk moved",
                "/alert to:TH tlp:green hub:KUL Two travellers at gate C3"]
    kinds = [type(parse(text)) for text in examples]
    assert kinds == [RoomRegisterCommand, RoomRegisterCommand, RoomRetireCommand, AlertCommand]
    bot.answer("admin", REGISTER)
    assert bot.answer("my-officer", "/alert to:TH tlp:green hub:KLU Boat") == (
        "Not sent: No room is registered for hub KLU (hubs: KUL). /rooms lists them.")
    bot.answer("admin", "/room retire console:#kul the airport desk moved")
    assert [e.detail["command"] for e in bot.store.audit if e.action is AuditAction.ADMIN] == [
        "room register", "room retire"]


def test_the_configuration_seeds_hub_and_topic_rooms() -> None:
    from pathlib import Path

    from bot.config.settings import settings_from_toml
    from tests.unit.test_config_errors import NETWORK

    text = NETWORK + ('\n[[network.rooms]]\nchat = "console:#kul"\nname = "KUL airport"\npurpose = "network"\n'
                      'organisations = ["MY", "TH"]\nhubs = ["kul"]\ntopics = ["document-fraud"]\n')
    [room] = [r for r in settings_from_toml(text, Path("config.toml")).directory().rooms if r.chat == KUL]
    assert (room.hubs, room.topics) == (frozenset({"KUL"}), frozenset({"document-fraud"}))
