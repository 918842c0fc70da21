"""Where each TLP may be posted, one destination at a time, and whole routes."""

from __future__ import annotations

import pytest

from alerts.caveat_rules import check, verify_route
from alerts.caveats import Caveat, Tlp
from alerts.identity import ChatRef, UserRef
from alerts.items import ItemDraft, ItemKind, Selector, SelectorKind
from alerts.routing import Delivery, Destination, Route
from tests.sample_network import network_with_rooms

DIRECTORY = network_with_rooms()
OFFICER = DIRECTORY.contacts["my-officer"]
MY_TH = frozenset({"MY", "TH"})


def room(name: str) -> Destination:
    return Destination.chat(ChatRef.parse(f"console:#{name}"))


def direct(contact: str) -> Destination:
    return Destination.direct(UserRef.parse(f"console:{contact}"))


def allowed(tlp: Tlp, destination: Destination, audience: frozenset[str] = MY_TH) -> bool:
    return check(Caveat(tlp), destination, DIRECTORY, audience) is None


def test_clear_goes_anywhere_even_to_chats_the_directory_does_not_know() -> None:
    assert allowed(Tlp.CLEAR, Destination.chat(ChatRef.parse("telegram:-100999")), frozenset())
    assert allowed(Tlp.CLEAR, Destination.direct(UserRef.parse("console:stranger")), frozenset())


def test_green_goes_to_registered_rooms_and_people_of_the_network() -> None:
    assert allowed(Tlp.GREEN, room("network"), frozenset())
    assert allowed(Tlp.GREEN, direct("iom-npoc"), frozenset())
    assert not allowed(Tlp.GREEN, Destination.chat(ChatRef.parse("telegram:-100999")))
    violation = check(Caveat(Tlp.GREEN), Destination.direct(UserRef.parse("console:stranger")), DIRECTORY)
    assert str(violation) == "TLP:GREEN goes only to people in the directory, and console:stranger is not"


def test_amber_goes_only_to_rooms_holding_nobody_but_the_recipient_organisations() -> None:
    assert allowed(Tlp.AMBER, room("my-th"))
    assert allowed(Tlp.AMBER, room("thailand"))
    violation = check(Caveat(Tlp.AMBER), room("network"), DIRECTORY, MY_TH)
    assert str(violation) == ("TLP:AMBER is posted only in rooms restricted to the recipient organisations, "
                              "and Network room also holds AU, IOM, RSO")
    assert not allowed(Tlp.AMBER, room("unlisted"))  # members unknown: not restricted to anyone


def test_amber_direct_chats_go_to_people_of_the_recipient_organisations_only() -> None:
    assert allowed(Tlp.AMBER, direct("th-npoc"))
    assert str(check(Caveat(Tlp.AMBER), direct("iom-npoc"), DIRECTORY, MY_TH)) == (
        "TLP:AMBER goes only to the recipient organisations, and Iom Npoc (IOM) is not in one")


def test_amber_strict_goes_only_to_the_recipient_organisations_own_room() -> None:
    assert allowed(Tlp.AMBER_STRICT, room("thailand"))
    assert allowed(Tlp.AMBER_STRICT, direct("th-npoc"))
    assert not allowed(Tlp.AMBER_STRICT, room("my-th"))  # two organisations, even both recipients
    assert not allowed(Tlp.AMBER_STRICT, room("network"))
    assert not allowed(Tlp.AMBER_STRICT, room("iom"))  # IOM's own room, but IOM is not a recipient
    assert not allowed(Tlp.AMBER_STRICT, room("coordination"), frozenset({"RSO"}))  # not an own-room purpose


def test_red_is_never_posted_in_a_room() -> None:
    for name in ("thailand", "my-th", "network", "coordination"):
        violation = check(Caveat(Tlp.RED), room(name), DIRECTORY, frozenset(DIRECTORY.organisations))
        assert violation is not None and "never posted in a room" in str(violation)
    assert allowed(Tlp.RED, direct("th-npoc"))


def red_to(*people: str) -> ItemDraft:
    selectors = tuple(Selector(SelectorKind.PERSON, person=p) for p in people)
    return ItemDraft(ItemKind.ALERT, "body", selectors, Caveat(Tlp.RED))


@pytest.mark.parametrize("route, reason", [
    (Route((Delivery("th-npoc", direct("th-npoc"), "to:@th-npoc"), Delivery("th-npoc", direct("th-npoc"), "again"))),
     "someone would receive the item twice"),
    (Route((Delivery("my-officer", direct("my-officer"), "self"),)), "the originator would receive their own item"),
    (Route((Delivery("th-npoc", direct("my-npoc"), "wrong account"),)), "a direct chat reaches th-npoc alone"),
    (Route((Delivery("au-npoc", Destination.direct(DIRECTORY.contacts["au-npoc"].identities[0]), "x"),)),
     "TLP:RED goes only to people named in to:, and au-npoc was not named"),
    (Route((Delivery("th-npoc", room("thailand"), "in a room"),)), "TLP:RED is never posted in a room"),
    (Route((Delivery("ghost", direct("th-npoc"), "x"),)), "ghost is not in the directory"),
])
def test_the_final_check_finds_every_kind_of_broken_route(route: Route, reason: str) -> None:
    violation = verify_route(route, red_to("th-npoc"), OFFICER, DIRECTORY)
    assert violation is not None and str(violation).startswith(reason)


def test_the_final_check_passes_a_sound_route() -> None:
    route = Route((Delivery("th-npoc", direct("th-npoc"), "to:@th-npoc"),))
    assert verify_route(route, red_to("th-npoc"), OFFICER, DIRECTORY) is None
