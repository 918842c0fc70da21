"""Posting in rooms: the recipient organisation's room where the caveat allows, else direct chats."""

from __future__ import annotations

import pytest

from alerts.caveats import Caveat, Tlp
from alerts.errors import RouteRefused
from alerts.items import ItemDraft, ItemKind, Selector, SelectorKind
from alerts.priority import Priority
from alerts.routing import DestinationKind, PostIn, Router, RoutingPolicy
from tests.sample_network import network_with_rooms

DIRECTORY = network_with_rooms()
OFFICER = DIRECTORY.contacts["my-officer"]
ROOMS = Router(DIRECTORY, RoutingPolicy(post=PostIn.ROOMS))


def to(*texts: str) -> tuple[Selector, ...]:
    found = []
    for text in texts:
        if text.startswith("@"):
            found.append(Selector(SelectorKind.PERSON, person=text[1:]))
        elif "/" in text:
            org, desk = text.split("/")
            found.append(Selector(SelectorKind.DESK, organisation=org, desk=desk))
        else:
            found.append(Selector(SelectorKind.ORGANISATION, organisation=text))
    return tuple(found)


def draft(*texts: str, tlp: Tlp = Tlp.AMBER, priority: Priority = Priority.ROUTINE,
          topic: str | None = None) -> ItemDraft:
    return ItemDraft(ItemKind.ALERT, "body", to(*texts), Caveat(tlp), priority=priority, topic=topic)


def places(route) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(d.contact, str(d.destination)) for d in route.deliveries]


def test_amber_goes_to_the_recipients_own_room() -> None:
    route = ROOMS.route(draft("TH", "IOM"), OFFICER)
    assert places(route) == [("th-npoc", "chat:console:#thailand"), ("iom-npoc", "chat:console:#iom")]
    assert route.deliveries[0].reason == "to:TH; in Thailand room"


def test_recipients_in_the_same_room_get_one_post_there() -> None:
    route = ROOMS.route(draft("TH/immigration", "TH", tlp=Tlp.GREEN), OFFICER)
    [post] = route.deliveries
    assert (post.contact, post.also, str(post.destination)) == ("th-immigration", ("th-npoc",), "chat:console:#thailand")
    assert post.reason == "to:TH/immigration; in Thailand room; also for th-npoc"
    assert route.recipients == ("th-immigration", "th-npoc") and route.contacts == ("th-immigration",)


def test_amber_strict_without_an_own_room_falls_back_to_direct_chats_and_says_why() -> None:
    route = Router(DIRECTORY, RoutingPolicy(post=PostIn.ROOMS)).route(
        draft("MY", tlp=Tlp.AMBER_STRICT), DIRECTORY.contacts["th-npoc"])
    [delivery] = route.deliveries
    assert delivery.destination.kind is DestinationKind.DIRECT
    assert delivery.reason.startswith("to:MY; direct: TLP:AMBER+STRICT is posted only in the recipient "
                                      "organisation's own room")


def test_amber_strict_uses_the_own_room_where_there_is_one() -> None:
    assert places(ROOMS.route(draft("TH", tlp=Tlp.AMBER_STRICT), OFFICER)) == [("th-npoc", "chat:console:#thailand")]


def test_a_room_holding_organisations_the_item_is_not_for_is_not_used_even_for_clear() -> None:
    route = Router(DIRECTORY, RoutingPolicy(post=PostIn.ROOMS)).route(draft("MY", tlp=Tlp.CLEAR),
                                                                       DIRECTORY.contacts["au-npoc"])
    # Malaysia's rooms are the network room and the joint room with Thailand: both hold others.
    [delivery] = route.deliveries
    assert delivery.destination.kind is DestinationKind.DIRECT
    assert "holds organisations the item is not for" in delivery.reason


def test_the_joint_room_is_used_when_both_its_organisations_are_addressed() -> None:
    route = Router(DIRECTORY, RoutingPolicy(post=PostIn.ROOMS)).route(draft("MY", "TH", tlp=Tlp.AMBER),
                                                                       DIRECTORY.contacts["au-npoc"])
    assert places(route) == [("my-npoc", "chat:console:#my-th"), ("th-npoc", "chat:console:#thailand")]


def test_an_organisation_without_a_room_is_reached_directly() -> None:
    [delivery] = ROOMS.route(draft("CA", topic="document-fraud"), OFFICER).deliveries
    assert delivery.destination.kind is DestinationKind.DIRECT
    assert delivery.reason == "to:CA; direct: Canada has no registered room"


def test_the_reason_for_a_direct_fallback_is_the_caveat_of_the_closest_room() -> None:
    [delivery] = ROOMS.route(draft("AU"), OFFICER).deliveries
    assert delivery.reason == ("to:AU; direct: TLP:AMBER is posted only in rooms restricted to the recipient "
                               "organisations, and Network room also holds IOM, RSO, TH")


def test_red_is_always_direct_even_when_rooms_are_asked_for() -> None:
    route = ROOMS.route(draft("@th-npoc", "@th-immigration", tlp=Tlp.RED), OFFICER)
    assert [d.destination.kind for d in route.deliveries] == [DestinationKind.DIRECT] * 2


def test_urgent_coordinators_are_placed_like_everyone_else() -> None:
    route = ROOMS.route(draft("TH", priority=Priority.URGENT), OFFICER)
    assert places(route) == [("th-npoc", "chat:console:#thailand"), ("rso-coord", "chat:console:#coordination")]


def test_a_broken_checker_is_stopped_by_the_final_check() -> None:
    """Defence in depth: placing with a checker that allows everything still posts nothing it must not."""
    careless = Router(DIRECTORY, RoutingPolicy(post=PostIn.ROOMS), checker=lambda *_: None)
    with pytest.raises(RouteRefused, match="final caveat check"):
        careless.route(draft("MY", "TH", tlp=Tlp.AMBER_STRICT), DIRECTORY.contacts["au-npoc"])
