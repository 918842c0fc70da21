"""The admins' commands as values: the directory and room membership (/member, /rooms, /room sync)
and Matrix device trust (/device). handlers/commands.py re-exports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from alerts.countries import country_code
from alerts.devices import DeviceOp
from alerts.identity import UserRef
from alerts.items import Reference
from alerts.roles import Role
from handlers import command_text
from handlers.command_text import Bare
from handlers.lexer import quote


@dataclass(frozen=True)
class MemberAddCommand:
    name: ClassVar[str] = "member"
    user: str  # a UserRef string (matrix:@alice:example.org, telegram:user:42, console:alice) or a Telegram @username
    organisation: str
    role: Role
    desk: str | None
    display_name: str | None = None  # None: keep theirs, or (someone new) name them after their account
    backup: str | None = None  # a contact id or an account, as typed; the handler looks it up
    timezone: str | None = None  # an IANA zone the parser checked

    def render(self) -> str:
        key = "country" if country_code(self.organisation) == self.organisation else "org"
        desk = f"desk:{self.desk}" if self.desk else ""
        return command_text.joined("/member add", self.user, f"{key}:{self.organisation}", f"role:{self.role.value}",
                                   desk, f"name:{quote(self.display_name)}" if self.display_name else "",
                                   f"backup:{quote(self.backup)}" if self.backup else "",
                                   f"tz:{self.timezone}" if self.timezone else "")


@dataclass(frozen=True)
class MemberRemoveCommand:
    name: ClassVar[str] = "member"
    user: str  # as MemberAddCommand.user
    reason: str | None

    def render(self) -> str:
        return f"/member remove {self.user}" + command_text.optional_text("reason", self.reason)


@dataclass(frozen=True)
class ReassignCommand:
    name: ClassVar[str] = "reassign"
    reference: Reference
    to: str  # a contact id or an account, as typed; the handler looks it up

    def render(self) -> str:
        return command_text.joined("/reassign", str(self.reference), f"to:{quote(self.to)}")


@dataclass(frozen=True)
class RoomsCommand(Bare):
    name: ClassVar[str] = "rooms"


@dataclass(frozen=True)
class RoomSyncCommand:
    name: ClassVar[str] = "room"
    apply: bool  # False: only report what would change

    def render(self) -> str:
        return "/room sync --apply" if self.apply else "/room sync"


@dataclass(frozen=True)
class DeviceCommand:
    name: ClassVar[str] = "device"
    op: DeviceOp
    user: UserRef  # a Matrix account
    device_id: str | None  # None for list, required otherwise

    def render(self) -> str:
        return command_text.joined("/device", self.op.value, self.user.user_id, self.device_id or "")
