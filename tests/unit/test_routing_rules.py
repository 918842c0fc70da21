"""Routing rules: ordered, first match wins, the default when none matches."""

from __future__ import annotations

import pytest

from alerts.caveats import Caveat, Tlp
from alerts.errors import RouteRefused
from alerts.items import ALL, ItemDraft, ItemKind, Selector, SelectorKind
from alerts.priority import Priority
from alerts.routing import DestinationKind, PostIn, Router, RoutingPolicy, RoutingRule
from tests.sample_network import network_with_rooms

DIRECTORY = network_with_rooms()
OFFICER = DIRECTORY.contacts["my-officer"]
TH = Selector(SelectorKind.ORGANISATION, organisation="TH")
AU = Selector(SelectorKind.ORGANISATION, organisation="AU")
IOM = Selector(SelectorKind.ORGANISATION, organisation="IOM")
CA = Selector(SelectorKind.ORGANISATION, organisation="CA")
TH_IMMIGRATION = Selector(SelectorKind.DESK, organisation="TH", desk="immigration")


def draft(*to: Selector, topic: str | None = None, priority: Priority = Priority.ROUTINE,
          tlp: Tlp = Tlp.AMBER) -> ItemDraft:
    return ItemDraft(ItemKind.ALERT, "body", to, Caveat(tlp), priority=priority, topic=topic)


def router(*rules: RoutingRule, **policy: object) -> Router:
    return Router(DIRECTORY, RoutingPolicy(rules=rules, **policy))  # type: ignore[arg-type]


MARITIME = RoutingRule("maritime-police", topics=frozenset({"maritime"}), add=(AU,))
URGENT_IOM = RoutingRule("urgent-iom", priorities=frozenset({Priority.URGENT}), add=(IOM,))
THAI_ROOMS = RoutingRule("thai-rooms", to=(TH,), post=PostIn.ROOMS)


def test_a_rule_adds_recipients_and_says_why() -> None:
    route = router(MARITIME).route(draft(TH, topic="maritime"), OFFICER)
    assert route.contacts == ("th-npoc", "au-npoc")
    assert route.deliveries[1].reason == "rule maritime-police: AU"


def test_the_first_matching_rule_wins() -> None:
    both = draft(TH, topic="maritime", priority=Priority.URGENT)
    assert "iom-npoc" not in router(MARITIME, URGENT_IOM).route(both, OFFICER).contacts
    assert "au-npoc" not in router(URGENT_IOM, MARITIME).route(both, OFFICER).contacts


def test_no_matching_rule_means_the_default() -> None:
    route = router(MARITIME, URGENT_IOM).route(draft(TH, topic="document-fraud"), OFFICER)
    assert route.contacts == ("th-npoc",) and route.deliveries[0].destination.kind is DestinationKind.DIRECT


def test_a_rule_on_an_organisation_matches_its_desks_and_can_post_in_rooms() -> None:
    route = router(THAI_ROOMS).route(draft(TH_IMMIGRATION), OFFICER)
    assert str(route.deliveries[0].destination) == "chat:console:#thailand"
    assert router(THAI_ROOMS).route(draft(AU), OFFICER).deliveries[0].destination.kind is DestinationKind.DIRECT


def test_rules_match_what_was_written_so_all_is_not_thailand() -> None:
    route = router(THAI_ROOMS).route(draft(ALL), OFFICER)
    assert all(d.destination.kind is DestinationKind.DIRECT for d in route.deliveries)


def test_rules_match_the_topic_defaults_when_to_is_left_out() -> None:
    policy = {"topic_defaults": {"maritime": (TH,)}}
    assert str(router(THAI_ROOMS, **policy).route(draft(topic="maritime"), OFFICER).deliveries[0].destination) == (
        "chat:console:#thailand")


def test_additions_never_widen_red() -> None:
    red = draft(Selector(SelectorKind.PERSON, person="th-npoc"), topic="maritime", tlp=Tlp.RED)
    assert router(MARITIME).route(red, OFFICER).contacts == ("th-npoc",)


def test_additions_without_an_arrangement_are_left_out_rather_than_refusing_the_item() -> None:
    to_canada = RoutingRule("canada-too", topics=frozenset({"maritime"}), add=(CA,))
    assert router(to_canada).route(draft(TH, topic="maritime"), OFFICER).contacts == ("th-npoc",)


def test_an_addition_nobody_answers_for_is_skipped() -> None:
    nobody = RoutingRule("ghost-desk", add=(Selector(SelectorKind.ORGANISATION, organisation="RSO"),))
    assert router(nobody).route(draft(TH), OFFICER).contacts == ("th-npoc",)


def test_an_addition_of_someone_already_named_is_delivered_once_with_the_named_reason() -> None:
    route = router(RoutingRule("th-too", add=(TH,))).route(draft(TH), OFFICER)
    assert [(d.contact, d.reason) for d in route.deliveries] == [("th-npoc", "to:TH")]


def test_the_originator_is_never_added_by_a_rule() -> None:
    mine = RoutingRule("my-too", add=(Selector(SelectorKind.PERSON, person="my-officer"),))
    assert router(mine).route(draft(TH), OFFICER).contacts == ("th-npoc",)


def test_the_policy_can_post_in_rooms_by_default_and_a_rule_can_say_direct() -> None:
    direct_for_th = RoutingRule("th-direct", to=(TH,), post=PostIn.DIRECT)
    rooms = router(direct_for_th, post=PostIn.ROOMS)
    assert rooms.route(draft(TH), OFFICER).deliveries[0].destination.kind is DestinationKind.DIRECT
    assert str(rooms.route(draft(IOM), OFFICER).deliveries[0].destination) == "chat:console:#iom"


def test_additions_alone_do_not_make_an_item_addressed_only_to_its_sender_go_out() -> None:
    to_self = draft(Selector(SelectorKind.PERSON, person="my-officer"), topic="maritime", priority=Priority.URGENT)
    with pytest.raises(RouteRefused, match="the only recipient would be you"):
        router(MARITIME).route(to_self, OFFICER)
