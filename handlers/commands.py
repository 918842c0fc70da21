"""The commands people type, as values; each renders to canonical text that parses back equal.

Every class's `name` is the name its command is declared under in handlers/command_list.py
("member" for both /member add and /member remove), the key that role checks and /help use.

render() writes fields as one-line `key:value` tokens and puts free text (an item's body) after a
blank line, where nothing can be mistaken for a field. The admins' commands are in commands_admin.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import ClassVar, Protocol

from alerts.caveats import Handling
from alerts.incident import Incident
from alerts.items import Correction, ItemDraft, ItemKind, Reference, Selector, SelectorKind
from alerts.priority import Priority
from handlers import command_text
from handlers.command_text import Bare, ReferenceOnly
# Every command class is imported from here; `X as X` marks the re-export for the type checker.
from handlers.commands_admin import ArrangementAddCommand as ArrangementAddCommand
from handlers.commands_admin import ArrangementEndCommand as ArrangementEndCommand
from handlers.commands_admin import ArrangementListCommand as ArrangementListCommand
from handlers.commands_admin import DeviceCommand as DeviceCommand
from handlers.commands_admin import MemberAddCommand as MemberAddCommand
from handlers.commands_admin import MemberBackupCommand as MemberBackupCommand
from handlers.commands_admin import MemberRemoveCommand as MemberRemoveCommand
from handlers.commands_admin import ReassignCommand as ReassignCommand
from handlers.commands_admin import RoomRegisterCommand as RoomRegisterCommand
from handlers.commands_admin import RoomRetireCommand as RoomRetireCommand
from handlers.commands_admin import RoomSyncCommand as RoomSyncCommand
from handlers.commands_admin import RoomsCommand as RoomsCommand
from handlers.lexer import quote
from handlers.values import render_due, render_duration

def incident_tokens(incident: Incident) -> list[str]:
    """The harmonised fields as canonical `key:value` tokens (alerts.incident)."""
    tokens = []
    if incident.persons is not None:
        tokens.append(f"persons:{incident.persons}")
    if incident.nationalities:
        tokens.append("nationalities:" + ",".join(incident.nationalities))
    if incident.route:
        tokens.append("route:" + ">".join(incident.route))
    if incident.method is not None:
        tokens.append("method:" + incident.method.value)
    if incident.document is not None:
        tokens.append("document:" + incident.document.value)
    if incident.issuer is not None:
        tokens.append("issuer:" + incident.issuer)
    return tokens


def _draft_text(word: str, draft: ItemDraft, confirmed: bool = False) -> str:
    caveat = draft.caveat
    tokens = []
    if draft.recipients:
        tokens.append("to:" + ",".join(str(selector) for selector in draft.recipients))
    if draft.topic:
        tokens.append("topic:" + quote(draft.topic))
    tokens.append("tlp:" + caveat.tlp.value.lower())
    if caveat.handling is not Handling.H0:
        tokens.append("handling:" + caveat.handling.value)
    if caveat.orcon:
        tokens.append("orcon")
    if draft.grading is not None:
        tokens.append("grade:" + draft.grading.code)
    if draft.priority is not Priority.ROUTINE:
        tokens.append("priority:" + draft.priority.value)
    if draft.due is not None:
        tokens.append("feedback:" + render_due(draft.due))
    if draft.purpose:
        tokens.append("purpose:" + quote(draft.purpose))
    if draft.outside_ref:
        tokens.append("ref:" + quote(draft.outside_ref))
    tokens += incident_tokens(draft.incident)
    if draft.hub:
        tokens.append("hub:" + draft.hub)
    if confirmed:
        tokens.append("confirm:yes")
    return f"/{word} {' '.join(tokens)}\n\n{draft.body}"


def _check_kind(draft: ItemDraft, kind: ItemKind) -> None:
    if draft.kind is not kind:  # a programming error: /request would render what parses as /alert
        raise ValueError(f"a {kind.noun.lower()} command needs a {kind.noun.lower()} draft, not {draft.kind}")


@dataclass(frozen=True)
class AlertCommand:
    name: ClassVar[str] = "alert"
    draft: ItemDraft
    confirmed: bool = False  # confirm:yes, to send where the config asks to confirm a missing arrangement

    def __post_init__(self) -> None:
        _check_kind(self.draft, ItemKind.ALERT)

    def render(self) -> str:
        return _draft_text("alert", self.draft, self.confirmed)


@dataclass(frozen=True)
class RequestCommand:
    name: ClassVar[str] = "request"
    draft: ItemDraft
    confirmed: bool = False  # confirm:yes, to send where the config asks to confirm a missing arrangement

    def __post_init__(self) -> None:
        _check_kind(self.draft, ItemKind.REQUEST)

    def render(self) -> str:
        return _draft_text("request", self.draft, self.confirmed)


@dataclass(frozen=True)
class AckCommand(ReferenceOnly):
    name: ClassVar[str] = "ack"
    reference: Reference


@dataclass(frozen=True)
class ReplyCommand:
    name: ClassVar[str] = "reply"
    reference: Reference
    text: str

    def render(self) -> str:
        return f"/reply {self.reference} {self.text}"


@dataclass(frozen=True)
class CloseCommand:
    name: ClassVar[str] = "close"
    reference: Reference
    outcome: str  # free text, may be ""

    def render(self) -> str:
        return command_text.joined("/close", str(self.reference), self.outcome)


@dataclass(frozen=True)
class WithdrawCommand:
    name: ClassVar[str] = "withdraw"
    reference: Reference
    reason: str  # free text, never empty

    def render(self) -> str:
        return f"/withdraw {self.reference} {self.reason}"


@dataclass(frozen=True)
class CorrectCommand:
    name: ClassVar[str] = "correct"
    reference: Reference
    correction: Correction
    confirmed: bool = False

    def render(self) -> str:
        fix = self.correction
        tokens = []
        if fix.recipients is not None:
            tokens.append("to:" + ",".join(str(selector) for selector in fix.recipients))
        if fix.topic is not None:
            tokens.append("topic:" + quote(fix.topic))
        if fix.tlp is not None:
            tokens.append("tlp:" + fix.tlp.value.lower())
        if fix.handling is not None:
            tokens.append("handling:" + fix.handling.value)
        if fix.orcon is not None:
            tokens.append("orcon:" + ("yes" if fix.orcon else "no"))
        if fix.grading is not None:
            tokens.append("grade:" + fix.grading.code)
        if fix.priority is not None:
            tokens.append("priority:" + fix.priority.value)
        if fix.due is not None:
            tokens.append("feedback:" + render_due(fix.due))
        if fix.purpose is not None:
            tokens.append("purpose:" + quote(fix.purpose))
        if fix.outside_ref is not None:
            tokens.append("ref:" + quote(fix.outside_ref))
        if self.confirmed:
            tokens.append("confirm:yes")
        head = command_text.joined("/correct", str(self.reference), *tokens)
        return f"{head}\n\n{fix.body}" if fix.body is not None else head


@dataclass(frozen=True)
class HistoryCommand:
    """`/history A-2026-0042 page:2`."""

    name: ClassVar[str] = "history"
    reference: Reference
    page: int = 1

    def render(self) -> str:
        return command_text.joined("/history", str(self.reference), f"page:{self.page}" if self.page != 1 else "")


@dataclass(frozen=True)
class StatusCommand(ReferenceOnly):
    name: ClassVar[str] = "status"
    reference: Reference


def _scope_text(scope: Selector | None) -> str:
    return str(scope) if scope is not None and scope.kind is not SelectorKind.ALL else ""


@dataclass(frozen=True)
class OverdueCommand:
    name: ClassVar[str] = "overdue"
    scope: Selector | None  # an organisation, desk or person; never ALL (parsed as None)

    def render(self) -> str:
        return command_text.joined("/overdue", _scope_text(self.scope))


@dataclass(frozen=True)
class MineCommand:
    name: ClassVar[str] = "mine"
    everything: bool = False  # `/mine all`: closed items too
    page: int = 1

    def render(self) -> str:
        return command_text.joined("/mine", "all" if self.everything else "",
                                   f"page:{self.page}" if self.page != 1 else "")


@dataclass(frozen=True)
class FindCommand:
    """`/find passport topic:document-fraud country:TH from:2026-11-01 until:2026-11-30 page:2`."""

    name: ClassVar[str] = "find"
    words: tuple[str, ...] = ()  # every one must be in the item's text (any case)
    topic: str | None = None
    country: str | None = None  # an organisation code
    reference: str | None = None  # a reference or its beginning, or the originator's own ref:
    since: date | None = None  # from this day (UTC)
    until: date | None = None  # to this day, inclusive
    page: int = 1

    def render(self) -> str:
        return command_text.joined(
            "/find", *self.words, f"topic:{self.topic}" if self.topic else "",
            f"country:{self.country}" if self.country else "", f"ref:{self.reference}" if self.reference else "",
            f"from:{self.since.isoformat()}" if self.since else "", f"until:{self.until.isoformat()}" if self.until else "",
            f"page:{self.page}" if self.page != 1 else "")


@dataclass(frozen=True)
class ContactsCommand:
    name: ClassVar[str] = "contacts"
    scope: Selector | None  # as OverdueCommand.scope

    def render(self) -> str:
        return command_text.joined("/contacts", _scope_text(self.scope))


@dataclass(frozen=True)
class WhoamiCommand(Bare):
    name: ClassVar[str] = "whoami"


@dataclass(frozen=True)
class PortalCommand(Bare):
    name: ClassVar[str] = "portal"


@dataclass(frozen=True)
class HelpCommand:
    name: ClassVar[str] = "help"
    topic: str | None  # a command's name, a field's name, or what was typed

    def render(self) -> str:
        return command_text.joined("/help", self.topic or "")


@dataclass(frozen=True)
class ForwardCommand:
    name: ClassVar[str] = "forward"
    reference: Reference
    recipients: tuple[Selector, ...]
    purpose: str | None

    def render(self) -> str:
        to = "to:" + ",".join(str(selector) for selector in self.recipients)
        return f"/forward {self.reference} {to}" + command_text.optional_text("purpose", self.purpose)


@dataclass(frozen=True)
class ConsentCommand:
    name: ClassVar[str] = "consent"
    reference: Reference
    granted: bool
    reason: str  # free text, may be ""

    def render(self) -> str:
        return command_text.joined("/consent", str(self.reference), "yes" if self.granted else "no", self.reason)


@dataclass(frozen=True)
class ApproveCommand(ReferenceOnly):
    name: ClassVar[str] = "approve"
    reference: Reference


@dataclass(frozen=True)
class DeclineCommand:
    name: ClassVar[str] = "decline"
    reference: Reference
    reason: str

    def render(self) -> str:
        return command_text.joined("/decline", str(self.reference), self.reason)


@dataclass(frozen=True)
class SnoozeCommand:
    name: ClassVar[str] = "snooze"
    reference: Reference
    duration: timedelta  # whole minutes, from one minute to MAX_SNOOZE
    reason: str  # free text, may be ""

    def render(self) -> str:
        return command_text.joined("/snooze", str(self.reference), render_duration(self.duration), self.reason)


@dataclass(frozen=True)
class RemindCommand(ReferenceOnly):
    name: ClassVar[str] = "remind"
    reference: Reference


@dataclass(frozen=True)
class EscalateCommand(ReferenceOnly):
    name: ClassVar[str] = "escalate"
    reference: Reference


@dataclass(frozen=True)
class StatsCommand:
    name: ClassVar[str] = "stats"
    period: str | None  # "30d", "4w", "3m" (months), "2026-10" or "2026"; None for the default

    def render(self) -> str:
        return command_text.joined("/stats", self.period or "")


@dataclass(frozen=True)
class CancelCommand(Bare):
    name: ClassVar[str] = "cancel"


@dataclass(frozen=True)
class AwayCommand:
    name: ClassVar[str] = "away"
    person: str | None = None  # a coordinator setting it for someone; None: the sender
    off: bool = False
    until: date | None = None
    backup: str | None = None
    note: str = ""

    def render(self) -> str:
        return command_text.joined(
            "/away", f"@{self.person}" if self.person else "", "off" if self.off else "",
            f"until:{self.until:%Y-%m-%d}" if self.until else "", f"backup:@{self.backup}" if self.backup else "",
            self.note)


@dataclass(frozen=True)
class BackCommand(Bare):
    name: ClassVar[str] = "back"


class Command(Protocol):
    """What every command class above is: a value with the name of the command it belongs to."""

    name: ClassVar[str]

    def render(self) -> str: ...


@dataclass(frozen=True)
class ParseError:
    """Why a command was not understood: one short message, fit for a phone screen."""

    command: str | None  # the command's name when the command word was recognised
    message: str

    def __str__(self) -> str:
        return self.message
