"""Sharing arrangements: who may share with whom on which topic, and what happens without one."""

from __future__ import annotations

import dataclasses

import pytest

from alerts.arrangements import Arrangement, WithoutArrangement
from alerts.directory import missing_arrangement
from alerts.caveats import Caveat, Tlp
from alerts.errors import RouteRefused
from alerts.items import ItemDraft, ItemKind, Selector, SelectorKind
from alerts.priority import Priority
from alerts.routing import RouteNeedsConfirmation, Router, RoutingPolicy
from tests.sample_network import network_with_rooms

DIRECTORY = network_with_rooms()
OFFICER = DIRECTORY.contacts["my-officer"]


def org(code: str) -> Selector:
    return Selector(SelectorKind.ORGANISATION, organisation=code)


def draft(*to: Selector, topic: str | None = None, priority: Priority = Priority.ROUTINE) -> ItemDraft:
    return ItemDraft(ItemKind.ALERT, "body", to, Caveat(Tlp.AMBER), priority=priority, topic=topic)


def test_members_share_with_members_on_every_topic_by_membership() -> None:
    assert Router(DIRECTORY).route(draft(org("TH"), org("IOM"), topic="people-smuggling"), OFFICER).contacts == (
        "th-npoc", "iom-npoc")


def test_an_observer_receives_only_under_an_arrangement_covering_the_topic() -> None:
    router = Router(DIRECTORY)
    assert router.route(draft(org("CA"), topic="document-fraud"), OFFICER).contacts == ("ca-npoc",)
    with pytest.raises(RouteRefused) as refused:
        router.route(draft(org("TH"), org("CA"), topic="people-smuggling"), OFFICER)
    assert str(refused.value) == (
        "Malaysia has no sharing arrangement with Canada for people-smuggling (MoU MY-CA 2021 covers "
        "document-fraud only). Leave Canada out, or ask a coordinator to record the arrangement.")


def test_no_arrangement_at_all_and_no_topic_are_named_plainly() -> None:
    with pytest.raises(RouteRefused, match="^Thailand has no sharing arrangement with Canada for document-fraud. "):
        Router(DIRECTORY).route(draft(org("CA"), topic="document-fraud"), DIRECTORY.contacts["th-npoc"])
    with pytest.raises(RouteRefused, match="^Malaysia has no sharing arrangement with Canada for items without a "
                                           "topic \\(MoU MY-CA 2021 covers document-fraud only\\)"):
        Router(DIRECTORY).route(draft(org("CA")), OFFICER)


def test_a_named_person_is_checked_like_their_organisation() -> None:
    with pytest.raises(RouteRefused, match="with Canada for people-smuggling"):
        Router(DIRECTORY).route(draft(Selector(SelectorKind.PERSON, person="ca-npoc"), topic="people-smuggling"),
                                OFFICER)


def test_the_coordinating_office_needs_no_arrangement_either_way() -> None:
    canada = DIRECTORY.contacts["ca-npoc"]
    to_coordinator = draft(Selector(SelectorKind.PERSON, person="rso-coord"), topic="people-smuggling")
    assert Router(DIRECTORY).route(to_coordinator, canada).contacts == ("rso-coord",)
    assert missing_arrangement(DIRECTORY, "RSO", "CA", "maritime") is None


def test_without_membership_sharing_members_need_an_arrangement_too() -> None:
    policy = RoutingPolicy(membership_arrangement=False)
    with pytest.raises(RouteRefused, match="Malaysia has no sharing arrangement with Thailand for maritime"):
        Router(DIRECTORY, policy).route(draft(org("TH"), topic="maritime"), OFFICER)
    with_mou = dataclasses.replace(DIRECTORY, arrangements=(Arrangement("MoU MY-TH 2019", frozenset({"MY", "TH"})),))
    assert Router(with_mou, policy).route(draft(org("TH"), topic="maritime"), OFFICER).contacts == ("th-npoc",)


def test_confirm_policy_asks_first_and_sends_once_confirmed() -> None:
    router = Router(DIRECTORY, RoutingPolicy(without_arrangement=WithoutArrangement.CONFIRM))
    item = draft(org("TH"), org("CA"), topic="people-smuggling")
    with pytest.raises(RouteNeedsConfirmation) as asked:
        router.route(item, OFFICER)
    assert [m.recipient_code for m in asked.value.missing] == ["CA"]
    route = router.route(item, OFFICER, confirmed=True)
    assert route.contacts == ("th-npoc", "ca-npoc") and route.confirmed_without_arrangement == ("CA",)
    assert route.deliveries[1].reason == "to:CA; no arrangement, confirmed"


def test_confirmation_does_not_override_refuse() -> None:
    with pytest.raises(RouteRefused):
        Router(DIRECTORY).route(draft(org("CA"), topic="maritime"), OFFICER, confirmed=True)


def test_a_multilateral_arrangement_covers_every_pair_of_its_parties() -> None:
    trilateral = Arrangement("Joint statement", frozenset({"TH", "MY", "CA"}), frozenset({"trafficking-in-persons"}))
    directory = dataclasses.replace(DIRECTORY, arrangements=(trilateral,))
    assert missing_arrangement(directory, "TH", "CA", "trafficking-in-persons") is None
    assert missing_arrangement(directory, "CA", "MY", "trafficking-in-persons", membership=False) is None
    assert missing_arrangement(directory, "TH", "CA", "maritime") is not None


def test_an_arrangement_needs_two_parties() -> None:
    with pytest.raises(ValueError):
        Arrangement("alone", frozenset({"TH"}))
