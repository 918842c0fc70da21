"""Every command the bot understands, each declared once: its words, roles, help, how it is read
and which handler runs it. The parser, the role check, /help and the dispatcher read COMMANDS.

A command with fields or sub-commands is read by handlers/parse_items.py or handlers/parse_admin.py;
the small ones are read here, next to their declaration.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Protocol, TypeVar

from alerts.items import Reference, Selector
from alerts.roles import Role
from handlers import arrangements, coordination, devices, followup, forwarding, info, membership, parse_admin
from handlers import parse_items, rooms
from handlers import commands as c
from handlers.lexer import CommandSyntaxError, shorten, take_word
from handlers.post_item import post_item
from handlers.registry import EVERYONE, CommandSpec, Parse, Registry
from handlers.values import parse_duration, parse_period, parse_scope, parse_yes_no, take_reference
from handlers.vocabulary import Vocabulary

SENDERS = frozenset({Role.OFFICER, Role.CONTACT, Role.COORDINATOR})
COORDINATION = frozenset({Role.COORDINATOR, Role.ADMIN})
ADMINISTRATION = frozenset({Role.ADMIN})
MAX_SNOOZE = timedelta(days=30)
NOTHING_TO_CANCEL = "Nothing to cancel."

_ITEM_STYLES = (
    "Fields come first, as key:value; the text follows (after them, or on the next line). "
    "Or write the command alone, then one 'Key: value' per line, then the text. "
    "A word with a colon before the text must be a field; to begin the text with one (Note:), put an empty "
    "line before the text. /help fields lists them."
)

def _nothing_more(text: str, usage: str) -> None:
    if text.strip():
        raise CommandSyntaxError(f"Unexpected '{shorten(text.strip(), 30)}'. Use: {usage}")


C = TypeVar("C", bound=c.Command, covariant=True)


class _FromReference(Protocol[C]):
    """A command class made from a reference alone (c.AckCommand)."""

    @property
    def name(self) -> str: ...

    def __call__(self, reference: Reference, /) -> C: ...


class _FromNothing(Protocol[C]):
    """A command class made from nothing (c.MineCommand)."""

    @property
    def name(self) -> str: ...

    def __call__(self) -> C: ...


class _FromScope(Protocol[C]):
    """A command class made from a scope or None (c.OverdueCommand)."""

    @property
    def name(self) -> str: ...

    def __call__(self, scope: Selector | None, /) -> C: ...


def _reference_only(make: _FromReference[C]) -> Parse[C]:
    """For a command that takes only a reference: `/ack A-2026-0042`."""
    command = make.name

    def parse_reference_command(rest: str, vocabulary: Vocabulary) -> C:
        reference, after = take_reference(rest, command)
        hint = f" To answer, use /reply {reference} your text." if command == "ack" else ""
        if after.strip():
            raise CommandSyntaxError(
                f"Unexpected '{shorten(after.strip(), 30)}': /{command} takes only a reference.{hint} "
                f"Example: /{command} {reference}"
            )
        return make(reference)

    return parse_reference_command


def _no_arguments(make: _FromNothing[C]) -> Parse[C]:
    """For a command that takes nothing: `/mine`."""
    def parse_bare_command(rest: str, vocabulary: Vocabulary) -> C:
        _nothing_more(rest, f"/{make.name} on its own")
        return make()

    return parse_bare_command


def _scoped(make: _FromScope[C]) -> Parse[C]:
    """For a command that takes an organisation, desk or person, or nothing: `/overdue TH`."""
    command = make.name

    def parse_scoped_command(rest: str, vocabulary: Vocabulary) -> C:
        word, after = take_word(rest)
        _nothing_more(after, f"/{command}, /{command} TH or /{command} TH/immigration")
        return make(parse_scope(word, vocabulary) if word else None)

    return parse_scoped_command


def _reply(rest: str, vocabulary: Vocabulary) -> c.ReplyCommand:
    reference, after = take_reference(rest, "reply")
    if not after.strip():
        raise CommandSyntaxError(
            f"Write your feedback after the reference. Example: /reply {reference} Confirmed, stolen 2026-10-02"
        )
    return c.ReplyCommand(reference, after.strip())


def _close(rest: str, vocabulary: Vocabulary) -> c.CloseCommand:
    reference, after = take_reference(rest, "close")
    return c.CloseCommand(reference, after.strip())


def _consent(rest: str, vocabulary: Vocabulary) -> c.ConsentCommand:
    reference, after = take_reference(rest, "consent")
    answer, reason = take_word(after)
    example = f"/consent {reference} yes"
    if not answer:
        raise CommandSyntaxError(f"Say yes or no after the reference. Example: {example}")
    return c.ConsentCommand(reference, parse_yes_no(answer, "Consent", example), reason.strip())


def _snooze(rest: str, vocabulary: Vocabulary) -> c.SnoozeCommand:
    reference, after = take_reference(rest, "snooze")
    word, reason = take_word(after)
    example = f"/snooze {reference} 4h waiting for records"
    if not word:
        raise CommandSyntaxError(f"Say for how long, such as 4h or 2d. Example: {example}")
    return c.SnoozeCommand(reference, parse_duration(word, "Snooze time", example, MAX_SNOOZE), reason.strip())


def _stats(rest: str, vocabulary: Vocabulary) -> c.StatsCommand:
    word, after = take_word(rest)
    _nothing_more(after, "/stats, /stats 30d or /stats 2026-10")
    return c.StatsCommand(parse_period(word) if word else None)


def _help(rest: str, vocabulary: Vocabulary) -> c.HelpCommand:
    word, _ = take_word(rest)  # `/help member add` asks about /member
    return c.HelpCommand(COMMANDS.help_topic(word) or None)


COMMANDS = Registry()
_declare = COMMANDS.declare

# In the order /help lists them.
_declare(CommandSpec("alert", SENDERS, "/alert to:TH topic:… TEXT", "send an alert",
    "Send an alert to countries, organisations, desks or people. " + _ITEM_STYLES,
    ("/alert to:TH,MY topic:document-fraud tlp:amber grade:B2 priority:urgent feedback:24h Two travellers…",),
    parse_items.parse_alert, lambda ctx, cmd, policy: post_item(ctx, cmd.draft, policy, cmd.confirmed),
    text="alert"))
_declare(CommandSpec("request", SENDERS, '/request to:TH purpose:"…" TEXT', "ask for information",
    "Ask for information. Needs purpose:, the reason the audit records. " + _ITEM_STYLES,
    ('/request to:TH due:48h purpose:"identity check" Please confirm passport N1234567',),
    parse_items.parse_request, lambda ctx, cmd, policy: post_item(ctx, cmd.draft, policy, cmd.confirmed),
    aliases=("req", "rfi"), text="request"))
_declare(CommandSpec("ack", EVERYONE, "/ack REF", "acknowledge an item",
    "Acknowledge that you have an item. It stops the acknowledgement reminders.", ("/ack A-2026-0042",),
    _reference_only(c.AckCommand), lambda ctx, cmd, policy: followup.acknowledge(ctx, cmd.reference),
    aliases=("acknowledge",)))
_declare(CommandSpec("reply", EVERYONE, "/reply REF TEXT", "give feedback or an answer",
    "Send feedback on an alert or the answer to a request to its sender.",
    ("/reply A-2026-0042 Confirmed, stolen 2026-10-02",),
    _reply, lambda ctx, cmd, policy: followup.reply(ctx, cmd.reference, cmd.text), text="reply"))
_declare(CommandSpec("close", EVERYONE, "/close REF [outcome]", "close an item you sent (coordinators too)",
    "Close an item you sent (coordinators may close any), with an optional outcome. Late feedback is still "
    "relayed.", ("/close R-2026-0017 answered",),
    _close, lambda ctx, cmd, policy: followup.close(ctx, cmd.reference, cmd.outcome)))
_declare(CommandSpec("status", EVERYONE, "/status REF", "who has it, who acknowledged, what is due",
    "Where an item has got: deliveries, acknowledgements, due times.", ("/status A-2026-0042",),
    _reference_only(c.StatusCommand), lambda ctx, cmd, policy: followup.status(ctx, cmd.reference, policy.platforms)))
_declare(CommandSpec("overdue", COORDINATION | SENDERS, "/overdue [TH or TH/desk]", "items past their due time",
    "Items past their acknowledgement or feedback time, for everyone or one country, desk or person.",
    ("/overdue TH/immigration",),
    _scoped(c.OverdueCommand), lambda ctx, cmd, policy: coordination.overdue_command(ctx, cmd.scope)))
_declare(CommandSpec("mine", EVERYONE, "/mine", "your open items",
    "The items you sent or hold that are still open.", ("/mine",),
    _no_arguments(c.MineCommand), lambda ctx, cmd, policy: followup.mine(ctx)))
_declare(CommandSpec("contacts", EVERYONE, "/contacts [TH]", "points of contact",
    "The points of contact, for everyone or one country or desk.", ("/contacts TH",),
    _scoped(c.ContactsCommand), lambda ctx, cmd, policy: info.contacts(ctx, cmd.scope), aliases=("directory",)))
_declare(CommandSpec("whoami", EVERYONE, "/whoami", "who the bot takes you for",
    "Your contact entry, organisation, desk and roles as the bot has them.", ("/whoami",),
    _no_arguments(c.WhoamiCommand), lambda ctx, cmd, policy: info.whoami(ctx), aliases=("me",)))
_declare(CommandSpec("help", EVERYONE, "/help [command]", "this list, or one command in detail",
    "The list of commands, or one command or field in detail.", ("/help alert",),
    _help, lambda ctx, cmd, policy: ctx.answer(COMMANDS.help_text(cmd.topic)),
    aliases=("start",)))  # Telegram sends /start when someone first opens the bot
_declare(CommandSpec("forward", SENDERS, '/forward REF to:VN purpose:"…"', "pass an item on",
    "Pass an item on to more recipients, with a purpose. Items under ORCON, H2/H3 or TLP:RED need the "
    "originator's consent, which the bot asks for; AMBER stays within the organisations that hold it.",
    ('/forward A-2026-0042 to:VN purpose:"joint investigation"',),
    parse_items.parse_forward, forwarding.forward, aliases=("fwd",)))
_declare(CommandSpec("consent", EVERYONE, "/consent REF yes|no [reason]", "answer a request to forward your item",
    "As originator, allow or refuse a forward of your item.", ("/consent A-2026-0042 no source at risk",),
    _consent, forwarding.consent))
_declare(CommandSpec("snooze", EVERYONE, "/snooze REF 4h [reason]", "hold reminders for a while",
    "Hold the reminders on an item for a while (90m, 4h, 2d, 1w; at most 30 days).",
    ("/snooze A-2026-0042 4h waiting for records",),
    _snooze, lambda ctx, cmd, policy: coordination.snooze(ctx, cmd.reference, cmd.duration, cmd.reason)))
_declare(CommandSpec("remind", EVERYONE, "/remind REF", "remind the recipients now",
    "Send a reminder to recipients who have not acknowledged or answered.", ("/remind A-2026-0042",),
    _reference_only(c.RemindCommand), lambda ctx, cmd, policy: coordination.remind(ctx, cmd.reference)))
_declare(CommandSpec("escalate", COORDINATION | SENDERS, "/escalate REF", "tell the coordinators",
    "Bring an item to the coordinators now.", ("/escalate A-2026-0042",),
    _reference_only(c.EscalateCommand), lambda ctx, cmd, policy: coordination.escalate(ctx, cmd.reference)))
_declare(CommandSpec("stats", COORDINATION | {Role.AUDITOR}, "/stats [30d|4w|3m|2026-10|2026]", "exchange statistics",
    "Exchange statistics for the last days (30d), weeks (4w) or months (3m — m means months here), "
    "or a calendar month (2026-10) or year (2026).", ("/stats 2026-10",),
    _stats, lambda ctx, cmd, policy: coordination.stats_command(ctx, cmd.period, policy.count_minimum)))
_declare(CommandSpec("arrangement", COORDINATION, "/arrangement add|end|list …",
    "sharing arrangements with their dates (coordinators)",
    "Record the arrangements organisations share under: between: two or more organisations, doc: the signed "
    "document, topics: (all when left out), from: and until: (days in UTC, the last one included; each "
    "optional), direction: both (the default) or one way as MY>CA. Routing checks them on the day: one not yet "
    "started or ended authorises nothing, and a refusal says which ended when. The coordinators are reminded "
    "once before one ends. /arrangement end takes its number (or its document in quotes) and the reason.",
    ("/arrangement list", parse_admin.ARRANGEMENT_ADD_EXAMPLE, parse_admin.ARRANGEMENT_END_EXAMPLE),
    parse_admin.parse_arrangement,
    lambda ctx, cmd, policy: (arrangements.arrangement_add(ctx, cmd, policy.membership_arrangement)
                              if isinstance(cmd, c.ArrangementAddCommand)
                              else arrangements.arrangement_end(ctx, cmd) if isinstance(cmd, c.ArrangementEndCommand)
                              else arrangements.arrangement_list(ctx)),
    aliases=("arrangements",)))
_declare(CommandSpec("member", ADMINISTRATION, "/member add|remove USER …", "onboard or offboard someone (admins)",
    "Onboard someone into every room they belong in, on every platform, or offboard them from all. "
    "USER is @alice:example.org (Matrix), @username or telegram:user:42 (Telegram). "
    f"Roles: {', '.join(role.value for role in Role)}.",
    (parse_admin.MEMBER_ADD_EXAMPLE, parse_admin.MEMBER_REMOVE_EXAMPLE),
    parse_admin.parse_member,
    lambda ctx, cmd, policy: (membership.member_add(ctx, cmd) if isinstance(cmd, c.MemberAddCommand)
                              else membership.member_remove(ctx, cmd))))
_declare(CommandSpec("rooms", COORDINATION, "/rooms", "the registered rooms",
    "The registered rooms and whose members they hold.", ("/rooms",),
    _no_arguments(c.RoomsCommand), lambda ctx, cmd, policy: membership.rooms(ctx)))
_declare(CommandSpec("room", ADMINISTRATION, "/room sync [--apply] | register CHAT … | retire CHAT REASON",
    "keep the rooms and their membership (admins)",
    "Compare room membership with the directory; --apply makes the changes. /room register records a room: "
    "name:, purpose: (network, country, organisation, coordination or management), orgs: whose members it "
    "holds, and optionally hubs: (an airport, seaport, border crossing or sea area, such as KUL) and topics:; a hub "
    "or topic room takes only items of its hubs or topics, and /alert … hub:KUL posts there where the caveat "
    "allows. /room retire stops all posting there.",
    ("/room sync --apply", parse_admin.ROOM_REGISTER_EXAMPLE, parse_admin.ROOM_RETIRE_EXAMPLE),
    parse_admin.parse_room,
    lambda ctx, cmd, policy: (rooms.room_register(ctx, cmd) if isinstance(cmd, c.RoomRegisterCommand)
                              else rooms.room_retire(ctx, cmd) if isinstance(cmd, c.RoomRetireCommand)
                              else membership.room_sync(ctx, cmd.apply))))
_declare(CommandSpec("device", ADMINISTRATION, "/device list|verify|blacklist USER [DEVICE]",
    "trust of Matrix devices (admins)",
    "See a Matrix user's devices with their keys, then verify one (after checking its key with its owner) "
    "or blacklist it. Where only verified devices may receive, deliveries wait until an admin decides.",
    ("/device list @alice:example.org", parse_admin.DEVICE_EXAMPLE),
    parse_admin.parse_device, lambda ctx, cmd, policy: devices.device(ctx, cmd)))
# A guided form or a command body still being typed is cancelled where it is kept (the Telegram
# form, the console); one that reaches the dispatcher has nothing left to cancel.
_declare(CommandSpec("cancel", EVERYONE, "/cancel", "stop a command you started",
    "Stop a command that is waiting for more from you.", ("/cancel",),
    _no_arguments(c.CancelCommand), lambda ctx, cmd, policy: ctx.answer(NOTHING_TO_CANCEL)))
