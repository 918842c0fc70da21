"""Membership administration as conversations: /member add, /member remove, /rooms, /room sync.

The room actions a command plans are outbox rows of kind MEMBERSHIP; `carry_out` plays the
gateway's part (every action succeeds) so that drift can be seen to close.
"""

from __future__ import annotations

import itertools

import pytest

from alerts.audit import AuditAction
from alerts.clock import ManualClock
from alerts.directory import Contact, Directory, RoomPurpose
from alerts.due import DuePolicy
from alerts.identity import ChatRef, UserRef
from alerts.membership import PlannedAction, RoomAction, belongs_in, contact_id_for, drift, rooms_for
from alerts.messages import InboundMessage, MessageKind
from handlers.dispatcher import Dispatcher
from tests.fakes import MemoryDirectory, MemoryStore, MemoryUnitOfWork
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from tests.sample_network import network_with_rooms, person
from alerts.roles import Role

THAILAND = ChatRef.parse("console:#thailand")
NETWORK = ChatRef.parse("console:#network")
MY_TH = ChatRef.parse("console:#my-th")


class Admin:
    def __init__(self) -> None:
        base = network_with_rooms()
        contacts = list(base.contacts.values()) + [person("th-boss", "TH", Role.CONTACT, Role.ADMIN)]
        from alerts.directory import Directory

        self.directory = MemoryDirectory(Directory.build(base.organisations.values(), contacts, base.rooms,
                                                         base.arrangements))
        self.store = MemoryStore()
        self.clock = ManualClock()
        counter = itertools.count(1)
        self.dispatcher = Dispatcher(
            self.directory, PostingPolicy(DuePolicy.default(), {}),
            lambda: Vocabulary(topics=("document-fraud",), organisations=frozenset(self.directory.current().organisations),
                               desks={"TH": ("immigration", "police")}),
            lambda: f"key-{next(counter)}",
        )
        self._events = itertools.count(1)

    def says(self, who: str, text: str) -> list[str]:
        before = set(self.store.outbox)
        message = InboundMessage(f"e{next(self._events)}", UserRef.parse(f"console:{who}"),
                                 ChatRef.parse(f"console:@{who}"), text, self.clock.now())
        with MemoryUnitOfWork(self.store, self.directory) as uow:
            self.dispatcher.handle(uow, message)
            uow.commit()
        return [m.text for k, m in self.store.outbox.items()
                if k not in before and str(m.destination) == f"chat:console:@{who}"]

    def actions(self) -> list[PlannedAction]:
        return [PlannedAction.from_json(m.text) for m in self.store.outbox.values() if m.kind is MessageKind.MEMBERSHIP]

    def carry_out(self) -> None:
        """Every planned action succeeds, once (the gateway's part)."""
        done = getattr(self, "_done", set())
        for action in self.actions():
            if action.key in done:
                continue
            done.add(action.key)
            members = self.store.present.setdefault(action.room, {})
            if action.action is RoomAction.INVITE:
                members[action.identity] = "joined"
            else:
                members.pop(action.identity, None)
        self._done = done

    def seen_everyone(self) -> None:
        """The bot has looked at every room: everyone the directory expects is there."""
        directory = self.directory.current()
        for room in directory.rooms:
            self.store.present[room.chat] = {u: "joined" for c in directory.contacts.values() if belongs_in(c, room)
                                             for u in c.identities if u.platform is room.chat.platform}


@pytest.fixture
def admin() -> Admin:
    return Admin()


def test_onboarding_puts_a_new_contact_in_exactly_the_right_rooms(admin: Admin) -> None:
    [answer] = admin.says("admin", "/member add console:somsak country:TH role:contact desk:police")
    assert answer.startswith("Added somsak (@somsak, Thailand, police desk) with roles contact;")
    contact = admin.directory.current().contact("somsak")
    assert contact is not None and contact.desk == "police" and contact.roles == frozenset({Role.CONTACT})
    invited = {(a.action, a.room) for a in admin.actions()}
    # Thailand's room, the network room and the Malaysia-Thailand room; not IOM's, the coordinators' or unlisted.
    assert invited == {(RoomAction.INVITE, NETWORK), (RoomAction.INVITE, THAILAND), (RoomAction.INVITE, MY_TH)}
    assert all(a.identity == UserRef.parse("console:somsak") and a.contact == "somsak" for a in admin.actions())
    kinds = [e.action for e in admin.store.audit]
    assert AuditAction.ADMIN in kinds and AuditAction.MEMBERSHIP in kinds
    planned = next(e for e in admin.store.audit if e.action is AuditAction.MEMBERSHIP)
    assert planned.detail["stage"] == "planned" and planned.detail["count"] == "3"


def test_the_new_contact_can_use_the_bot_at_once(admin: Admin) -> None:
    admin.says("admin", "/member add console:somsak country:TH role:officer")
    assert "somsak" in admin.says("somsak", "/whoami")[0]


def test_adding_twice_plans_nothing_new_once_they_are_in(admin: Admin) -> None:
    admin.says("admin", "/member add console:somsak country:TH role:contact")
    admin.carry_out()
    [answer] = admin.says("admin", "/member add console:somsak country:TH role:officer")
    assert answer.startswith("Updated") and "contact, officer" in answer and "No room to bring them into" in answer


def test_a_person_of_another_organisation_is_not_moved_silently(admin: Admin) -> None:
    [answer] = admin.says("admin", "/member add console:my-npoc country:TH role:contact")
    assert "Remove them first" in answer
    assert admin.actions() == []


def test_a_non_admin_is_refused_and_the_refusal_recorded(admin: Admin) -> None:
    for text in ("/member add console:x country:TH role:contact", "/member remove console:th-npoc", "/room sync --apply"):
        [answer] = admin.says("rso-coord", text)
        assert "needs one of these roles: admin" in answer
    refusals = [e for e in admin.store.audit if e.action is AuditAction.REFUSAL]
    assert [r.detail["command"] for r in refusals] == ["member", "member", "room"]
    assert all(r.actor == "rso-coord" for r in refusals)
    assert admin.actions() == [] and "x" not in admin.directory.current().contacts


def test_offboarding_removes_them_from_every_room_and_hands_their_items_to_the_backup(admin: Admin) -> None:
    admin.seen_everyone()
    admin.says("my-officer", "/alert to:TH tlp:amber Two travellers")
    assert any(r.delivery_to("th-npoc") for r in admin.store.items.values())
    [answer] = admin.says("admin", '/member remove console:th-npoc reason:"left the service"')
    assert "Removed" in answer and "left the service" in answer
    removed = {(a.action, a.room) for a in admin.actions()}
    # the console's rooms they are in: the console has no real rooms, so it knows; none they are not in
    assert removed == {(RoomAction.REMOVE, room) for room in (NETWORK, THAILAND, MY_TH)}
    assert "Removing them from 3 rooms:" in answer
    assert admin.directory.current().contact("th-npoc") is None
    [record] = admin.store.items.values()
    handed = record.delivery_to("th-deputy")
    assert handed is not None
    assert "handover from th-npoc" in [d.reason for d in record.route.deliveries]
    delivery = admin.store.outbox[handed.outbox_key]
    assert delivery.kind is MessageKind.DELIVERY and "Handed over to you" in delivery.text
    notices = admin.store.messages_to("direct:console:my-officer")
    assert any("handed over to Th Deputy" in m.text for m in notices)
    assert "A-2026-0001" in answer
    admin.carry_out()
    assert all(UserRef.parse("console:th-npoc") not in m for m in admin.store.present.values())


def test_drift_is_found_reported_as_a_dry_run_and_fixed(admin: Admin) -> None:
    admin.seen_everyone()
    intruder = UserRef.parse("console:mallory")
    admin.store.present[THAILAND][intruder] = "joined"
    del admin.store.present[NETWORK][UserRef.parse("console:my-npoc")]
    [listing] = admin.says("admin", "/rooms")
    assert "Thailand room · country · console · " in listing and "1 should not be there" in listing
    assert "Network room · network · console" in listing and "1 missing" in listing
    before_outbox = len(admin.actions())
    [dry] = admin.says("admin", "/room sync")
    assert dry.startswith("Dry run, nothing changed. 2 actions would be taken:")
    assert "invite my-npoc" in dry and "remove console:mallory from Thailand room" in dry
    assert len(admin.actions()) == before_outbox  # a dry run plans nothing
    [applied] = admin.says("admin", "/room sync --apply")
    assert applied.startswith("Applying 2 actions")
    admin.carry_out()
    [clean] = admin.says("admin", "/room sync")
    assert clean.startswith("Every room is in step")


def test_a_telegram_username_is_explained_not_guessed(admin: Admin) -> None:
    [answer] = admin.says("admin", "/member add @somchai_k country:TH role:contact")
    assert "Telegram username" in answer and admin.actions() == []


def test_room_rules() -> None:
    directory = network_with_rooms()
    by_chat = {r.chat: r for r in directory.rooms}
    assert {r.name for r in rooms_for(directory.contacts["rso-coord"], directory)} == {"Network room", "Coordinators"}
    assert [r.name for r in rooms_for(directory.contacts["admin"], directory)] == ["Network room", "Coordinators",
                                                                                  "Unlisted"]
    assert by_chat[ChatRef.parse("console:#unlisted")].purpose is RoomPurpose.MANAGEMENT
    d = drift(by_chat[THAILAND], directory, None)
    assert not d.known and {c for _, c in d.missing} == {"th-npoc", "th-deputy", "th-immigration"}


def test_contact_ids_for_new_accounts() -> None:
    assert contact_id_for(UserRef.parse("console:Alice"), ()) == "alice"
    assert contact_id_for(UserRef.parse("matrix:@alice:example.org"), ("alice",)) == "alice-example-org"
    assert contact_id_for(UserRef.parse("telegram:user:42"), ()) == "tg-42"
    assert contact_id_for(UserRef.parse("console:alice"), ("alice",)) == "alice-2"


def test_an_action_round_trips_and_its_key_is_stable() -> None:
    action = PlannedAction(RoomAction.INVITE, THAILAND, "Thailand room", UserRef.parse("console:x"), "x", "onboarding",
                           "op1", "admin", "console:@admin", 3)
    again = PlannedAction.from_json(action.to_json())
    assert again == action and again.key == action.key and len(action.key) <= 100


# --- display name, backup and time zone; a second contact --------------------------------------

def test_member_add_takes_a_display_name_a_backup_and_a_time_zone(admin: Admin) -> None:
    [answer] = admin.says("admin", '/member add console:somchai country:TH role:contact desk:police '
                                   'name:"Somchai P." backup:th-immigration tz:Asia/Bangkok')
    assert answer.startswith("Added Somchai P. (@somchai, Thailand, police desk) with roles contact; time zone "
                             "Asia/Bangkok; backup Th Immigration (Thailand immigration).")
    contact = admin.directory.current().contact("somchai")
    assert contact is not None and (contact.name, contact.backup, contact.timezone) == (
        "Somchai P.", "th-immigration", "Asia/Bangkok")
    [audit] = [e for e in admin.store.audit if e.detail.get("command") == "member add"]
    assert (audit.detail["name"], audit.detail["backup"], audit.detail["timezone"]) == (
        "Somchai P.", "th-immigration", "Asia/Bangkok")


def test_a_backup_may_be_named_by_account(admin: Admin) -> None:
    admin.says("admin", "/member add console:somchai country:TH role:contact desk:police backup:console:th-npoc")
    assert admin.directory.current().contacts["somchai"].backup == "th-npoc"


def test_without_a_backup_the_answer_says_what_that_means(admin: Admin) -> None:
    [answer] = admin.says("admin", "/member add console:somchai country:TH role:contact desk:police")
    assert "time zone UTC (the network's default); no backup (their open items would stay with nobody if they left" in answer


@pytest.mark.parametrize("text, expected", [
    ("tz:Bangkok", "Time zone 'Bangkok' is not valid: use an IANA zone such as Asia/Bangkok or UTC, or default "
                   "for the network's."),
    ("backup:nobody-here", "Backup nobody-here is not someone else in the directory"),
    ("backup:@ghost:example.org", "Backup @ghost:example.org is not someone else in the directory"),
    ("backup:console:somchai", "Backup console:somchai is not someone else in the directory"),
])
def test_a_bad_zone_or_an_unknown_backup_changes_nothing(admin: Admin, text: str, expected: str) -> None:
    [answer] = admin.says("admin", f"/member add console:somchai country:TH role:contact desk:police {text}")
    assert answer.startswith(expected)
    assert admin.directory.current().contact("somchai") is None and admin.actions() == []


@pytest.mark.parametrize("typed, kept", [("tz:utc", "UTC"), ("tz:asia/bangkok", "Asia/Bangkok"),
                                         ("timezone:AUSTRALIA/canberra", "Australia/Canberra")])
def test_a_zone_typed_in_any_case_is_stored_as_the_tz_database_spells_it(admin: Admin, typed: str, kept: str) -> None:
    [answer] = admin.says("admin", f"/member add console:somchai country:TH role:contact desk:police {typed}")
    assert f"time zone {kept};" in answer
    assert admin.directory.current().contacts["somchai"].timezone == kept


@pytest.mark.parametrize("odd", ["localtime", "Factory", "posixrules", "posix/Asia/Bangkok", "right/UTC"])
def test_an_odd_entry_of_the_tz_database_is_refused_and_changes_nothing(admin: Admin, odd: str) -> None:
    """The machine's own zone (localtime), the placeholder Factory and the files beside the zones load in
    zoneinfo, but name no place: a person given one would read times on a clock nobody chose."""
    [answer] = admin.says("admin", f"/member add console:somchai country:TH role:contact desk:police tz:{odd}")
    assert answer.startswith(f"Time zone '{odd}' is not valid: use an IANA zone such as Asia/Bangkok or UTC, "
                             "or default for the network's. Example: /member add")
    assert "tz:Asia/Bangkok" in answer
    assert admin.directory.current().contact("somchai") is None and admin.actions() == []


def test_an_update_keeps_what_is_not_given_and_changes_what_is(admin: Admin) -> None:
    admin.says("admin", '/member add console:th-npoc country:TH role:contact name:"Kanya S." tz:Asia/Tokyo')
    contact = admin.directory.current().contacts["th-npoc"]
    assert (contact.name, contact.timezone, contact.backup) == ("Kanya S.", "Asia/Tokyo", "th-deputy")


def test_tz_default_gives_someone_back_the_network_default(admin: Admin) -> None:
    """A zone stored for someone who never chose one (an explicit UTC, as people added without tz: were
    once stored) cannot be told from a chosen one: an admin can give them back the network's default."""
    admin.says("admin", "/member add console:th-npoc country:TH role:contact tz:UTC")
    assert admin.directory.current().contacts["th-npoc"].timezone == "UTC"
    [answer] = admin.says("admin", "/member add console:th-npoc country:TH role:contact tz:default")
    contact = admin.directory.current().contacts["th-npoc"]
    assert contact.timezone == "" and contact.backup == "th-deputy"  # none of their own; the rest kept
    assert "time zone UTC (the network's default)" in answer
    [*_, audit] = [e for e in admin.store.audit if e.detail.get("command") == "member add"]
    assert audit.detail["timezone"] == ""
    [answer] = admin.says("admin", "/member add console:somchai country:TH role:contact desk:police tz:Default")
    assert admin.directory.current().contacts["somchai"].timezone == ""  # someone new: as if none given


def test_a_contact_built_without_a_zone_has_none_of_their_own() -> None:
    """No zone given is stored as none (""), never as UTC: the network's default then applies."""
    contact = Contact("x", "X", "TH", frozenset({Role.OFFICER}), (UserRef.parse("console:x"),))
    directory = Directory.build([], [contact], default_zone="Asia/Bangkok")
    assert contact.timezone == "" and directory.zone_for(contact) == "Asia/Bangkok"


def test_a_second_national_contact_is_told_they_receive_nothing_from_the_country_and_what_would_reach_them(
        admin: Admin) -> None:
    [answer] = admin.says("admin", "/member add console:th-second country:TH role:contact")
    assert ("Note: Th Npoc (Thailand) is already the point of contact there and stays first: th-second receives "
            "nothing sent to:TH while they are, and joining rooms brings them nothing under the default routing. "
            "What would reach them: naming them (to:@th-second), a desk of their own") in answer
    assert "[[routing.rules]]" in answer
    admin.says("my-officer", "/alert to:TH tlp:amber Boat sighted")
    admin.says("my-officer", "/alert to:@th-second tlp:amber Boat sighted again")
    to_second = [m for m in admin.store.outbox.values()
                 if m.kind is MessageKind.DELIVERY and m.contact == "th-second"]
    assert [m.reference for m in to_second] == ["A-2026-0002"]  # only the item that named them


# --- /reassign ------------------------------------------------------------------------------------

@pytest.fixture
def left_with_nobody(admin: Admin) -> Admin:
    """th-immigration (no backup) received A-2026-0001 and was removed: their copy stays with nobody."""
    admin.says("my-officer", "/alert to:TH/immigration tlp:amber Two travellers, flight XX123")
    [removed] = admin.says("admin", "/member remove console:th-immigration")
    assert ("No backup to hand over to: A-2026-0001 stay with nobody; give them to someone with /reassign REF "
            "to:PERSON.") in removed
    assert any("Coordinators can reassign it (/reassign A-2026-0001 to:PERSON)." in m.text
               for m in admin.store.messages_to("direct:console:my-officer"))
    return admin


def _deliveries_to(admin: Admin, contact: str) -> list[str]:
    return [m.text for m in admin.store.outbox.values() if m.kind is MessageKind.DELIVERY and m.contact == contact]


def test_a_coordinator_reassigns_a_left_persons_copy_and_both_sides_are_told(left_with_nobody: Admin) -> None:
    admin = left_with_nobody
    [answer] = admin.says("rso-coord", "/reassign A-2026-0001 to:th-boss")
    assert answer == ("Reassigned A-2026-0001 to Th Boss (Thailand) in place of th-immigration; they and the "
                      "originator are told.")
    [copy] = _deliveries_to(admin, "th-boss")
    assert "Two travellers, flight XX123" in copy and "Reassigned to you by Rso Coord" in copy
    assert any("Rso Coord (Regional Support Office) reassigned A-2026-0001: the copy of th-immigration" in m.text
               for m in admin.store.messages_to("direct:console:my-officer"))
    assert [d.contact for d in admin.store.items["A-2026-0001"].deliveries] == ["th-immigration", "th-boss"]
    [audit] = [e for e in admin.store.audit if e.detail.get("command") == "reassign" and "to" in e.detail]
    assert (audit.detail["from"], audit.detail["to"], audit.actor) == ("th-immigration", "th-boss", "rso-coord")
    [again] = admin.says("rso-coord", "/reassign A-2026-0001 to:th-boss")
    assert again == "Th Boss (Thailand) has A-2026-0001 already: nothing to reassign."


def test_reassigning_checks_the_caveat_and_arrangements_as_if_the_originator_named_them(
        left_with_nobody: Admin) -> None:
    [answer] = left_with_nobody.says("rso-coord", "/reassign A-2026-0001 to:ca-npoc")  # an observer, no arrangement
    assert answer.startswith("Not reassigned to Ca Npoc (Canada): Malaysia has no sharing arrangement with Canada")
    assert _deliveries_to(left_with_nobody, "ca-npoc") == []


def test_only_coordinators_and_admins_reassign_and_only_copies_left_with_nobody(admin: Admin) -> None:
    admin.says("my-officer", "/alert to:TH tlp:amber Boat sighted")
    [refused] = admin.says("my-officer", "/reassign A-2026-0001 to:th-boss")
    assert "coordinator" in refused.lower() and _deliveries_to(admin, "th-boss") == []
    [nothing] = admin.says("rso-coord", "/reassign A-2026-0001 to:th-boss")
    assert nothing == "A-2026-0001 has no open copy left with someone who has left the network: nothing to reassign."
    [unknown] = admin.says("rso-coord", "/reassign A-2026-0001 to:@ghost:example.org")
    assert unknown.startswith("@ghost:example.org is not in the directory")


# --- people named by mentions (a Matrix pill, a Telegram text_mention) -------------------------------

def test_a_mention_names_the_account_it_links_to_not_the_display_name_shown(admin: Admin) -> None:
    from alerts.messages import InboundMessage, Mention

    message = InboundMessage("pill-1", UserRef.parse("console:admin"), ChatRef.parse("console:@admin"),
                             "/member add Somchai P. country:TH role:contact desk:police", admin.clock.now(),
                             mentions=(Mention("Somchai P.", UserRef.parse("matrix:@somchai:example.org")),))
    with MemoryUnitOfWork(admin.store, admin.directory) as uow:
        admin.dispatcher.handle(uow, message)
        uow.commit()
    contact = admin.directory.current().contact_for(UserRef.parse("matrix:@somchai:example.org"))
    assert contact is not None and contact.organisation == "TH"


def test_with_mentions_replaces_each_mention_once_in_order() -> None:
    from alerts.messages import Mention, with_mentions

    kanya, tg = UserRef.parse("matrix:@kanya:example.org"), UserRef.parse("telegram:user:42")
    text = "/reassign A-2026-0001 to:Kanya (Kanya said so)"
    assert with_mentions(text, (Mention("Kanya", kanya),)) == "/reassign A-2026-0001 to:@kanya:example.org (Kanya said so)"
    assert with_mentions("/member remove Farid", (Mention("Farid", tg),)) == "/member remove telegram:user:42"
    assert with_mentions("/rooms", (Mention("Nobody", kanya),)) == "/rooms"


# --- offboarding: only the rooms they may be in, with the admin's reason ----------------------------

def test_offboarding_leaves_out_matrix_rooms_they_are_known_not_to_be_in_and_carries_the_admins_reason() -> None:
    from alerts.directory import Directory, RoomPurpose
    from alerts.membership import Run, offboarding_plan
    from tests.sample_network import room

    base = network_with_rooms()
    kanya = person("kanya", "TH", Role.CONTACT, identities=("matrix:@kanya:x.org", "telegram:user:7"))
    rooms = [room("matrix:!a:x.org", "A", RoomPurpose.NETWORK, "TH"), room("matrix:!b:x.org", "B", RoomPurpose.NETWORK, "TH"),
             room("matrix:!c:x.org", "C", RoomPurpose.NETWORK, "TH"), room("telegram:-100", "D", RoomPurpose.NETWORK, "TH")]
    directory = Directory.build(base.organisations.values(), [*base.contacts.values(), kanya], rooms)
    account = UserRef.parse("matrix:@kanya:x.org")
    present = {rooms[0].chat: {account: "joined"}, rooms[1].chat: {}, rooms[3].chat: {}}  # C not seen yet
    plan = offboarding_plan(kanya, directory, Run("op-1", "admin", None), present, note="left the service")
    assert [a.room_name for a in plan.actions] == ["A", "C", "D"]  # Telegram cannot list members: tried
    assert all(a.note == "left the service" and a.total == 3 for a in plan.actions)
    assert PlannedAction.from_json(plan.actions[0].to_json()) == plan.actions[0]


def test_offboarding_on_the_console_counts_the_rooms_they_are_in_not_every_room(admin: Admin) -> None:
    """Only the Thailand room holds th-solo: 'Removing them from 1 room', and one removal planned;
    a room the bot brought them into besides (the roster records it) is one more."""
    from alerts.directory import Directory
    from tests.sample_network import room

    base = admin.directory.current()
    rooms = (room("console:#thailand", "Thailand room", RoomPurpose.COUNTRY, "TH"),
             room("console:#coordination", "Coordinators", RoomPurpose.COORDINATION, "RSO"),
             room("console:#iom", "IOM room", RoomPurpose.ORGANISATION, "IOM"))
    admin.directory.directory = Directory.build(base.organisations.values(),
                                                [*base.contacts.values(), person("th-solo", "TH", Role.CONTACT),
                                                 person("th-two", "TH", Role.CONTACT)], rooms, base.arrangements)
    [answer] = admin.says("admin", "/member remove th-solo")
    assert "Removing them from 1 room:\n  remove th-solo (console:th-solo) from Thailand room\n" in answer
    assert [(a.room, a.total) for a in admin.actions()] == [(THAILAND, 1)]
    admin.store.present[ChatRef.parse("console:#iom")] = {UserRef.parse("console:th-two"): "joined"}
    [answer] = admin.says("admin", "/member remove Th-Two")
    assert "Removing them from 2 rooms:" in answer
    assert {a.room_name for a in admin.actions() if a.contact == "th-two"} == {"Thailand room", "IOM room"}


def test_the_count_is_of_rooms_planned_on_matrix_and_telegram_not_of_actions() -> None:
    """Two Matrix accounts in one room are one room; a Matrix room known not to hold them is no
    room; a Telegram group (whose members the bot cannot list) is tried and counted."""
    from alerts.directory import Directory
    from alerts.membership import Run, offboarding_plan, onboarding_plan
    from tests.sample_network import room

    base = network_with_rooms()
    kanya = person("kanya", "TH", Role.CONTACT,
                   identities=("matrix:@kanya:x.org", "matrix:@kanya2:x.org", "telegram:user:7"))
    rooms = [room("matrix:!a:x.org", "A", RoomPurpose.NETWORK, "TH"), room("matrix:!b:x.org", "B", RoomPurpose.NETWORK, "TH"),
             room("telegram:-100", "D", RoomPurpose.NETWORK, "TH"), room("telegram:-200", "E", RoomPurpose.NETWORK, "MY")]
    directory = Directory.build(base.organisations.values(), [*base.contacts.values(), kanya], rooms)
    both = {UserRef.parse("matrix:@kanya:x.org"): "joined", UserRef.parse("matrix:@kanya2:x.org"): "joined"}
    plan = offboarding_plan(kanya, directory, Run("op-1", "admin", None), {rooms[0].chat: both, rooms[1].chat: {}})
    assert len(plan.actions) == 4 and plan.rooms == 3  # A (two accounts), D and E tried; not B
    assert onboarding_plan(kanya, directory, Run("op-2", "admin", None)).rooms == 3  # A, B, D


def test_mentions_name_a_backup_and_the_person_to_remove(admin: Admin) -> None:
    from alerts.messages import InboundMessage, Mention

    def says(text: str, *mentions: Mention) -> None:
        message = InboundMessage(f"m-{text[:20]}", UserRef.parse("console:admin"), ChatRef.parse("console:@admin"),
                                 text, admin.clock.now(), mentions=mentions)
        with MemoryUnitOfWork(admin.store, admin.directory) as uow:
            admin.dispatcher.handle(uow, message)
            uow.commit()

    deputy = Mention("Kanya", UserRef.parse("console:th-deputy"))
    says("/member add console:somchai country:TH role:contact desk:police backup:Kanya", deputy)
    assert admin.directory.current().contacts["somchai"].backup == "th-deputy"
    says('/member remove Somchai P. reason:"left"', Mention("Somchai P.", UserRef.parse("console:somchai")))
    assert admin.directory.current().contact("somchai") is None


def test_an_alert_to_a_mentioned_person_goes_to_them(admin: Admin) -> None:
    from alerts.messages import InboundMessage, Mention

    message = InboundMessage("to-pill", UserRef.parse("console:my-officer"), ChatRef.parse("console:@my-officer"),
                             "/alert to:Somchai tlp:red Boat leaves tonight", admin.clock.now(),
                             mentions=(Mention("Somchai", UserRef.parse("console:th-npoc")),))
    with MemoryUnitOfWork(admin.store, admin.directory) as uow:
        admin.dispatcher.handle(uow, message)
        uow.commit()
    assert _deliveries_to(admin, "th-npoc") and "Boat leaves tonight" in _deliveries_to(admin, "th-npoc")[0]
    assert [str(s) for s in admin.store.items["A-2026-0001"].item.draft.recipients] == ["console:th-npoc"]


def test_to_takes_an_account_and_it_is_stored_and_read_back_as_written() -> None:
    from handlers.values import parse_selector
    from handlers.vocabulary import Vocabulary
    from storage.drafts import parse_selector as read_stored

    for typed, person in (("@somchai:example.org", "matrix:@somchai:example.org"),
                          ("telegram:user:42", "telegram:user:42"), ("@th-npoc", "th-npoc")):
        selector = parse_selector(typed, Vocabulary())
        assert selector.person == person and read_stored(str(selector)) == selector
        assert parse_selector(str(selector), Vocabulary()) == selector


def _sent(admin: Admin, contact: str) -> dict[str, str]:
    """Each delivery to `contact` sent, with a platform message id: {message id: item reference}."""
    sent: dict[str, str] = {}
    with MemoryUnitOfWork(admin.store, admin.directory) as uow:
        for record in list(admin.store.items.values()):
            delivery = record.delivery_to(contact)
            if delivery is not None:
                message_id = f"m-{record.item.reference}"
                uow.items.mark_delivery(delivery.outbox_key, "sent", admin.clock.now(), message_id)
                sent[message_id] = str(record.item.reference)
        uow.commit()
    return sent


def test_offboarding_takes_back_exactly_the_amber_and_above_copies_in_their_direct_chat(admin: Admin) -> None:
    from alerts.removal import OFFBOARDED, Removal

    admin.says("my-officer", "/alert to:TH tlp:amber Two travellers")
    admin.says("my-officer", "/alert to:TH tlp:green A public notice")
    admin.says("my-officer", "/alert to:TH tlp:amber+strict One named traveller")
    admin.says("my-officer", "/alert to:TH tlp:clear Open source report")
    sent = _sent(admin, "th-npoc")
    assert len(sent) == 4
    [answer] = admin.says("admin", "/member remove console:th-npoc")
    removals = [Removal.from_json(m.text) for m in admin.store.outbox.values() if m.kind is MessageKind.REMOVAL]
    assert {r.reference for r in removals} == {"A-2026-0001", "A-2026-0003"}
    assert all(r.purpose == OFFBOARDED and r.direct_with == UserRef.parse("console:th-npoc") for r in removals)
    assert {r.message_id for r in removals} == {"m-A-2026-0001", "m-A-2026-0003"}
    assert "Taking back 2 copies of TLP:AMBER and above from their direct chats" in answer
    assert "TLP:GREEN and TLP:CLEAR items stay" in answer
    assert "Nothing can take back what they already forwarded, copied or screenshotted." in answer
    removed = next(e for e in admin.store.audit if e.detail.get("command") == "member remove")
    assert removed.detail["copies_taken_back"] == "2"


def _sent_all(admin: Admin, prefix: str) -> None:
    """Every copy queued so far sent (its outbox row and its delivery), known by `prefix` and its key."""
    with MemoryUnitOfWork(admin.store, admin.directory) as uow:
        for key, message in list(admin.store.outbox.items()):
            if message.kind is MessageKind.DELIVERY and admin.store.outbox_state.get(key) is None:
                uow.items.mark_delivery(key, "sent", admin.clock.now(), f"{prefix}-{key}")
        uow.commit()
    for key, message in admin.store.outbox.items():  # as the worker leaves them (Bot.worker_sends)
        if message.kind is MessageKind.DELIVERY and admin.store.outbox_state.setdefault(key, "sent") == "sent":
            admin.store.outbox_sent.setdefault(key, (f"{prefix}-{key}", admin.clock.now()))


def _offboarded_removals(admin: Admin, who: str) -> set[str]:
    from alerts.removal import Removal

    admin.says("admin", f"/member remove console:{who}")
    return {Removal.from_json(m.text).message_id for m in admin.store.outbox.values() if m.kind is MessageKind.REMOVAL}


def test_offboarding_takes_back_the_copies_they_held_for_someone_away_not_those_held_for_them(admin: Admin) -> None:
    """A delegate holds an away colleague's copies in their own direct chat: removed from the network,
    they must not keep those. A copy sent to the leaving person's delegate stays with the delegate."""
    admin.says("th-deputy", "/away until:2026-12-24 backup:@th-immigration on leave")
    admin.says("my-officer", "/alert to:@th-deputy tlp:amber Two travellers")
    _sent_all(admin, "m")
    [held] = [k for k, m in admin.store.outbox.items() if m.kind is MessageKind.DELIVERY]
    assert str(admin.store.outbox[held].destination) == "direct:console:th-immigration"
    assert _offboarded_removals(admin, "th-immigration") == {f"m-{held}"}
    admin2 = Admin()
    admin2.says("th-deputy", "/away until:2026-12-24 backup:@th-immigration on leave")
    admin2.says("my-officer", "/alert to:@th-deputy tlp:amber Two travellers")
    _sent_all(admin2, "m")
    assert _offboarded_removals(admin2, "th-deputy") == set()  # in th-immigration's chat, who stays


def test_offboarding_takes_back_their_copies_of_earlier_revisions_by_each_revision_s_caveat(admin: Admin) -> None:
    """A copy of an earlier revision stays in their chat (edited to say it is superseded, or as sent where
    the edit failed): taken back too, by the TLP it was sent under, not the current one's."""
    admin.says("my-officer", "/alert to:TH tlp:amber Two travellers")
    _sent_all(admin, "rev1")
    admin.says("my-officer", "/correct A-2026-0001 tlp:green Two travellers, now public")
    admin.says("my-officer", "/alert to:TH tlp:amber Boat sighted")
    _sent_all(admin, "rev2")
    admin.says("my-officer", "/correct A-2026-0002 Boat sighted, two on board")
    _sent_all(admin, "rev3")
    keys = {k for k, m in admin.store.outbox.items() if m.kind is MessageKind.DELIVERY and m.contact == "th-npoc"}
    green = {k for k in keys if admin.store.outbox[k].text.startswith("[TLP:GREEN]")}
    assert len(keys) == 4 and len(green) == 1
    removed = _offboarded_removals(admin, "th-npoc")
    # The AMBER rev 1 of the first item (its rev 2, GREEN, stays), and both revisions of the second.
    assert removed == {admin.store.outbox_sent[k][0] for k in keys - green}


def test_offboarding_someone_who_received_nothing_amber_plans_no_removal(admin: Admin) -> None:
    admin.says("my-officer", "/alert to:TH tlp:green A public notice")
    _sent(admin, "th-npoc")
    [answer] = admin.says("admin", "/member remove console:th-npoc")
    assert not [m for m in admin.store.outbox.values() if m.kind is MessageKind.REMOVAL]
    assert "Taking back" not in answer and "screenshotted" not in answer


def test_offboarding_while_matrix_is_not_run_plans_nothing_there_and_says_what_stays() -> None:
    """th-npoc was sent an AMBER copy on Matrix; the bot now runs the console alone. A removal from
    their Matrix direct chat, or the bot leaving it, would wait in the outbox for ever: none is
    planned, and the answer says the copy stays."""
    from dataclasses import replace as replaced

    from alerts.directory import Directory
    from alerts.identity import Platform

    admin = Admin()
    base = admin.directory.current()
    th = replaced(base.contacts["th-npoc"], identities=(UserRef.parse("matrix:@th:x.org"),
                                                        UserRef.parse("console:th-npoc")))
    admin.directory.directory = Directory.build(base.organisations.values(),
                                                [th if c.id == "th-npoc" else c for c in base.contacts.values()],
                                                base.rooms, base.arrangements)
    running = {Platform.CONSOLE, Platform.MATRIX}
    admin.dispatcher._policy = PostingPolicy(DuePolicy.default(), {}, platforms=running)
    admin.says("my-officer", "/alert to:TH tlp:amber Two travellers")
    _sent(admin, "th-npoc")
    assert any("matrix" in str(m.destination) for m in admin.store.outbox.values() if m.kind is MessageKind.DELIVERY)
    running.discard(Platform.MATRIX)
    [answer] = admin.says("admin", "/member remove console:th-npoc")
    assert [m for m in admin.store.outbox.values() if m.kind is MessageKind.REMOVAL] == []
    assert ("1 copy of TLP:AMBER and above in their Matrix direct chat stays: it is on matrix, which this bot does "
            "not run (it runs console).") in answer
    assert "leaves their Matrix direct chat" not in answer and "Taking back" not in answer
    removed = next(e for e in admin.store.audit if e.detail.get("command") == "member remove")
    assert removed.detail["copies_not_run"] == "1"
