"""What a Matrix room's state says: who is in it (the roster), whether it is encrypted, whether the bot
has the power its work there needs, and how two looks at the same room differ (findings); which
invites the bot accepts, and which rooms are someone's direct chat with it.

Pure (sansio/__init__.py): the room's state events as dicts (as GET /rooms/{id}/state returns them) in,
values out.

Power follows the spec: a user's level is `users[user]`, else `users_default` (0); without any
m.room.power_levels event the creator has 100 and everyone else 0. In room versions 12 and later the
creators (the m.room.create sender and `additional_creators`) have unlimited power and are never
listed in `users`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from alerts.directory import Directory
from alerts.identity import ChatRef, Platform, UserRef
from alerts.roles import Role

DIRECT_MARKER = "org.liaison_bot.direct"  # state event in each direct chat the bot makes: {"user_id": ...}

MEGOLM = "m.megolm.v1.aes-sha2"
UNLIMITED = 10 ** 18  # a v12 creator's power, kept as a number so that a look fits in JSON
# What the bot does in a registered room, and the power level threshold that allows it.
NEEDS: dict[str, str] = {"invite": "invite people", "kick": "remove people", "send": "post messages"}
_DEFAULTS = {"invite": 0, "kick": 50, "ban": 50, "redact": 50, "events_default": 0, "state_default": 50,
             "users_default": 0}
_NAMED = ("invite", "kick", "ban", "events_default", "state_default", "users_default")


@dataclass(frozen=True, slots=True)
class RoomLook:
    """One look at a room. `in_room` False: the bot is not (or no longer) a member, and the rest
    describes the room as it was when it left, or is empty."""

    room_id: str
    in_room: bool
    members: dict[str, str] = field(default_factory=dict)  # user id -> "joined" | "invited", the bot left out
    encryption: str | None = None  # the algorithm; None: not encrypted
    bot_level: int = 0
    thresholds: dict[str, int] = field(default_factory=dict)  # NEEDS and _NAMED -> the level they call for
    users: dict[str, int] = field(default_factory=dict)  # explicit levels of the power levels event
    power_by: str = ""  # who sent the current power levels, and the encryption, events
    encryption_by: str = ""
    replaced_by: str | None = None  # the room that replaced this one (m.room.tombstone), if any
    replaced_by_sender: str = ""

    @property
    def lacking(self) -> tuple[str, ...]:
        """The NEEDS the bot's level falls short of (all of them when it is not in the room)."""
        if not self.in_room:
            return tuple(NEEDS)
        return tuple(need for need in NEEDS if self.bot_level < self.thresholds.get(need, 0))

    def snapshot(self) -> dict[str, Any]:
        """What is kept between looks to tell a change (members are the roster's business)."""
        return {"in_room": self.in_room, "encryption": self.encryption, "bot_level": self.bot_level,
                "thresholds": self.thresholds, "users": self.users, "lacking": list(self.lacking),
                "replaced_by": self.replaced_by}


def _state(events: Iterable[Any], kind: str, key: str = "") -> dict[str, Any] | None:
    for event in events:
        if isinstance(event, dict) and event.get("type") == kind and event.get("state_key", "") == key:
            return event
    return None


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def look_at(room_id: str, events: list[Any], bot_user: str) -> RoomLook:
    own = _state(events, "m.room.member", bot_user)
    in_room = bool(own and (own.get("content") or {}).get("membership") == "join")
    members: dict[str, str] = {}
    for event in events:
        if not isinstance(event, dict) or event.get("type") != "m.room.member":
            continue
        user, membership = event.get("state_key"), (event.get("content") or {}).get("membership")
        if user and user != bot_user and membership in ("join", "invite"):
            members[user] = "joined" if membership == "join" else "invited"
    encryption = _state(events, "m.room.encryption")
    algorithm = None
    if encryption is not None:  # an event without a usable algorithm is "" : encrypted once, not now
        value = (encryption.get("content") or {}).get("algorithm")
        algorithm = value if isinstance(value, str) else ""
    power = _state(events, "m.room.power_levels")
    content = (power or {}).get("content") or {}
    create = _state(events, "m.room.create") or {}
    creators = {create.get("sender")} | set((create.get("content") or {}).get("additional_creators") or ())
    thresholds = {name: _int(content.get(name), _DEFAULTS[name]) for name in _NAMED}
    if power is None:
        thresholds["state_default"] = 0  # the spec's defaults when a room has no power levels at all
    events_levels = content.get("events") or {}
    thresholds["send"] = _int(events_levels.get("m.room.message"), thresholds["events_default"])
    users = {u: _int(level, 0) for u, level in (content.get("users") or {}).items() if isinstance(u, str)}
    if _creators_unlimited(create) and bot_user in creators:
        level = UNLIMITED
    elif power is None:
        level = 100 if bot_user in creators else 0
    else:
        level = users.get(bot_user, thresholds["users_default"])
    tombstone = _state(events, "m.room.tombstone") or {}
    replacement = (tombstone.get("content") or {}).get("replacement_room")
    return RoomLook(room_id, in_room, members, algorithm, level, thresholds, users,
                    (power or {}).get("sender", ""), (encryption or {}).get("sender", ""),
                    replacement if isinstance(replacement, str) and replacement else None,
                    tombstone.get("sender", ""))


def _creators_unlimited(create: Mapping[str, Any]) -> bool:
    version = str((create.get("content") or {}).get("room_version") or "1")
    if version.startswith("org.matrix.hydra"):
        return True
    return version.isdigit() and int(version) >= 12


@dataclass(frozen=True, slots=True)
class Finding:
    """A change worth telling the admins. `serious`: the room is less safe than it was."""

    serious: bool
    text: str
    kind: str = "power"  # "presence" (the bot in the room or not), "encryption", "power", "replaced"


def describe_lacking(lacking: Iterable[str]) -> str:
    return ", ".join(NEEDS[n] for n in lacking)


def changes(name: str, before: Mapping[str, Any] | None, after: RoomLook) -> list[Finding]:
    """What changed in room `name` since the look `before` (a snapshot); nothing on the first look."""
    if before is None:
        return []
    found: list[Finding] = []
    if after.replaced_by and after.replaced_by != before.get("replaced_by"):
        # An upgraded room goes quiet: people move to the new one, and the registry still names the old.
        by = f" by {after.replaced_by_sender}" if after.replaced_by_sender else ""
        found.append(Finding(True, f"{name} was replaced{by} by the room {after.replaced_by} (a room upgrade). "
                                   "Deliveries still go to the old room: register the new one in "
                                   "[[network.rooms]] in its place and invite the bot there.", "replaced"))
    if before.get("in_room") and not after.in_room:
        return found + [Finding(True, f"The bot is no longer in {name}: it was removed or left. Deliveries to the room "
                              "and room actions there fail until it is invited back.", "presence")]
    if not before.get("in_room") and after.in_room:
        found.append(Finding(False, f"The bot is in {name} now.", "presence"))
    was, now = before.get("encryption"), after.encryption
    if was != now:
        by = f" by {after.encryption_by}" if after.encryption_by else ""
        if was is None:
            found.append(Finding(False, f"Encryption was turned on in {name}{by} ({now}).", "encryption"))
        elif now != MEGOLM:
            found.append(Finding(True, f"The encryption of {name} was changed{by} from {was} to "
                                       f"{now or 'nothing'}: members' clients may no longer encrypt what they "
                                       "send there. Treat the room as unencrypted until an admin restores it.",
                                 "encryption"))
        else:
            found.append(Finding(False, f"The encryption of {name} was changed{by} from {was} to {now}.",
                                 "encryption"))
    lost = [n for n in after.lacking if n not in (before.get("lacking") or ())]
    regained = not after.lacking and bool(before.get("lacking"))
    power_changed = (before.get("thresholds") != after.thresholds or before.get("users") != after.users
                     or before.get("bot_level") != after.bot_level)
    by = f" by {after.power_by}" if after.power_by else ""
    if lost and after.in_room:
        found.append(Finding(True, f"The bot lost power in {name} (power levels changed{by}): it can no longer "
                                   f"{describe_lacking(lost)} there. Give it back its level, or room actions "
                                   "and deliveries there will fail."))
    elif regained and after.in_room:
        found.append(Finding(False, f"The bot has the power it needs in {name} again (power levels changed{by})."))
    elif power_changed and after.in_room:
        found.append(Finding(False, f"Power levels in {name} were changed{by}: "
                                    f"{_level_changes(before, after) or 'no level that matters to the bot'}."))
    return found


def _level_changes(before: Mapping[str, Any], after: RoomLook) -> str:
    parts = []
    old_users, old_thresholds = before.get("users") or {}, before.get("thresholds") or {}
    for user in sorted(set(old_users) | set(after.users)):
        a, b = old_users.get(user), after.users.get(user)
        if a != b:
            parts.append(f"{user} {'-' if a is None else a} → {'-' if b is None else b}")
    for name in sorted(set(old_thresholds) | set(after.thresholds)):
        a, b = old_thresholds.get(name), after.thresholds.get(name)
        if a != b:
            parts.append(f"{name} {a} → {b}")
    return ", ".join(parts[:12]) + (f" and {len(parts) - 12} more" if len(parts) > 12 else "")


def roster(look: RoomLook) -> dict[UserRef, str]:
    """The members a look saw, as the roster keeps them ("joined" | "invited")."""
    found = {}
    for user, state in look.members.items():
        try:
            found[UserRef.parse(f"matrix:{user}")] = state
        except ValueError:
            continue  # an id the directory could never hold: not drift the bot can act on
    return found


# --- invites and direct chats -------------------------------------------------------------------

def invite_decision(directory: Directory, room_id: str, inviter: str | None, is_direct: bool) -> tuple[bool, str]:
    """Whether the bot accepts an invite, and why: from a room registered in the directory, from an
    admin or coordinator, or, for a direct chat (is_direct), from any directory contact."""
    if directory.room(ChatRef(Platform.MATRIX, room_id)) is not None:
        return True, "a registered room"
    contact = None
    if inviter:
        try:
            contact = directory.contact_for(UserRef.parse(f"matrix:{inviter}"))
        except ValueError:
            contact = None
    if contact is None:
        return False, "neither a registered room nor an inviter in the directory"
    if contact.has(Role.ADMIN) or contact.has(Role.COORDINATOR):
        return True, f"invited by {contact.id} ({'admin' if contact.has(Role.ADMIN) else 'coordinator'})"
    if is_direct:
        return True, f"a direct chat with {contact.id}"
    return False, f"{contact.id} may only open a direct chat with the bot; rooms are added by admins"


def is_direct_chat(directory: Directory, room_id: str, room_users: Iterable[str] | None, bot: str, user: str) -> bool:
    """Whether the room is the user's direct chat with the bot: an unregistered room holding (joined
    or invited) nobody but the two of them. A room not seen yet (`room_users` None) is shared."""
    if room_users is None or directory.room(ChatRef(Platform.MATRIX, room_id)) is not None:
        return False
    return set(room_users) == {bot, user}


def is_direct_with(state: Iterable[Any], user_id: str) -> bool:
    """The room state marks a direct chat with `user_id`: our marker, or is_direct on a member event."""
    for event in state:
        if not isinstance(event, dict):
            continue
        content = event.get("content") or {}
        if event.get("type") == DIRECT_MARKER and content.get("user_id") == user_id:
            return True
        if event.get("type") == "m.room.member":
            before = (event.get("unsigned") or {}).get("prev_content") or {}
            if content.get("is_direct") or before.get("is_direct"):
                return True
    return False
