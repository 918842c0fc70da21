"""What the Matrix connector hands to the rest of the bot (security events for the audit log, device
descriptions for admins, the callbacks the composition root plugs in: see wiring.py), and what it
asks of the homeserver in every sync (the filter)."""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nio.crypto import TrustState

CURSOR = "matrix.cursor"
TIMELINE_TYPES = ["m.room.message", "m.reaction", "m.room.encrypted", "m.room.member", "m.room.encryption",
                  "m.room.create", "m.room.tombstone", "m.room.power_levels"]

# (item reference, recipient contact id) of the delivery a Matrix event id carried, or None.
FindDelivery = Callable[[str], Awaitable["tuple[str, str] | None"]]
# The item reference whose approval a Matrix event id asked for (the bot's approval request), or None.
FindApproval = Callable[[str], Awaitable["str | None"]]
# Records the events one outbox row became (its photos and files, then its text), with the row
# (storage.outbox.SqlOutbox.record_parts, as on Telegram): a reply or reaction on any of them is on the copy.
RecordParts = Callable[[str, Sequence[str]], Awaitable[None]]
# Every event of the copy the bot sent as an event id, in the order sent, as recorded (storage.outbox.
# SqlOutbox.parts_of); none for a copy of one event, or one not recorded.
PartsOf = Callable[[str], Awaitable["tuple[str, ...]"]]


class SecurityKind(enum.Enum):
    DEVICE_TRUSTED_ON_FIRST_USE = "device-trusted-on-first-use"
    DEVICE_BLOCKING = "device-unverified-blocking"  # verified-only policy: admins must decide
    DEVICE_VERIFIED = "device-verified"
    DEVICE_BLACKLISTED = "device-blacklisted"
    INVITE_ACCEPTED = "invite-accepted"
    INVITE_REFUSED = "invite-refused"


@dataclass(frozen=True, slots=True)
class SecurityEvent:
    """Something the audit log should record (and, for DEVICE_BLOCKING, the admins should be told)."""

    kind: SecurityKind
    user_id: str  # the device's owner, or the inviter
    device_id: str | None = None
    ed25519: str | None = None
    room_id: str | None = None
    detail: str = ""


SecurityHook = Callable[[SecurityEvent], Awaitable[None]]

# Called after each sync round has been recorded, with the response and whether it was the first of
# the session; must not raise. The room watch (room_watch.py) is one.
SyncObserver = Callable[[Any, bool], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    user_id: str
    device_id: str
    display_name: str
    ed25519: str
    trust: str  # "verified", "tofu" (trusted on first use), "blacklisted", "unverified"


TRUST_NAMES = {TrustState.verified: "verified", TrustState.ignored: "tofu", TrustState.blacklisted: "blacklisted",
               TrustState.unset: "unverified"}


def sync_filter(timeline_limit: int) -> dict[str, Any]:
    return {
        "presence": {"not_types": ["*"]},
        "account_data": {"types": ["m.direct"]},
        "room": {
            "timeline": {"types": TIMELINE_TYPES, "limit": timeline_limit},
            "ephemeral": {"not_types": ["*"]},
            "account_data": {"not_types": ["*"]},
            "include_leave": False,
        },
    }
