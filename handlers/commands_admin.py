"""The admins' commands as values: the directory and room membership (/member, /rooms, /room sync)
and Matrix device trust (/device). handlers/commands.py re-exports them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from alerts.countries import country_code
from alerts.devices import DeviceOp
from alerts.identity import UserRef
from alerts.roles import Role
from handlers import command_text
from handlers.command_text import Bare


@dataclass(frozen=True)
class MemberAddCommand:
    name: ClassVar[str] = "member"
    user: str  # a UserRef string (matrix:@alice:example.org, telegram:user:42, console:alice) or a Telegram @username
    organisation: str
    role: Role
    desk: str | None

    def render(self) -> str:
        key = "country" if country_code(self.organisation) == self.organisation else "org"
        desk = f"desk:{self.desk}" if self.desk else ""
        return command_text.joined("/member add", self.user, f"{key}:{self.organisation}", f"role:{self.role.value}",
                                   desk)


@dataclass(frozen=True)
class MemberRemoveCommand:
    name: ClassVar[str] = "member"
    user: str  # as MemberAddCommand.user
    reason: str | None

    def render(self) -> str:
        return f"/member remove {self.user}" + command_text.optional_text("reason", self.reason)


@dataclass(frozen=True)
class MemberBackupCommand:
    """`/member backup PERSON BACKUP`: who takes over PERSON's items when they leave (None: nobody)."""

    name: ClassVar[str] = "member"
    user: str  # an account as MemberAddCommand.user, or a contact id
    backup: str | None  # likewise; None clears it

    def render(self) -> str:
        return command_text.joined("/member backup", self.user, self.backup or "none")


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
