"""Membership administration on the real Synapse and the fake Telegram Bot API, in one runtime: the
admin works in the Admins room on Matrix; the people are real nio clients (tests/matrix/membership_world.py
says who is where). The module's tests run in order on one network, as a day of administration would.
"""

from __future__ import annotations

import re

import pytest
import pytest_asyncio
from sqlalchemy import func, select

from alerts.messages import MessageKind
from bot.connectors.matrix.sansio.rooms import MEGOLM
from storage.tables import outbox
from tests.matrix.membership_world import MembershipWorld, wait_until
from tests.matrix.synapse import Synapse
from tests.telegram.fake_bot_state import Chat
from tests.telegram.support import NETWORK_GROUP, TH_GROUP, TH_NPOC

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

REF = re.compile(r"\b([AR]-\d{4}-\d{4})\b")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory):
    monkeypatch = pytest.MonkeyPatch()
    w = MembershipWorld(synapse, tmp_path_factory.mktemp("membership"))
    try:
        await w.start(monkeypatch)
        yield w
    finally:
        await w.close()
        monkeypatch.undo()


def membership_rows(world: MembershipWorld) -> int:
    with world.runtime.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(outbox)
                            .where(outbox.c.kind == MessageKind.MEMBERSHIP.value)).scalar_one()


def telegram_calls(world: MembershipWorld, method: str, chat: Chat) -> list[str]:
    return [r.method for r in world.telegram.requests if r.method == method and r.status == 200
            and r.params.get("chat_id") == chat.id and r.params.get("user_id") == TH_NPOC.id]


async def test_at_start_the_bot_names_the_room_where_it_lacks_power(world: MembershipWorld) -> None:
    (notice,) = await world.admin.wait_for(
        lambda: [b for b in world.bot_said(world.admin, "Admins") if "Matrix power check" in b],
        what="the power check in the Admins room")
    assert "the bot lacks what it needs in 1 registered room" in notice
    assert f"Malaysia (matrix:{world.rooms['Malaysia']}): cannot remove people (its level 0; needed kick 50)" in notice
    assert "Network" not in notice and "Thailand" not in notice
    (check,) = [e for e in world.audit() if (e.detail or {}).get("event") == "power-check"]
    assert check.action == "config" and check.detail["serious"] == "true" and "Malaysia" in check.detail["finding"]


async def test_a_non_admins_admin_command_is_refused_and_recorded(world: MembershipWorld) -> None:
    before = membership_rows(world)
    answer = await world.says(world.aminah, "Network", "!room sync --apply", expect="needs one of these roles")
    assert answer.startswith("!room needs one of these roles: admin. Yours: contact, officer.")  # as typed on Matrix
    refusals = [e for e in world.audit() if e.action == "refusal" and (e.detail or {}).get("command") == "room"]
    assert len(refusals) == 1
    assert membership_rows(world) == before


async def test_onboarding_invites_a_new_contact_into_exactly_their_rooms(world: MembershipWorld) -> None:
    niran, rooms = world.niran, world.rooms
    answer = await world.says(world.admin, "Admins", f"!member add matrix:{niran.user_id} country:TH role:contact "
                                                     "desk:immigration", expect="Added")
    assert answer.startswith("Added niran-m (@niran-m, Thailand, immigration desk) with roles contact;")
    assert "Bringing them into 2 rooms:" in answer
    assert "Not placed in Thailand (Telegram): they have no telegram account in the directory." in answer
    await niran.wait_for(lambda: len(niran.invites) >= 2, what="two invitations")
    assert set(niran.invites) == {rooms["Network"], rooms["Thailand"]}  # not Malaysia, not Admins
    assert {i["sender"] for i in niran.invites.values()} == {world.bot}
    for room in ("Network", "Thailand"):
        await niran.join(rooms[room])
    for room in ("Network", "Thailand"):
        await wait_until(lambda r=room: (world.roster(f"matrix:{rooms[r]}") or {}).get(f"matrix:{niran.user_id}")
                         == "joined", f"the bot to see Niran joined in {room}")
    await world.admin.wait_for(lambda: [b for b in world.bot_said(world.admin, "Admins") if b.startswith(
        "Finished onboarding (2 room actions): 2 done, 2 of them invitations still to be accepted.")],
        what="the end of the onboarding run")
    listing = await world.says(world.admin, "Admins", "!rooms", expect="registered rooms")
    assert "• Network · network · matrix · 5 members (expected 5) · in step" in listing
    assert "• Thailand · country · matrix · 3 members (expected 3) · in step" in listing
    assert "• Malaysia · country · matrix · 1 member (expected 1) · in step" in listing


async def test_drift_is_found_by_a_dry_run_which_changes_nothing_and_fixed_by_apply(world: MembershipWorld) -> None:
    network, mallory = world.rooms["Network"], world.mallory
    await world.admin.invite(network, mallory.user_id)
    await mallory.wait_for(lambda: network in mallory.invites, what="Mallory's invite")
    await mallory.join(network)
    await wait_until(lambda: f"matrix:{mallory.user_id}" in (world.roster(f"matrix:{network}") or {}),
                     "the bot to see Mallory in the network room")
    before = membership_rows(world)
    dry = await world.says(world.admin, "Admins", "!room sync", expect="Dry run")
    assert f"Network (matrix:{network}):\n  should not be there: matrix:{mallory.user_id}" in dry
    assert f"remove matrix:{mallory.user_id} from Network" in dry
    assert membership_rows(world) == before
    assert world.membership_in(mallory, "Network") == "joined"

    applied = await world.says(world.admin, "Admins", "!room sync --apply", expect="Applying")
    assert f"remove matrix:{mallory.user_id} from Network" in applied
    await world.admin.wait_for(lambda: mallory.user_id not in world.admin.client.rooms[network].users,
                               what="Mallory out of the network room")
    kicks = [e.source for r, e in world.admin.events if r == network and e.source.get("state_key") == mallory.user_id
             and e.source["content"].get("membership") == "leave"]
    assert kicks[-1]["sender"] == world.bot and kicks[-1]["content"].get("reason") == "room sync"
    await wait_until(lambda: f"matrix:{mallory.user_id}" not in (world.roster(f"matrix:{network}") or {}),
                     "Mallory gone from the roster")
    done = [e for e in world.audit() if e.action == "membership" and (e.detail or {}).get("stage") == "done"
            and (e.detail or {}).get("identity") == f"matrix:{mallory.user_id}"]
    assert [d.detail["action"] for d in done] == ["remove"]


async def test_offboarding_removes_them_everywhere_on_both_platforms_and_hands_over_their_items(
        world: MembershipWorld) -> None:
    somchai, rooms = world.somchai, world.rooms
    receipt = await world.says(world.aminah, "Network", "!alert to:TH tlp:amber topic:document-fraud grade:B2\n"
                                                        "Altered passports on flight XX123.", expect=" accepted (")
    reference = REF.search(receipt).group(1)
    await wait_until(lambda: [s for s in world.telegram.sent_to(TH_NPOC.id) if reference in s.text],
                     "the alert in Somchai's Telegram chat")

    kanya_invites = set(world.kanya.invites)
    answer = await world.says(world.admin, "Admins", f'!member remove matrix:{somchai.user_id} '
                                                     'reason:"left the service"', expect="Removed")
    assert answer.startswith("Removed ") and "(left the service)" in answer
    # Only the rooms they were really in: not Admins or Malaysia on Matrix, where the bot sees they are not
    # (Telegram cannot list a group's members: both groups are tried).
    assert "Removing them from 4 rooms:" in answer
    assert "Admins" not in answer.split("Removing them", 1)[1] and "from Malaysia" not in answer
    assert "Handed 1 open item to" in answer and reference in answer

    for room, watcher in (("Network", world.admin), ("Thailand", world.kanya)):
        await watcher.wait_for(lambda r=rooms[room], w=watcher: somchai.user_id not in w.client.rooms[r].users,
                               what=f"Somchai out of {room}")
    for group in (NETWORK_GROUP, TH_GROUP):
        await wait_until(lambda g=group: telegram_calls(world, "unbanChatMember", g), f"the unban in {group.title}")
        assert telegram_calls(world, "banChatMember", group) == ["banChatMember"]
    assert world.telegram.world.banned == set()  # free to be invited again one day
    await world.admin.wait_for(lambda: [b for b in world.bot_said(world.admin, "Admins")
                                        if b.startswith("Finished offboarding (4 room actions): 4 done.")],
                               what="the end of the offboarding run")

    # The kick carries the admin's reason, which Element shows Somchai.
    kicks = [e.source for r, e in world.admin.events if r == rooms["Network"]
             and e.source.get("state_key") == somchai.user_id and e.source.get("content", {}).get("membership") == "leave"]
    assert kicks and kicks[-1]["sender"] == world.bot and kicks[-1]["content"].get("reason") == "left the service"

    # Kanya, Somchai's backup, has the alert now, in her direct chat with the bot.
    assert world.delivery_state(reference, "th-deputy") is not None
    (direct,) = await world.kanya.wait_for(lambda: set(world.kanya.invites) - kanya_invites, what="a direct chat")
    await world.kanya.join(direct)
    await world.kanya.wait_for(lambda: [b for b in world.bot_said(world.kanya, direct) if reference in b],
                               what="the handed-over alert")


async def test_a_change_of_encryption_or_power_levels_is_told_to_the_admins(world: MembershipWorld) -> None:
    network, admin = world.rooms["Network"], world.admin
    await admin.client.room_put_state(network, "m.room.encryption", {"algorithm": MEGOLM})
    (note,) = await admin.wait_for(lambda: [b for b in world.bot_said(admin, "Admins") if "Encryption was turned on" in b],
                                   what="the note about encryption")
    assert note == (f"Room safety note · Network (matrix:{network}):\n"
                    f"Encryption was turned on in Network by {admin.user_id} ({MEGOLM}).")

    levels = await admin.client.room_get_state_event(network, "m.room.power_levels")
    content = dict(levels.content)
    content["users"] = {**content["users"], world.bot: 0}
    await admin.client.room_put_state(network, "m.room.power_levels", content)
    (warning,) = await admin.wait_for(lambda: [b for b in world.bot_said(admin, "Admins") if "lost power" in b],
                                      what="the warning about the bot's power")
    assert warning.startswith(f"⚠ Room safety warning · Network (matrix:{network}):\n"
                              f"The bot lost power in Network (power levels changed by {admin.user_id}): "
                              "it can no longer remove people there.")

    content["users"] = {**content["users"], world.bot: 50}
    await admin.client.room_put_state(network, "m.room.power_levels", content)
    await admin.wait_for(lambda: [b for b in world.bot_said(admin, "Admins")
                                  if "The bot has the power it needs in Network again" in b], what="the all-clear")
    changes = [e.detail for e in world.audit() if (e.detail or {}).get("event") == "room-safety-change"]
    assert [(c["serious"], c["finding"].split(" in Network")[0]) for c in changes] == [
        ("false", "Encryption was turned on"), ("true", "The bot lost power"), ("false", "The bot has the power it needs")]


def room_in_directory(world: MembershipWorld, name: str):  # noqa: ANN201 - alerts.directory.Room
    from alerts.identity import ChatRef
    return world.runtime.directory.current().room(ChatRef.parse(f"matrix:{world.rooms[name]}"))


async def test_routing_knows_which_rooms_are_encrypted_as_the_bot_last_saw_them(world: MembershipWorld) -> None:
    # Thailand was made encrypted; Network was encrypted by the test before; Malaysia never was.
    await wait_until(lambda: room_in_directory(world, "Network").encrypted, "Network known as encrypted")
    assert room_in_directory(world, "Thailand").encrypted
    assert not room_in_directory(world, "Malaysia").encrypted


async def test_a_red_alert_typed_in_a_room_is_redacted_and_the_room_and_officer_told(world: MembershipWorld) -> None:
    from nio import RedactionEvent

    network, kanya = world.rooms["Network"], world.kanya
    typed = await kanya.say(network, "/alert to:@my-officer tlp:red Informant says the boat leaves tonight")
    told = await kanya.wait_for(lambda: [b for b in world.bot_said(kanya, "Network") if "was removed from this chat" in b],
                                what="the room told of the removal")
    assert told == ["A message by Kanya (Thailand) was removed from this chat: it carried a TLP:RED alert, and "
                    "TLP:RED goes only to direct chats with the people named."]
    await kanya.wait_for(lambda: [e for _, e in kanya.events if isinstance(e, RedactionEvent) and e.redacts == typed],
                         what="the redaction")
    await kanya.wait_for(lambda: [b for _, e in kanya.messages(sender=world.bot) if (b := e.body)
                                  and "Your TLP:RED alert was removed from Network" in b], what="the officer told")
    in_room = world.bot_said(kanya, "Network")
    assert any("answered in your direct chat" in b for b in in_room)
    assert not any("Informant" in b or "Aminah" in b for b in in_room)


async def test_where_the_bot_may_not_redact_the_room_and_officer_are_warned(world: MembershipWorld) -> None:
    aminah = world.aminah  # the bot is at level 0 in Malaysia: it may post, not redact others
    await aminah.say(world.rooms["Malaysia"], "/alert to:@th-deputy tlp:red Informant says the boat leaves tonight")
    (warning,) = await aminah.wait_for(lambda: [b for b in world.bot_said(aminah, "Malaysia") if "cannot remove it" in b],
                                       what="the room warned")
    assert warning == ("⚠ A message by Aminah (Malaysia) in this chat carries a TLP:RED alert, which goes only to "
                       "direct chats with the people named. The bot cannot remove it (it lacks the power to remove "
                       "others' messages there): Aminah (Malaysia) or a moderator, please delete it now, and do not "
                       "pass it on.")
    await wait_until(lambda: [e for e in world.audit() if (e.detail or {}).get("event") == "message-kept"],
                     "the audit entry")


async def test_a_person_named_by_a_pill_is_read_as_the_account_it_links_to(world: MembershipWorld) -> None:
    """Element writes a mention as a pill: the plain body holds the display name, the user id is only in
    formatted_body's matrix.to link."""
    mallory = world.mallory
    before = len(world.bot_said(world.admin, "Admins"))
    await world.admin.send(world.rooms["Admins"], {
        "msgtype": "m.text", "body": "!member add Mallory M. country:MY role:officer",
        "format": "org.matrix.custom.html",
        "formatted_body": f'!member add <a href="https://matrix.to/#/{mallory.user_id}">Mallory M.</a> '
                          "country:MY role:officer"})
    (answer,) = await world.admin.wait_for(
        lambda: [b for b in world.bot_said(world.admin, "Admins")[before:] if "mallory-m" in b or "not valid" in b],
        what="the answer to the pill")
    assert answer.startswith("Added mallory-m (@mallory-m, Malaysia) with roles officer;"), answer
    contact = world.runtime.directory.current().contact(f"matrix:{mallory.user_id}")
    assert contact is not None and contact.organisation == "MY"


async def test_offboarding_redacts_their_amber_copy_keeps_the_green_one_and_the_bot_leaves_their_direct_chat(
        world: MembershipWorld) -> None:
    from nio import RedactionEvent

    kanya = world.kanya
    refs = []
    for tlp, words in (("amber", "Offboard-amber altered passports"), ("green", "Offboard-green visa notice")):
        receipt = await world.says(world.aminah, "Network", f"!alert to:@th-deputy tlp:{tlp} topic:document-fraud "
                                                            f"grade:B2\n{words}", expect=" accepted (")
        refs.append(REF.search(receipt).group(1))

    def copies() -> dict[str, tuple[str, str]]:  # reference -> (direct chat, event id)
        return {ref: (room, e.event_id) for room, e in kanya.messages(sender=world.bot)
                for ref in refs if ref in (e.body or "") and "Offboard-" in (e.body or "")}

    def join_invites() -> bool:
        return len(copies()) == 2 or bool(set(kanya.invites) - set(kanya.client.rooms))

    while len(copies()) < 2:  # her direct chat, joined already or offered now
        await kanya.wait_for(join_invites, what="both copies or a direct chat")
        for room in set(kanya.invites) - set(kanya.client.rooms):
            await kanya.join(room)
    (amber_room, amber_event), (green_room, green_event) = copies()[refs[0]], copies()[refs[1]]
    assert amber_room == green_room
    await wait_until(lambda: world.delivery_state(refs[0], "th-deputy") in ("sent", "acknowledged")
                     and world.delivery_state(refs[1], "th-deputy") in ("sent", "acknowledged"), "both recorded")

    answer = await world.says(world.admin, "Admins", f"!member remove matrix:{kanya.user_id}", expect="Removed")
    # Her AMBER copy, and what earlier tests sent her if they ran: the AMBER alert handed over when
    # Somchai left, Aminah's RED alert.
    assert re.search(r"Taking back (1 copy|[23] copies) of TLP:AMBER and above from their direct chats", answer), answer
    assert "Nothing can take back what they already forwarded, copied or screenshotted." in answer
    assert "The bot leaves their Matrix direct chat after that." in answer

    await kanya.wait_for(lambda: [e for r, e in kanya.events if isinstance(e, RedactionEvent) and e.redacts == amber_event],
                         what="the AMBER copy redacted")
    await kanya.wait_for(lambda: [e for r, e in kanya.events if r == amber_room and e.source.get("state_key") == world.bot
                                  and e.source.get("content", {}).get("membership") == "leave"],
                         what="the bot leaving her direct chat")
    assert not [e for _, e in kanya.events if isinstance(e, RedactionEvent) and e.redacts == green_event]
    await wait_until(lambda: {(e.detail or {}).get("event") for e in world.audit()
                              if (e.detail or {}).get("why") in ("offboarded", "leave-direct")}
                     == {"message-removed", "direct-chat-left"}, "the audit entries")
