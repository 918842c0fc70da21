"""Membership administration on Telegram, against the fake Bot API server: onboarding sends each
new member, directly, an invite link that admits only them (join requests approved for them alone),
offboarding revokes their unused links and bans then unbans in every group, and open items go to
the backup. The admin works from the console, as rso-admin.

The fake server's getChatMember says "member" for anyone not banned; here it is given a memory of
who joined (JOINED), as Telegram has, so that invitations are only sent to people not yet there.
"""

from __future__ import annotations

import asyncio
import io
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, AsyncIterator

from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage
from bot.runtime.app import add_receiver, build_runtime, vocabulary_for
from bot.connectors.telegram import telegram_connector_for
from bot.connectors.telegram.membership import TelegramRoomAdmin
from tests.story_clock import StoryClock
from tests.telegram import fake_bot_methods
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.fake_bot_state import Chat, User
from tests.telegram.support import (NETWORK_GROUP, OFFICER, TH_GROUP, TH_NPOC, TOKEN_ENV, eventually, relaxed,
                                    settings_for)

NEWCOMER = User(301, "Niran")
FORWARDED_TO = User(303, "Eve")  # someone the newcomer's link was passed on to
SILENT = User(302, "Kwan")  # never opened a chat with the bot


def remember_joins(fake: FakeBotApi, monkeypatch, joined: set[tuple[int, int]]) -> None:  # noqa: ANN001
    async def get_chat_member(fake: FakeBotApi, params: dict[str, Any]) -> dict[str, Any]:
        key = (params.get("chat_id"), params.get("user_id"))
        status = "kicked" if key in fake.world.banned else "member" if key in joined else "left"
        member: dict[str, Any] = {"status": status, "user": {"id": key[1], "is_bot": False, "first_name": "M"}}
        if status == "kicked":
            member["until_date"] = 0
        return member

    monkeypatch.setitem(fake_bot_methods.METHODS, "getChatMember", get_chat_member)


class Admin:
    def __init__(self, runtime, out: io.StringIO) -> None:  # noqa: ANN001
        self.runtime = runtime
        self.out = out
        self._n = 0

    async def says(self, text: str, who: str = "rso-admin") -> str:
        self._n += 1
        start = len(self.out.getvalue())
        await self.runtime.submit(InboundMessage(f"admin-{self._n}", UserRef.parse(f"console:{who}"),
                                                 ChatRef.parse(f"console:@{who}"), text, self.runtime.clock.now()))
        return self.out.getvalue()[start:]

    def printed(self) -> str:
        return self.out.getvalue()


@asynccontextmanager
async def bot_with_membership(tmp_path, fake: FakeBotApi, monkeypatch, clock=None) -> AsyncIterator[Admin]:  # noqa: ANN001
    monkeypatch.setenv(TOKEN_ENV, fake.token)
    settings = settings_for(tmp_path, fake.base_url)
    out = io.StringIO()
    runtime = build_runtime(settings, out=out, notice=io.StringIO(), clock=clock or StoryClock())
    connector = telegram_connector_for(runtime, vocabulary_for(settings), limiter=relaxed(fake), poll_timeout=1,
                                       request_timeout=2.0)
    add_receiver(runtime, connector)
    runtime.room_actions.add(TelegramRoomAdmin.for_connector(connector))
    # The runtime's loops without serve(): serve() waits for a signal once a receiver runs.
    stop = asyncio.Event()
    await runtime.settle()
    tasks = [asyncio.create_task(runtime.worker.run(stop, idle=0.2)), asyncio.create_task(runtime.run_inbox(stop, idle=0.2))]
    try:
        await connector.start(runtime.ingest, None)
        await eventually(lambda: connector.connected, "the connector to start")
        yield Admin(runtime, out)
    finally:
        stop.set()
        await connector.stop()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=30)
        await runtime.close()


def calls(fake: FakeBotApi, method: str) -> list[dict[str, Any]]:
    return [r.params for r in fake.requests if r.method == method and r.status == 200]


async def test_onboarding_sends_a_single_use_link_for_each_group_they_belong_in(tmp_path, fake, monkeypatch) -> None:
    fake.world.chat(Chat(NEWCOMER.id, "private", NEWCOMER.first_name))
    remember_joins(fake, monkeypatch, joined=set())
    async with bot_with_membership(tmp_path, fake, monkeypatch) as admin:
        answer = await admin.says("/member add telegram:user:301 country:TH role:contact desk:police")
        assert "Added Telegram user 301 (@tg-301, Thailand, police desk)" in answer
        await eventually(lambda: len(fake.sent_to(NEWCOMER.id)) == 2, "two invitations")
        links = calls(fake, "createChatInviteLink")
        assert sorted(p["chat_id"] for p in links) == sorted([NETWORK_GROUP.id, TH_GROUP.id])
        # A link that asks for approval (admitting only the person it is for), never a bare member_limit.
        assert all(str(p["creates_join_request"]).lower() == "true" and "member_limit" not in p and "expire_date" in p
                   for p in links)
        texts = [s.text for s in fake.sent_to(NEWCOMER.id)]
        assert any("Thailand desk" in t and "https://t.me/+fake4001" in t for t in texts)
        assert all(s.protect_content for s in fake.sent_to(NEWCOMER.id))
        # Not placed in the console rooms (no console account), and the admin is told it all went out.
        assert "they have no console account" in answer
        await eventually(lambda: "Finished onboarding (2 room actions): 2 done, 2 of them invitations" in admin.printed(),
                         "the end of the run")


async def test_someone_already_in_a_group_gets_no_link_and_a_closed_chat_is_told_to_the_admin(
        tmp_path, fake, monkeypatch) -> None:  # noqa: ANN001
    remember_joins(fake, monkeypatch, joined={(NETWORK_GROUP.id, SILENT.id)})
    async with bot_with_membership(tmp_path, fake, monkeypatch) as admin:
        await admin.says("/member add telegram:user:302 country:TH role:officer")
        await eventually(lambda: "Finished onboarding" in admin.printed(), "the end of the run")
        assert [p["chat_id"] for p in calls(fake, "createChatInviteLink")] == [TH_GROUP.id]
        assert "Could not invite tg-302 (telegram:user:302) to Thailand desk" in admin.printed()
        assert "they must open a chat with the bot first" in admin.printed()
        assert "1 done" in admin.printed() and "1 failed" in admin.printed()


async def test_offboarding_bans_then_unbans_in_every_group_and_hands_items_to_the_backup(
        tmp_path, fake, monkeypatch) -> None:  # noqa: ANN001
    remember_joins(fake, monkeypatch, joined={(NETWORK_GROUP.id, TH_NPOC.id), (TH_GROUP.id, TH_NPOC.id)})
    async with bot_with_membership(tmp_path, fake, monkeypatch) as admin:
        fake.says(OFFICER, "/alert to:TH tlp:amber Two travellers, flight XX123")
        await eventually(lambda: fake.sent_to(TH_NPOC.id), "the delivery to Thailand")
        answer = await admin.says('/member remove telegram:user:201 reason:"left the service"')
        assert "Removed National point of contact (Thailand) (@th-npoc)" in answer
        await eventually(lambda: len(calls(fake, "unbanChatMember")) == 2, "the removals")
        for group in (NETWORK_GROUP, TH_GROUP):
            order = [(r.method, r.params.get("chat_id")) for r in fake.requests
                     if r.method in ("banChatMember", "unbanChatMember") and r.params.get("chat_id") == group.id]
            assert order == [("banChatMember", group.id), ("unbanChatMember", group.id)]
        assert fake.world.banned == set()  # free to be invited again
        # th-npoc's backup is th-immigration (console): the same item, handed over, and the originator told.
        await eventually(lambda: "Handed over to you from National point of contact (Thailand)" in admin.printed(),
                         "the handover")
        await eventually(lambda: any("was handed over to Immigration desk" in s.text for s in fake.sent_to(OFFICER.id)),
                         "the notice to the originator")
        await eventually(lambda: "Finished offboarding" in admin.printed(), "the end of the run")
        refused = await admin.says("/rooms", who="th-npoc")
        assert "not in this network's directory" in refused


def links_for(fake: FakeBotApi, chat: Chat) -> list[str]:
    return [link for link, made in fake.world.invite_links.items() if made.chat_id == chat.id]


async def test_an_onboarding_link_admits_the_person_it_was_made_for_and_nobody_else(
        tmp_path, fake, monkeypatch) -> None:  # noqa: ANN001
    fake.world.chat(Chat(NEWCOMER.id, "private", NEWCOMER.first_name))
    remember_joins(fake, monkeypatch, joined=set())
    async with bot_with_membership(tmp_path, fake, monkeypatch) as admin:
        await admin.says("/member add telegram:user:301 country:TH role:contact desk:police")
        await eventually(lambda: len(fake.sent_to(NEWCOMER.id)) == 2, "two invitations")
        [link] = links_for(fake, TH_GROUP)
        assert link in (admin.runtime.cursor("telegram.invite_links") or "")  # kept in the database
        assert link in fake.sent_to(NEWCOMER.id)[0].text + fake.sent_to(NEWCOMER.id)[1].text
        assert fake.request_to_join(FORWARDED_TO, link) is not None
        await eventually(lambda: (TH_GROUP.id, FORWARDED_TO.id) in fake.world.declined, "the stranger declined")
        assert not fake.world.invite_links[link].is_revoked  # still good for the person it was made for
        assert fake.request_to_join(NEWCOMER, link) is not None
        await eventually(lambda: (TH_GROUP.id, NEWCOMER.id) in fake.world.joined, "the newcomer admitted")
        await eventually(lambda: fake.world.invite_links[link].is_revoked, "the used link revoked")
        assert (TH_GROUP.id, FORWARDED_TO.id) not in fake.world.joined
        assert fake.world.join_requests == set()


async def test_offboarding_revokes_the_links_the_person_never_used(tmp_path, fake, monkeypatch) -> None:  # noqa: ANN001
    fake.world.chat(Chat(NEWCOMER.id, "private", NEWCOMER.first_name))
    remember_joins(fake, monkeypatch, joined=set())
    async with bot_with_membership(tmp_path, fake, monkeypatch) as admin:
        await admin.says("/member add telegram:user:301 country:TH role:contact desk:police")
        await eventually(lambda: "Finished onboarding" in admin.printed(), "the onboarding")
        made = {link: fake.world.invite_links[link].chat_id for group in (NETWORK_GROUP, TH_GROUP)
                for link in links_for(fake, group)}
        assert len(made) == 2
        await admin.says('/member remove telegram:user:301 reason:"posted elsewhere"')
        await eventually(lambda: "Finished offboarding" in admin.printed(), "the offboarding")
        revoked = {p["invite_link"]: p["chat_id"] for p in calls(fake, "revokeChatInviteLink")}
        assert revoked == made
        for group in (NETWORK_GROUP, TH_GROUP):  # revoked before the ban
            order = [r.method for r in fake.requests if r.params.get("chat_id") == group.id
                     and r.method in ("revokeChatInviteLink", "banChatMember")]
            assert order == ["revokeChatInviteLink", "banChatMember"]
        assert all(fake.request_to_join(NEWCOMER, link) is None for link in made)  # the links admit nobody now


def _audit(admin: Admin) -> list:
    from bot.runtime.keys import ensure_keyring
    from storage.audit.trail import read_entries

    keyring = ensure_keyring(admin.runtime.settings.keys.path, io.StringIO())
    with admin.runtime.engine.connect() as conn:
        return list(read_entries(conn, keyring))


def _recorded(admin: Admin, count: int) -> bool:
    """The worker has recorded `count` deliveries as sent, with their message ids (after the fake took them)."""
    from sqlalchemy import func, select

    from storage.tables import deliveries

    with admin.runtime.engine.connect() as conn:
        found = conn.execute(select(func.count()).select_from(deliveries)
                             .where(deliveries.c.platform_message_id.is_not(None))).scalar_one()
    return found >= count


def _copy(fake: FakeBotApi, words: str) -> tuple[int, int]:
    [sent] = [s for s in fake.sent_to(TH_NPOC.id) if words in s.text]
    return sent.chat_id, sent.message_id


async def test_offboarding_deletes_their_amber_copy_keeps_the_green_one_and_says_what_stays(
        tmp_path, fake, monkeypatch) -> None:  # noqa: ANN001
    remember_joins(fake, monkeypatch, joined=set())
    async with bot_with_membership(tmp_path, fake, monkeypatch) as admin:
        fake.says(OFFICER, "/alert to:TH tlp:amber Two travellers, flight XX123")
        fake.says(OFFICER, "/alert to:TH tlp:green A public notice on visas")
        await eventually(lambda: any("public notice" in s.text for s in fake.sent_to(TH_NPOC.id))
                         and any("Two travellers" in s.text for s in fake.sent_to(TH_NPOC.id)), "both deliveries")
        amber, green = _copy(fake, "Two travellers"), _copy(fake, "public notice")
        await eventually(lambda: _recorded(admin, 2), "the deliveries recorded")
        answer = await admin.says("/member remove telegram:user:201")
        assert "Taking back 1 copy of TLP:AMBER and above from their direct chats" in answer
        assert "Nothing can take back what they already forwarded, copied or screenshotted." in answer
        assert "Telegram does not let a bot leave a private chat" in answer
        await eventually(lambda: amber in fake.world.deleted, "the AMBER copy deleted")
        await eventually(lambda: any((e.detail or {}).get("why") == "offboarded" for e in _audit(admin)),
                         "the removal recorded")
        assert green not in fake.world.deleted
        assert [(e.detail["event"], e.reference) for e in _audit(admin) if (e.detail or {}).get("why") == "offboarded"
                ] == [("message-removed", "A-2026-0001")]


async def test_offboarding_past_telegrams_48_hours_the_copy_stays_and_the_audit_says_so(
        tmp_path, fake, monkeypatch) -> None:  # noqa: ANN001
    remember_joins(fake, monkeypatch, joined=set())
    async with bot_with_membership(tmp_path, fake, monkeypatch) as admin:
        fake.says(OFFICER, "/alert to:TH tlp:amber Two travellers, flight XX123")
        await eventually(lambda: any("Two travellers" in s.text for s in fake.sent_to(TH_NPOC.id)), "the delivery")
        amber = _copy(fake, "Two travellers")
        await eventually(lambda: _recorded(admin, 1), "the delivery recorded")
        now = fake.world.now
        fake.world.now = lambda: now() + 49 * 3600  # the server's 48 hours are over; the bot has not noticed
        await admin.says("/member remove telegram:user:201")
        await eventually(lambda: any((e.detail or {}).get("why") == "offboarded" for e in _audit(admin)),
                         "the refusal recorded")
        assert amber not in fake.world.deleted
        assert [(e.detail["event"], e.detail["error"]) for e in _audit(admin)
                if (e.detail or {}).get("why") == "offboarded"] == [("message-kept", "too-old")]


async def test_offboarding_counts_the_telegram_copies_older_than_48_hours_as_staying(
        tmp_path, fake, monkeypatch) -> None:  # noqa: ANN001
    remember_joins(fake, monkeypatch, joined=set())
    clock = StoryClock()
    async with bot_with_membership(tmp_path, fake, monkeypatch, clock=clock) as admin:
        fake.says(OFFICER, "/alert to:TH tlp:amber Two travellers, flight XX123")
        await eventually(lambda: any("Two travellers" in s.text for s in fake.sent_to(TH_NPOC.id)), "the delivery")
        await eventually(lambda: _recorded(admin, 1), "the delivery recorded")
        clock.shift += timedelta(hours=49)
        answer = await admin.says("/member remove telegram:user:201")
        assert ("1 Telegram copy is older than 48 hours: Telegram no longer lets the bot delete it, so it "
                "stays with them.") in answer
        assert "Taking back" not in answer
        assert "Nothing can take back what they already forwarded, copied or screenshotted." in answer
        removed = next(e for e in _audit(admin) if (e.detail or {}).get("command") == "member remove")
        assert (removed.detail["copies_taken_back"], removed.detail["copies_too_old"]) == ("0", "1")
        assert not calls(fake, "deleteMessage")


async def test_a_group_the_bot_cannot_act_in_is_blamed_not_the_person(tmp_path, fake, monkeypatch) -> None:  # noqa: ANN001
    """A registered group the bot is not in (or not an administrator of) answers "chat not found"; the
    admin was told the person "must open a chat with the bot first", who had, and for a removal was
    not told that the person may still be in the group."""
    remember_joins(fake, monkeypatch, joined=set())
    async with bot_with_membership(tmp_path, fake, monkeypatch) as admin:
        await admin.says('/room register telegram:-1009999 name:"Ghost" purpose:network orgs:TH')
        await admin.says("/member add telegram:user:201 country:TH role:contact")
        await eventually(lambda: "Finished onboarding" in admin.printed(), "the end of the onboarding")
        [invite] = [line for line in admin.printed().splitlines() if "Could not invite" in line]
        assert invite == ("│ Could not invite th-npoc (telegram:user:201) to Ghost: bad-request: Chat not found: the bot "
                          "cannot act in Ghost (telegram:-1009999): add it to the group as an administrator allowed to "
                          "invite and ban members, or check the chat id."), admin.printed()
        await admin.says('/member remove telegram:user:201 reason:"left the service"')
        await eventually(lambda: "Finished offboarding" in admin.printed(), "the end of the offboarding")
        [remove] = [line for line in admin.printed().splitlines() if "Could not remove" in line]
        assert remove == ("│ Could not remove th-npoc (telegram:user:201) from Ghost: bad-request: Chat not found: the bot "
                          "cannot act in Ghost (telegram:-1009999); if they are in it, remove them there by hand, and "
                          "add the bot to the group as an administrator allowed to invite and ban members."), \
            admin.printed()
        assert "must open a chat with the bot" not in admin.printed()


async def test_someone_who_never_wrote_to_the_bot_is_told_to_the_admin_as_such(tmp_path, fake, monkeypatch) -> None:  # noqa: ANN001
    remember_joins(fake, monkeypatch, joined=set())
    async with bot_with_membership(tmp_path, fake, monkeypatch) as admin:
        await admin.says("/member add telegram:user:777 country:TH role:contact")
        await eventually(lambda: "Finished onboarding" in admin.printed(), "the end of the onboarding")
        failed = [line for line in admin.printed().splitlines() if "Could not invite" in line]
        assert len(failed) == 2 and all(
            line.endswith(": they must open a chat with the bot first (send it /start), then /member add them "
                          "again.") for line in failed), failed
