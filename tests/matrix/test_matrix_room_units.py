"""Room safety and the Matrix room admin without a homeserver: what a room's state says about the bot's
power and encryption, what counts as a change worth telling, and how the admin answers the homeserver."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest
from nio import RoomGetStateEventError, RoomGetStateEventResponse, RoomInviteError, RoomInviteResponse, \
    RoomKickResponse

from alerts.identity import ChatRef, UserRef
from alerts.membership import PlannedAction, RoomAction
from bot.connectors.matrix.membership import MatrixRoomAdmin
from bot.connectors.matrix.sansio.rooms import MEGOLM, UNLIMITED, changes, look_at
from bot.connectors.matrix.room_watch import changed_rooms
from bot.connectors.errors import PermanentFailure, RateLimited

BOT = "@liaison-bot:example.org"
ADMIN = "@admin:example.org"
ROOM = "!room:example.org"


def state(*, bot_level: int | None = 50, kick: int = 50, invite: int = 0, version: str = "10",
          creator: str = ADMIN, encryption: str | None = None, members: dict[str, str] | None = None,
          power_by: str = ADMIN) -> list[dict[str, Any]]:
    users = {ADMIN: 100} if version != "12" or creator != ADMIN else {}
    if bot_level is not None:
        users[BOT] = bot_level
    events: list[dict[str, Any]] = [
        {"type": "m.room.create", "state_key": "", "sender": creator, "content": {"room_version": version}},
        {"type": "m.room.power_levels", "state_key": "", "sender": power_by,
         "content": {"users": users, "kick": kick, "invite": invite, "ban": 50, "events_default": 0,
                     "state_default": 50, "events": {"m.room.message": 0}}},
        {"type": "m.room.member", "state_key": BOT, "sender": BOT, "content": {"membership": "join"}},
    ]
    for user, membership in (members or {}).items():
        events.append({"type": "m.room.member", "state_key": user, "sender": user,
                       "content": {"membership": membership}})
    if encryption is not None:
        events.append({"type": "m.room.encryption", "state_key": "", "sender": ADMIN,
                       "content": {"algorithm": encryption} if encryption else {}})
    return events


def test_a_room_where_the_bot_is_moderator_lacks_nothing_and_lists_who_is_there() -> None:
    look = look_at(ROOM, state(members={ADMIN: "join", "@th:example.org": "invite", "@gone:example.org": "leave"}),
                   BOT)
    assert look.in_room and look.lacking == ()
    assert look.members == {ADMIN: "joined", "@th:example.org": "invited"}  # the bot itself is never a member here


def test_a_bot_at_level_zero_cannot_remove_people() -> None:
    assert look_at(ROOM, state(bot_level=0), BOT).lacking == ("kick",)
    assert look_at(ROOM, state(bot_level=0, invite=50), BOT).lacking == ("invite", "kick")


def test_the_creator_of_a_v12_room_has_unlimited_power_without_being_listed() -> None:
    look = look_at(ROOM, state(bot_level=None, version="12", creator=BOT, kick=100), BOT)
    assert look.bot_level == UNLIMITED and look.lacking == ()


def test_a_bot_that_left_lacks_everything() -> None:
    events = [e for e in state() if e.get("state_key") != BOT]
    events.append({"type": "m.room.member", "state_key": BOT, "sender": ADMIN, "content": {"membership": "leave"}})
    look = look_at(ROOM, events, BOT)
    assert not look.in_room and look.lacking == ("invite", "kick", "send")


def test_the_first_look_is_no_change() -> None:
    assert changes("Thailand", None, look_at(ROOM, state(), BOT)) == []


def test_losing_power_is_a_warning_naming_who_changed_it() -> None:
    before = look_at(ROOM, state(bot_level=50), BOT).snapshot()
    (finding,) = changes("Thailand", before, look_at(ROOM, state(bot_level=0, power_by="@mallory:example.org"), BOT))
    assert finding.serious
    assert "The bot lost power in Thailand (power levels changed by @mallory:example.org)" in finding.text
    assert "can no longer remove people" in finding.text


def test_another_member_promoted_is_a_note_with_the_levels() -> None:
    before = look_at(ROOM, state(members={"@th:example.org": "join"}), BOT).snapshot()
    events = state()
    events[1]["content"]["users"]["@th:example.org"] = 50
    (finding,) = changes("Thailand", before, look_at(ROOM, events, BOT))
    assert not finding.serious and "@th:example.org - → 50" in finding.text


def test_turning_encryption_on_is_a_note_and_moving_away_from_megolm_a_warning() -> None:
    plain = look_at(ROOM, state(), BOT).snapshot()
    (on,) = changes("Network", plain, look_at(ROOM, state(encryption=MEGOLM), BOT))
    assert not on.serious and on.text == f"Encryption was turned on in Network by {ADMIN} ({MEGOLM})."
    encrypted = look_at(ROOM, state(encryption=MEGOLM), BOT).snapshot()
    (off,) = changes("Network", encrypted, look_at(ROOM, state(encryption=""), BOT))
    assert off.serious and "from m.megolm.v1.aes-sha2 to nothing" in off.text
    assert "Treat the room as unencrypted" in off.text


def test_a_room_upgrade_is_a_warning_naming_the_new_room_once() -> None:
    before = look_at(ROOM, state(), BOT).snapshot()
    events = state() + [{"type": "m.room.tombstone", "state_key": "", "sender": ADMIN,
                         "content": {"body": "upgraded", "replacement_room": "!new:example.org"}}]
    after = look_at(ROOM, events, BOT)
    (finding,) = changes("Thailand", before, after)
    assert finding.serious and finding.kind == "replaced"
    assert f"Thailand was replaced by {ADMIN} by the room !new:example.org" in finding.text
    assert changes("Thailand", after.snapshot(), after) == []


def test_nothing_changed_is_nothing_to_tell() -> None:
    look = look_at(ROOM, state(encryption=MEGOLM), BOT)
    assert changes("Thailand", look.snapshot(), look) == []


# --- the room admin against a homeserver that answers from a script ------------------------------

class ScriptedClient:
    """The few nio calls the room admin makes, answered from `members` (user -> membership)."""

    access_token = "token"

    def __init__(self, members: dict[str, str], invite_answers: list[Any] | None = None) -> None:
        self.members = members
        self.invite_answers = invite_answers or []
        self.calls: list[tuple[str, str]] = []

    async def room_get_state_event(self, room_id: str, event_type: str, state_key: str) -> Any:
        if state_key not in self.members:
            return RoomGetStateEventError.from_dict({"errcode": "M_NOT_FOUND", "error": "no member event"}, room_id)
        return RoomGetStateEventResponse({"membership": self.members[state_key]}, event_type, state_key, room_id)

    async def room_invite(self, room_id: str, user_id: str) -> Any:
        self.calls.append(("invite", user_id))
        if self.invite_answers:
            return self.invite_answers.pop(0)
        self.members[user_id] = "invite"
        return RoomInviteResponse()

    async def room_kick(self, room_id: str, user_id: str, reason: str | None = None) -> Any:
        self.calls.append(("kick", f"{user_id} ({reason})"))
        self.members[user_id] = "leave"
        return RoomKickResponse()


def action(kind: RoomAction, user: str) -> PlannedAction:
    return PlannedAction(kind, ChatRef.parse(f"matrix:{ROOM}"), "Thailand", UserRef.parse(f"matrix:{user}"),
                         "th-npoc", "offboarding" if kind is RoomAction.REMOVE else "onboarding", "op-1")


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_someone_joined_is_left_alone_and_someone_invited_is_not_invited_twice() -> None:
    client = ScriptedClient({"@th:example.org": "join", "@new:example.org": "invite"})
    admin = MatrixRoomAdmin(lambda: client, invite_spacing=0)
    assert run(admin.invite(action(RoomAction.INVITE, "@th:example.org"))) == "joined"
    assert run(admin.invite(action(RoomAction.INVITE, "@new:example.org"))) == "invited"
    assert client.calls == []


def test_a_newcomer_is_invited_and_a_banned_person_is_refused() -> None:
    client = ScriptedClient({"@banned:example.org": "ban"})
    admin = MatrixRoomAdmin(lambda: client, invite_spacing=0)
    assert run(admin.invite(action(RoomAction.INVITE, "@new:example.org"))) == "invited"
    assert client.calls == [("invite", "@new:example.org")]
    with pytest.raises(PermanentFailure, match="banned from Thailand"):
        run(admin.invite(action(RoomAction.INVITE, "@banned:example.org")))


def test_a_rate_limited_invite_goes_back_to_the_worker_with_the_homeservers_wait() -> None:
    limited = RoomInviteError.from_dict({"errcode": "M_LIMIT_EXCEEDED", "error": "Too many", "retry_after_ms": 1500})
    client = ScriptedClient({}, invite_answers=[limited])
    admin = MatrixRoomAdmin(lambda: client, invite_spacing=0)
    with pytest.raises(RateLimited) as raised:
        run(admin.invite(action(RoomAction.INVITE, "@new:example.org")))
    assert raised.value.retry_after == 1.5


def test_invites_are_spaced() -> None:
    now = [100.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    client = ScriptedClient({})
    admin = MatrixRoomAdmin(lambda: client, invite_spacing=2.0, clock=lambda: now[0], sleep=sleep)

    async def scenario() -> None:
        await admin.invite(action(RoomAction.INVITE, "@a:example.org"))
        now[0] += 0.5
        await admin.invite(action(RoomAction.INVITE, "@b:example.org"))

    run(scenario())
    assert slept == [1.5]


def test_removal_kicks_with_the_reason_and_someone_not_there_is_already_out() -> None:
    client = ScriptedClient({"@th:example.org": "join", "@left:example.org": "leave"})
    admin = MatrixRoomAdmin(lambda: client, invite_spacing=0)
    run(admin.remove(action(RoomAction.REMOVE, "@th:example.org")))
    run(admin.remove(action(RoomAction.REMOVE, "@left:example.org")))
    run(admin.remove(action(RoomAction.REMOVE, "@never:example.org")))
    assert client.calls == [("kick", "@th:example.org (offboarding)")]


def test_power_given_back_is_a_note() -> None:
    before = look_at(ROOM, state(bot_level=0), BOT).snapshot()
    (finding,) = changes("Malaysia", before, look_at(ROOM, state(bot_level=50), BOT))
    assert not finding.serious
    assert finding.text == f"The bot has the power it needs in Malaysia again (power levels changed by {ADMIN})."


def test_the_watch_looks_again_only_where_membership_power_or_encryption_changed() -> None:
    def event(kind: str, **extra: Any) -> SimpleNamespace:
        return SimpleNamespace(source={"type": kind, **extra})

    def room(timeline: list[Any], state_section: list[Any] = ()) -> SimpleNamespace:  # type: ignore[assignment]
        return SimpleNamespace(timeline=SimpleNamespace(events=timeline), state=list(state_section))

    response = SimpleNamespace(rooms=SimpleNamespace(
        join={"!talk:x": room([event("m.room.message")]),
              "!power:x": room([event("m.room.power_levels", state_key="")]),
              "!gap:x": room([], [event("m.room.encryption", state_key="")]),
              "!joined:x": room([event("m.room.member", state_key="@new:x")]),
              "!upgraded:x": room([event("m.room.tombstone", state_key="")])},
        leave={"!kicked:x": room([])}))
    assert changed_rooms(response) == {"!power:x", "!gap:x", "!joined:x", "!kicked:x", "!upgraded:x"}
