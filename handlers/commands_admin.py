"""The admins' commands as values: the directory and room membership (/member, /rooms, /room sync)
and Matrix device trust (/device). handlers/commands.py re-exports them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import ClassVar

from alerts.countries import country_code
from alerts.devices import DeviceOp
from alerts.identity import UserRef
from alerts.items import Reference
from alerts.roles import Role
from handlers import command_text
from handlers.command_text import Bare
from handlers.lexer import quote


# `tz:default`: none of their own, so the network's default_timezone (Directory.zone_for). A zone
# once stored for someone given none (UTC, before none was stored as none) reads as a chosen one, so
# only an admin can say it was not.
ZONE_DEFAULT = "default"


@dataclass(frozen=True)
class MemberAddCommand:
    name: ClassVar[str] = "member"
    user: str  # a UserRef string (matrix:@alice:example.org, telegram:user:42, console:alice) or a Telegram @username
    organisation: str
    role: Role
    desk: str | None
    display_name: str | None = None  # None: keep theirs, or (someone new) name them after their account
    backup: str | None = None  # a contact id or an account, as typed; the handler looks it up
    timezone: str | None = None  # an IANA zone the parser checked, or ZONE_DEFAULT

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


@dataclass(frozen=True)
class ArrangementAddCommand:
    name: ClassVar[str] = "arrangement"
    parties: tuple[str, ...]  # organisation codes, in the order given, at least two
    document: str  # the signed document, as people name it: the arrangement's kind
    topics: tuple[str, ...] = ()  # empty: every topic
    starts: date | None = None
    ends: date | None = None
    giver: str | None = None  # one way only, from this party; None: both ways

    def render(self) -> str:
        topics = f"topics:{','.join(self.topics)}" if self.topics else ""
        direction = f"direction:{self.giver}>{next(p for p in self.parties if p != self.giver)}" if self.giver else ""
        return command_text.joined(
            "/arrangement add", f"between:{','.join(self.parties)}", f"doc:{quote(self.document)}", topics,
            f"from:{self.starts.isoformat()}" if self.starts else "", f"until:{self.ends.isoformat()}" if self.ends else "",
            direction)


@dataclass(frozen=True)
class ArrangementEndCommand:
    name: ClassVar[str] = "arrangement"
    which: str  # its number as /arrangement list shows it ("3"), or its document ("MoU MY-CA 2026")
    reason: str

    def render(self) -> str:
        return command_text.joined("/arrangement end", self.which if self.which.isdigit() else quote(self.which),
                                   self.reason)


@dataclass(frozen=True)
class ArrangementListCommand:
    name: ClassVar[str] = "arrangement"

    def render(self) -> str:
        return "/arrangement list"


@dataclass(frozen=True)
class RoomRegisterCommand:
    name: ClassVar[str] = "room"
    chat: str  # a ChatRef as text: matrix:!abc:example.org, telegram:-100123, console:#kul
    title: str  # the room's name, as answers show it
    purpose: str  # an alerts.directory.RoomPurpose value
    organisations: tuple[str, ...]
    hubs: tuple[str, ...] = ()  # upper case
    topics: tuple[str, ...] = ()

    def render(self) -> str:
        return command_text.joined(
            "/room register", self.chat, f"name:{quote(self.title)}", f"purpose:{self.purpose}",
            f"orgs:{','.join(self.organisations)}", f"hubs:{','.join(self.hubs)}" if self.hubs else "",
            f"topics:{','.join(self.topics)}" if self.topics else "")


@dataclass(frozen=True)
class RoomRetireCommand:
    name: ClassVar[str] = "room"
    chat: str
    reason: str

    def render(self) -> str:
        return command_text.joined("/room retire", self.chat, self.reason)
