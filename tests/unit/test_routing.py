from __future__ import annotations

import pytest

from alerts.caveats import Caveat, Tlp
from alerts.errors import RouteRefused
from alerts.items import ALL, ItemDraft, ItemKind, Selector, SelectorKind
from alerts.priority import Priority
from alerts.routing import DestinationKind, Router
from tests.sample_network import small_network

DIRECTORY = small_network()
OFFICER = DIRECTORY.contacts["my-officer"]


def org(code: str) -> Selector:
    return Selector(SelectorKind.ORGANISATION, organisation=code)


def draft(*to: Selector, tlp: Tlp = Tlp.AMBER, priority: Priority = Priority.ROUTINE, topic: str | None = None) -> ItemDraft:
    return ItemDraft(ItemKind.ALERT, "body", tuple(to), Caveat(tlp), priority=priority, topic=topic)


def test_a_country_resolves_to_its_national_point_of_contact() -> None:
    route = Router(DIRECTORY).route(draft(org("TH")), OFFICER)
    assert route.contacts == ("th-npoc",)
    assert route.deliveries[0].destination.kind is DestinationKind.DIRECT


def test_a_desk_resolves_to_its_point_of_contact_and_falls_back_to_the_country() -> None:
    router = Router(DIRECTORY)
    assert router.route(draft(Selector(SelectorKind.DESK, "TH", "immigration")), OFFICER).contacts == ("th-immigration",)
    assert router.route(draft(Selector(SelectorKind.DESK, "TH", "police")), OFFICER).contacts == ("th-npoc",)


def test_an_unknown_desk_is_refused_with_the_desks_that_exist() -> None:
    with pytest.raises(RouteRefused, match="immigration, police"):
        Router(DIRECTORY).route(draft(Selector(SelectorKind.DESK, "TH", "customs")), OFFICER)


def test_all_reaches_every_member_but_not_observers_nor_the_sender() -> None:
    route = Router(DIRECTORY).route(draft(ALL), DIRECTORY.contacts["my-npoc"])
    assert set(route.contacts) == {"th-npoc", "au-npoc", "iom-npoc"}


def test_alpha3_and_names_resolve_like_codes() -> None:
    router = Router(DIRECTORY)
    assert router.route(draft(org("THA")), OFFICER).contacts == ("th-npoc",)
    assert router.route(draft(org("thailand")), OFFICER).contacts == ("th-npoc",)


def test_red_goes_only_to_named_people() -> None:
    router = Router(DIRECTORY)
    with pytest.raises(RouteRefused, match="TLP:RED goes only to named people"):
        router.route(draft(org("TH"), tlp=Tlp.RED), OFFICER)
    with pytest.raises(RouteRefused):
        router.route(draft(ALL, tlp=Tlp.RED), OFFICER)
    route = router.route(draft(Selector(SelectorKind.PERSON, person="th-npoc"), tlp=Tlp.RED, priority=Priority.URGENT), OFFICER)
    assert route.contacts == ("th-npoc",)  # urgent RED does not widen to coordinators
    assert all(d.destination.kind is DestinationKind.DIRECT for d in route.deliveries)


def test_urgent_items_also_reach_coordinators() -> None:
    route = Router(DIRECTORY).route(draft(org("TH"), priority=Priority.URGENT), OFFICER)
    assert route.contacts == ("th-npoc", "rso-coord")


def test_topic_defaults_apply_when_no_recipients_are_named() -> None:
    router = Router(DIRECTORY, {"document-fraud": (org("TH"), org("AU"))})
    assert router.route(draft(topic="document-fraud"), OFFICER).contacts == ("th-npoc", "au-npoc")
    with pytest.raises(RouteRefused, match="No recipients"):
        router.route(draft(topic="maritime"), OFFICER)


def test_unknown_organisations_and_people_are_refused() -> None:
    with pytest.raises(RouteRefused, match="not in the network"):
        Router(DIRECTORY).route(draft(org("FR")), OFFICER)
    with pytest.raises(RouteRefused, match="Nobody called @nobody"):
        Router(DIRECTORY).route(draft(Selector(SelectorKind.PERSON, person="nobody")), OFFICER)


def test_duplicates_are_delivered_once() -> None:
    route = Router(DIRECTORY).route(draft(org("TH"), org("THA"), Selector(SelectorKind.PERSON, person="th-npoc")), OFFICER)
    assert route.contacts == ("th-npoc",)


def test_first_platform_identity_is_the_destination() -> None:
    route = Router(DIRECTORY).route(draft(org("AU")), OFFICER)
    assert str(route.deliveries[0].destination) == "direct:matrix:@au-npoc:example.org"
