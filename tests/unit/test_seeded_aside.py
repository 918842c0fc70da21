"""A room or a contact the configuration names on a platform the bot does not run is set aside: kept
in the directory, but nothing is posted to it and /room sync plans nothing for it (and says so).
The domain's list of what is set aside, and the dispatcher on the fakes with the platforms a
deployment runs."""

from __future__ import annotations

from alerts.directory import Directory
from alerts.due import DuePolicy
from alerts.identity import Platform
from alerts.messages import MessageKind
from alerts.reachability import set_aside
from alerts.routing_rules import PostIn, RoutingPolicy
from handlers.post_item import PostingPolicy
from tests.sample_network import person, room, small_network
from alerts.directory import RoomPurpose
from alerts.roles import Role
from tests.unit.test_arrangement_conversations import ArrangementBot

CONSOLE_ONLY = frozenset({Platform.CONSOLE})


def network() -> Directory:
    """small_network with Thailand's own room on Matrix and a Thai officer on Matrix only."""
    base = small_network()
    rooms = base.rooms + (room("matrix:!th:example.org", "Thailand room", RoomPurpose.COUNTRY, "TH"),)
    contacts = tuple(base.contacts.values()) + (
        person("th-matrix", "TH", Role.OFFICER, identities=("matrix:@th:example.org",)),)
    return Directory.build(base.organisations.values(), contacts, rooms, base.arrangements)


def running(platforms: frozenset[Platform] | None, post: PostIn = PostIn.DIRECT) -> ArrangementBot:
    return ArrangementBot(network(), PostingPolicy(DuePolicy.default(), routing=RoutingPolicy(post=post),
                                                   platforms=platforms))


def test_what_no_platform_run_reaches_is_set_aside_in_the_order_the_file_gives() -> None:
    directory = network()
    aside = set_aside(directory.rooms, tuple(directory.contacts.values()), CONSOLE_ONLY)
    assert [(a.kind, a.position, a.name, a.platforms) for a in aside] == [
        ("room", 1, "matrix:!th:example.org", (Platform.MATRIX,)),
        ("contact", 5, "au-npoc", (Platform.MATRIX, Platform.TELEGRAM)),
        ("contact", 11, "th-matrix", (Platform.MATRIX,))]
    assert set_aside(directory.rooms, tuple(directory.contacts.values()), frozenset(Platform)) == []


def test_a_copy_for_an_organisation_whose_room_is_not_run_goes_to_a_direct_chat_instead() -> None:
    bot = running(CONSOLE_ONLY, PostIn.ROOMS)
    [receipt] = bot.says("my-officer", "/alert to:TH tlp:green Two travellers")
    assert receipt.startswith("Alert A-2026-0001 accepted"), receipt
    assert "Cannot reach" not in receipt
    queued = [str(m.destination) for m in bot.store.outbox.values() if m.kind is MessageKind.DELIVERY]
    assert queued == ["direct:console:th-npoc"]
    assert "Thailand room is on matrix, which this bot does not run (it runs console)" in receipt
    # Where every platform runs, the room is where the copy goes.
    everywhere = running(None, PostIn.ROOMS)
    everywhere.says("my-officer", "/alert to:TH tlp:green Two travellers")
    assert [str(m.destination) for m in everywhere.store.outbox.values() if m.kind is MessageKind.DELIVERY] == [
        "chat:matrix:!th:example.org"]


def test_room_sync_plans_nothing_for_a_room_on_a_platform_not_run_and_says_so() -> None:
    bot = running(CONSOLE_ONLY)
    answer = bot.answer("admin", "/room sync --apply")
    planned = [m for m in bot.store.outbox.values() if m.kind is MessageKind.MEMBERSHIP]
    assert planned and all(str(m.destination).startswith("chat:console:") for m in planned), planned
    assert "matrix:!th" not in answer.split("Left out:")[0]
    assert ("Left out: Thailand room (matrix:!th:example.org) is on matrix, which this bot does not run (it runs "
            "console): nothing is planned for it.") in answer.splitlines()
    # The same with every platform running plans the Matrix room's invites too.
    everywhere = running(None)
    everywhere.answer("admin", "/room sync --apply")
    assert any(str(m.destination) == "chat:matrix:!th:example.org" for m in everywhere.store.outbox.values()
               if m.kind is MessageKind.MEMBERSHIP)


def test_room_sync_with_only_rooms_not_run_plans_nothing_and_says_why() -> None:
    base = network()
    only_matrix = Directory.build(base.organisations.values(), base.contacts.values(),
                                  [r for r in base.rooms if r.chat.platform is Platform.MATRIX], base.arrangements)
    bot = ArrangementBot(only_matrix, PostingPolicy(DuePolicy.default(), platforms=CONSOLE_ONLY))
    answer = bot.answer("admin", "/room sync --apply")
    assert not [m for m in bot.store.outbox.values() if m.kind is MessageKind.MEMBERSHIP]
    assert "every room is in step" not in answer.lower()
    assert answer.splitlines()[-1] == ("Left out: Thailand room (matrix:!th:example.org) is on matrix, which this bot "
                                       "does not run (it runs console): nothing is planned for it.")
