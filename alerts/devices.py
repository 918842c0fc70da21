"""Device trust actions an admin asks for (/device list, verify, blacklist) on a Matrix account's
end-to-end encryption devices, as values that travel in the outbox.

Pure: no I/O. handlers/devices.py plans an action inside the command's transaction;
bot/actions/devices.py carries it out through the Matrix connector after the commit and answers the
admin in the chat the command came from.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass

from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing import Destination


class DeviceOp(enum.Enum):
    LIST = "list"
    VERIFY = "verify"
    BLACKLIST = "blacklist"


# Every device action is addressed here, a queue of its own that nothing is ever posted to. The
# worker sends one row per destination at a time, in order; addressed to the owner's direct chat
# or to the admin's chat, a verify would wait behind the very delivery it is meant to unblock.
DEVICE_QUEUE = Destination.chat(ChatRef(Platform.MATRIX, "!liaison-bot.device-trust"))


@dataclass(frozen=True, slots=True)
class DeviceAction:
    op: DeviceOp
    user: UserRef  # the device's owner, a Matrix account
    device_id: str | None  # None for LIST
    requested_by: str  # the admin's contact id
    reply_chat: str  # where the answer goes (a ChatRef string)
    key: str  # the outbox key, made when the command ran

    def __post_init__(self) -> None:
        if self.user.platform is not Platform.MATRIX:
            raise ValueError(f"device trust is for Matrix accounts, not {self.user}")
        if (self.device_id is None) != (self.op is DeviceOp.LIST):
            raise ValueError(f"/device {self.op.value} {'takes no' if self.op is DeviceOp.LIST else 'needs a'} device")

    def describe(self) -> str:
        if self.op is DeviceOp.LIST:
            return f"list the devices of {self.user.user_id}"
        return f"{self.op.value} {self.user.user_id}'s device {self.device_id}"

    def to_json(self) -> str:
        return json.dumps({"op": self.op.value, "user": str(self.user), "device": self.device_id,
                           "requested_by": self.requested_by, "reply_chat": self.reply_chat, "key": self.key},
                          sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> DeviceAction:
        data = json.loads(text)
        return cls(DeviceOp(data["op"]), UserRef.parse(data["user"]), data.get("device"), data["requested_by"],
                   data["reply_chat"], data["key"])


def device_message(action: DeviceAction) -> OutboundMessage:
    """The outbox row that carries the action to bot/actions/devices.py (kind DEVICE)."""
    return OutboundMessage(key=action.key, kind=MessageKind.DEVICE, destination=DEVICE_QUEUE, text=action.to_json(),
                           contact=action.requested_by or None)
