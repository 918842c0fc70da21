"""Every command the bot understands, each declared once: its words, roles, help, how it is read
and which handler runs it. The parser, the role check, /help and the dispatcher read COMMANDS.

A command with fields or sub-commands is read by handlers/parse_items.py or handlers/parse_admin.py;
the small ones are read here, next to their declaration.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Protocol, TypeVar

from alerts.focal import FOCAL_POINTS
from alerts.items import Reference, Selector
from alerts.roles import Role
from handlers import arrangements, coordination, devices, followup, forwarding, info, membership, parse_admin
from handlers import parse_items, portal, release, rooms
from handlers import correction, search, withdrawal
from handlers import commands as c
from handlers import away
from handlers.lexer import CommandSyntaxError, shorten, take_word
from handlers.post_item import post_item
from handlers.registry import (ADMINISTER, COORDINATE, EVERYONE, FIND, ON_AN_ITEM, SEND, YOU, CommandSpec, Parse,
                               Registry)
from handlers.values import (parse_duration, parse_organisation, parse_period, parse_scope, parse_topic, parse_yes_no,
                             take_reference)
from handlers.vocabulary import Vocabulary

SENDERS = frozenset({Role.OFFICER, Role.CONTACT, Role.COORDINATOR})
COORDINATION = frozenset({Role.COORDINATOR, Role.ADMIN})
ADMINISTRATION = frozenset({Role.ADMIN})
# Focal points manage their own people only: handlers/membership.py asks alerts/focal.py whose.
PEOPLE = ADMINISTRATION | FOCAL_POINTS
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
        return make(parse_scope(word, vocabulary, f"/{command} ") if word else None)

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


def _withdraw(rest: str, vocabulary: Vocabulary) -> c.WithdrawCommand:
    reference, after = take_reference(rest, "withdraw")
    if not after.strip():
        raise CommandSyntaxError(f"Say why after the reference; its recipients are told. "
                                 f"Example: /withdraw {reference} sent to the wrong country")
    return c.WithdrawCommand(reference, after.strip())


_FIND_KEYS = ("topic", "country", "ref", "from", "until", "page")
FIND_EXAMPLE = "/find passport topic:document-fraud country:TH from:2026-11-01"


def _page(value: str, example: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 10_000:
        raise CommandSyntaxError(f"page:{shorten(value, 12)} is not a page number: give 1, 2, 3… Example: {example}")
    return int(value)


def _day(key: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandSyntaxError(f"{key}:{shorten(value, 12)} is not a date: give it as YYYY-MM-DD. "
                                 f"Example: {FIND_EXAMPLE}") from None


def _find(rest: str, vocabulary: Vocabulary) -> c.FindCommand:
    """Words to look for and key:value filters, in any order; an unknown key is refused."""
    words: list[str] = []
    values: dict[str, str] = {}
    for word in rest.split():
        key, colon, value = word.partition(":")
        if not colon or not any(ch.isalpha() for ch in key):
            words.append(word.lower())
            continue
        key = key.lower()
        if key not in _FIND_KEYS:
            raise CommandSyntaxError(f"Unknown filter '{shorten(key, 20)}:'. /find takes text and "
                                     f"{', '.join(k + ':' for k in _FIND_KEYS)}. Example: {FIND_EXAMPLE}")
        if key in values or not value:
            raise CommandSyntaxError(f"Give {key}: once, with a value. Example: {FIND_EXAMPLE}")
        values[key] = value
    country = None
    if "country" in values:
        if "/" not in values["country"] and not values["country"].startswith("@"):
            # an unknown code is refused naming country:, the filter given, not the to: of /alert
            country = parse_organisation(values["country"], vocabulary, example="country:TH")
        else:
            scope = parse_scope(values["country"], vocabulary)
            if scope is None or scope.organisation is None or scope.desk is not None:
                raise CommandSyntaxError(f"country: takes a country or organisation code, such as country:TH. "
                                         f"Example: {FIND_EXAMPLE}")
            country = scope.organisation
    since = _day("from", values["from"]) if "from" in values else None
    until = _day("until", values["until"]) if "until" in values else None
    if since and until and until < since:
        raise CommandSyntaxError(f"until:{until.isoformat()} is before from:{since.isoformat()}: the last day comes "
                                 f"on or after the first. Example: {FIND_EXAMPLE}")
    return c.FindCommand(tuple(words), parse_topic(values["topic"], vocabulary) if "topic" in values else None,
                         country, values["ref"].upper() if "ref" in values else None, since, until,
                         _page(values["page"], FIND_EXAMPLE) if "page" in values else 1)


def _mine(rest: str, vocabulary: Vocabulary) -> c.MineCommand:
    everything, page = False, 1
    for word in rest.split():
        if word.lower() == "all" and not everything:
            everything = True
        elif word.lower().startswith("page:"):
            page = _page(word[5:], "/mine all page:2")
        else:
            raise CommandSyntaxError(f"Unexpected '{shorten(word, 30)}'. Use: /mine, or /mine all (closed items "
                                     "too), with page:2 for more")
    return c.MineCommand(everything, page)


def _history(rest: str, vocabulary: Vocabulary) -> c.HistoryCommand:
    reference, after = take_reference(rest, "history")
    page: int | None = None
    for word in after.split():
        if word.lower().startswith("page:") and page is None:
            page = _page(word[5:], f"/history {reference} page:2")
        else:
            raise CommandSyntaxError(f"Unexpected '{shorten(word, 30)}': /history takes a reference, and page:2 "
                                     f"for more. Example: /history {reference} page:2")
    return c.HistoryCommand(reference, page or 1)


def _consent(rest: str, vocabulary: Vocabulary) -> c.ConsentCommand:
    reference, after = take_reference(rest, "consent")
    answer, reason = take_word(after)
    example = f"/consent {reference} yes"
    if not answer:
        raise CommandSyntaxError(f"Say yes or no after the reference. Example: {example}")
    return c.ConsentCommand(reference, parse_yes_no(answer, "Consent", example), reason.strip())


def _decline(rest: str, vocabulary: Vocabulary) -> c.DeclineCommand:
    reference, after = take_reference(rest, "decline")
    if not after.strip():
        raise CommandSyntaxError(f"Say why after the reference; the originator is told. "
                                 f"Example: /decline {reference} source would be exposed")
    return c.DeclineCommand(reference, after.strip())


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
    text="alert", group=SEND))
_declare(CommandSpec("request", SENDERS, '/request to:TH purpose:"…" TEXT', "ask for information",
    "Ask for information. Needs purpose:, the reason the audit records. " + _ITEM_STYLES,
    ('/request to:TH due:48h purpose:"identity check" Please confirm passport N1234567',),
    parse_items.parse_request, lambda ctx, cmd, policy: post_item(ctx, cmd.draft, policy, cmd.confirmed),
    aliases=("req", "rfi"), text="request", group=SEND))
_declare(CommandSpec("ack", EVERYONE, "/ack REF", "acknowledge an item",
    "Acknowledge that you have an item. It stops the acknowledgement reminders.", ("/ack A-2026-0042",),
    _reference_only(c.AckCommand), lambda ctx, cmd, policy: followup.acknowledge(ctx, cmd.reference),
    aliases=("acknowledge",), group=ON_AN_ITEM))
_declare(CommandSpec("reply", EVERYONE, "/reply REF TEXT", "give feedback or an answer",
    "Send feedback on an alert or the answer to a request to its sender.",
    ("/reply A-2026-0042 Confirmed, stolen 2026-10-02",),
    _reply, lambda ctx, cmd, policy: followup.reply(ctx, cmd.reference, cmd.text), text="reply", group=ON_AN_ITEM))
_declare(CommandSpec("close", EVERYONE, "/close REF [outcome]", "close an item you sent (coordinators too)",
    "Close an item you sent (coordinators may close any), with an optional outcome. Late feedback is still "
    "relayed.", ("/close R-2026-0017 answered",),
    _close, lambda ctx, cmd, policy: followup.close(ctx, cmd.reference, cmd.outcome), group=ON_AN_ITEM))
_declare(CommandSpec("correct", EVERYONE, "/correct REF [fields] [text]", "send a corrected revision of your item",
    "Send the next revision of an item you sent (A-2026-0042 rev 2): the fields you give (to:, tlp:, topic:, "
    "grade:, priority:, feedback:, purpose:, ref:, handling:, orcon) and/or the new text replace the old. It "
    "goes to its new route and everyone acknowledges again; earlier copies are edited to say they are "
    "superseded (or, where they cannot be, followed by a line saying so), and recipients it no longer goes "
    "to have theirs taken back as by /withdraw.",
    ("/correct A-2026-0042 to:MY tlp:green",),
    parse_items.parse_correct, lambda ctx, cmd, policy: correction.correct(ctx, cmd, policy), group=ON_AN_ITEM))
_declare(CommandSpec("withdraw", EVERYONE, "/withdraw REF reason", "take back an item you sent (coordinators too)",
    "Take back an item you sent (coordinators may withdraw any): its delivered copies are removed where the "
    "platform allows (Matrix; Telegram within 48 hours), unsent copies and reminders are cancelled, and its "
    "recipients are told in one line, with your reason. Every later command about it says it was withdrawn.",
    ("/withdraw A-2026-0042 sent to the wrong country",),
    _withdraw, lambda ctx, cmd, policy: withdrawal.withdraw(ctx, cmd.reference, cmd.reason), group=ON_AN_ITEM))
_declare(CommandSpec("status", EVERYONE, "/status REF", "who has it, who acknowledged, what is due",
    "Where an item has got: deliveries, acknowledgements, due times.", ("/status A-2026-0042",),
    _reference_only(c.StatusCommand), lambda ctx, cmd, policy: followup.status(ctx, cmd.reference, policy.platforms),
    group=ON_AN_ITEM))
_declare(CommandSpec("overdue", COORDINATION | SENDERS, "/overdue [TH or TH/desk]", "items past their due time",
    "Items past their acknowledgement or feedback time, for everyone or one country, desk or person.",
    ("/overdue TH/immigration",),
    _scoped(c.OverdueCommand), lambda ctx, cmd, policy: coordination.overdue_command(ctx, cmd.scope), group=FIND))
_declare(CommandSpec("mine", EVERYONE, "/mine [all]", "your open items (all: closed ones too)",
    "The items you sent or hold that are still open; /mine all lists closed, withdrawn and erased ones too, "
    "newest first, a page at a time (page:2).", ("/mine", "/mine all page:2"),
    _mine, lambda ctx, cmd, policy: search.mine_all(ctx, cmd.page) if cmd.everything else followup.mine(ctx),
    group=FIND))
_declare(CommandSpec("find", EVERYONE, "/find TEXT [topic: country: ref: from: until:]", "search the items you may see",
    "Search the items you may see (those you sent or received; coordinators and auditors: every item) for "
    "words in their text, and by topic:, country: (sent to or from), ref: (a reference or its beginning, or "
    "their ref:), from: and until: (UTC days). Newest first, a page at a time (page:2).",
    (FIND_EXAMPLE, "/find ref:A-2026-00 page:2"),
    _find, lambda ctx, cmd, policy: search.find(ctx, cmd), group=FIND))
_declare(CommandSpec("history", EVERYONE, "/history REF [page:N]",
    "an item's revisions, acknowledgements, feedback and forwards",
    "What happened to an item, as you may see it: its revisions, each copy's delivery and acknowledgement, "
    "the feedback and updates sent with /reply (a recipient: their own feedback and the updates sent to them), "
    "its forward requests, and its closure. A long history comes a page at a time (page:2).",
    ("/history A-2026-0042", "/history A-2026-0042 page:2"),
    _history, lambda ctx, cmd, policy: search.history(ctx, cmd.reference, cmd.page), group=ON_AN_ITEM))
_declare(CommandSpec("away", EVERYONE, "/away until:YYYY-MM-DD backup:@contact [note]",
    "away: who stands in for you",
    "Set yourself away until a date (your last day away, your time; at most 366 days ahead) with a delegate in "
    "your organisation, who receives your new items and reminders and may /ack and /reply for you (shown as "
    "'for you'). TLP:RED items are not passed on: they wait for you. A backup who is away, or whose own "
    "stand-ins lead back to you (a circle), is refused; if your backup goes away later, your items go on to "
    "the person they named. Coordinators may set someone else: "
    "/away @person until:… backup:…. /away alone shows what is set; /away off (or /back) ends it, and you are "
    "told what arrived meanwhile.",
    ("/away until:2026-12-24 backup:@th-immigration on leave", "/away off", "/away"),
    away.parse_away, lambda ctx, cmd, policy: away.away(ctx, cmd), group=YOU))
_declare(CommandSpec("back", EVERYONE, "/back", "back from being away",
    "End your /away early: new items come to you again, and you are told what arrived meanwhile.", ("/back",),
    away.parse_back, lambda ctx, cmd, policy: away.back(ctx), group=YOU))
_declare(CommandSpec("contacts", EVERYONE, "/contacts [TH]", "points of contact",
    "The points of contact, for everyone or one country or desk.", ("/contacts TH",),
    _scoped(c.ContactsCommand), lambda ctx, cmd, policy: info.contacts(ctx, cmd.scope), aliases=("directory",),
    group=YOU))
_declare(CommandSpec("whoami", EVERYONE, "/whoami", "who the bot takes you for",
    "Your contact entry, organisation, desk and roles as the bot has them.", ("/whoami",),
    _no_arguments(c.WhoamiCommand), lambda ctx, cmd, policy: info.whoami(ctx), aliases=("me",), group=YOU))
_declare(CommandSpec("portal", EVERYONE, "/portal", "a login link to the web portal",
    "A one-time link to the web portal (boards, items, statistics with charts), for you alone: it works "
    "once, within a few minutes. Only in your direct chat with the bot.", ("/portal",),
    _no_arguments(c.PortalCommand), lambda ctx, cmd, policy: portal.portal_link(ctx, policy.portal), group=YOU))
_declare(CommandSpec("help", EVERYONE, "/help [command]", "your commands, or one in detail",
    "The commands your roles allow, by group; or one command or field in detail.", ("/help alert",),
    _help, lambda ctx, cmd, policy: ctx.answer(COMMANDS.help_text(
        cmd.topic, ctx.sender.roles if ctx.sender else None)),
    aliases=("start",), group=YOU))  # Telegram sends /start when someone first opens the bot
_declare(CommandSpec("forward", SENDERS, '/forward REF to:VN purpose:"…"', "pass an item on",
    "Pass an item on to more recipients, with a purpose. Items under ORCON, H2/H3 or TLP:RED need the "
    "originator's consent, which the bot asks for; AMBER stays within the organisations that hold it.",
    ('/forward A-2026-0042 to:VN purpose:"joint investigation"',),
    parse_items.parse_forward, forwarding.forward, aliases=("fwd",), group=SEND))
_declare(CommandSpec("consent", EVERYONE, "/consent REF yes|no [reason]", "answer a request to forward your item",
    "As originator, allow or refuse a forward of your item.", ("/consent A-2026-0042 no source at risk",),
    _consent, forwarding.consent, group=ON_AN_ITEM))
_declare(CommandSpec("approve", EVERYONE, "/approve REF", "release an item held for a second person's approval",
    "Items that need two-person release (TLP:RED by default) wait, unsent, until a second person approves: "
    "an approver of the originator's organisation, or a coordinator where it has none; never the originator. "
    "Approving sends it as it routes now.", ("/approve A-2026-0042",),
    _reference_only(c.ApproveCommand), lambda ctx, cmd, policy: release.approve(ctx, cmd.reference, policy),
    group=ON_AN_ITEM))
_declare(CommandSpec("decline", EVERYONE, "/decline REF reason", "refuse to release a held item",
    "Decline an item waiting for your approval, with the reason its originator is told. Nothing is sent, and it is "
    "closed.", ("/decline A-2026-0042 source would be exposed",),
    _decline, lambda ctx, cmd, policy: release.decline(ctx, cmd.reference, cmd.reason), group=ON_AN_ITEM))
_declare(CommandSpec("snooze", EVERYONE, "/snooze REF 4h [reason]", "hold reminders for a while",
    "Hold the reminders on an item for a while (90m, 4h, 2d, 1w; at most 30 days).",
    ("/snooze A-2026-0042 4h waiting for records",),
    _snooze, lambda ctx, cmd, policy: coordination.snooze(ctx, cmd.reference, cmd.duration, cmd.reason),
    group=ON_AN_ITEM))
_declare(CommandSpec("remind", EVERYONE, "/remind REF", "remind the recipients now",
    "Send a reminder to recipients who have not acknowledged or answered.", ("/remind A-2026-0042",),
    _reference_only(c.RemindCommand), lambda ctx, cmd, policy: coordination.remind(ctx, cmd.reference),
    group=ON_AN_ITEM))
_declare(CommandSpec("escalate", COORDINATION | SENDERS, "/escalate REF", "tell the coordinators",
    "Bring an item to the coordinators now.", ("/escalate A-2026-0042",),
    _reference_only(c.EscalateCommand), lambda ctx, cmd, policy: coordination.escalate(ctx, cmd.reference),
    group=ON_AN_ITEM))
_declare(CommandSpec("stats", COORDINATION | {Role.AUDITOR}, "/stats [30d|4w|3m|2026-10|2026]", "exchange statistics",
    "Exchange statistics for the last days (30d), weeks (4w) or months (3m — m means months here), "
    "or a calendar month (2026-10) or year (2026).", ("/stats 2026-10",),
    _stats, lambda ctx, cmd, policy: coordination.stats_command(ctx, cmd.period, policy.count_minimum),
    group=COORDINATE))
_declare(CommandSpec("arrangement", COORDINATION, "/arrangement add|end|list …",
    "sharing arrangements with their dates (coordinators and admins)",
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
    aliases=("arrangements",), group=COORDINATE))
_declare(CommandSpec("member", PEOPLE, "/member add|remove|backup USER …",
    "onboard or offboard someone (admins; focal points: their own people)",
    "Onboard someone into every room they belong in, on every platform, or offboard them from all; "
    "/member backup USER BACKUP (or none) names who takes over their open items when they leave. "
    "USER is @alice:example.org (Matrix), @username or telegram:user:42 (Telegram), or a mention. "
    "/member add also takes name:, backup: (a contact) and tz: (an IANA zone, or tz:default for the network's). "
    "Admins manage everyone; a national focal point the people of their own country, an organisational "
    "focal point those of their own organisation (in a country: their own desk), with the roles officer, "
    "contact and focal point. "
    f"Roles: {', '.join(role.value for role in Role)}.",
    (parse_admin.MEMBER_ADD_EXAMPLE, parse_admin.MEMBER_ADD_FULL_EXAMPLE, parse_admin.MEMBER_REMOVE_EXAMPLE,
     parse_admin.MEMBER_BACKUP_EXAMPLE),
    parse_admin.parse_member,
    lambda ctx, cmd, policy: (membership.member_add(ctx, cmd) if isinstance(cmd, c.MemberAddCommand)
                              else membership.member_backup(ctx, cmd) if isinstance(cmd, c.MemberBackupCommand)
                              else membership.member_remove(ctx, cmd)), group=ADMINISTER))
_declare(CommandSpec("reassign", COORDINATION, "/reassign REF to:PERSON", "give a left person's copies to someone",
    "Coordinators: the copies of an item whose recipients have left the directory (open, not answered) go to "
    "PERSON, as if its originator had named them (caveat and arrangements checked); they and the originator are "
    "told.", (parse_admin.REASSIGN_EXAMPLE,),
    parse_admin.parse_reassign, lambda ctx, cmd, policy: membership.reassign(ctx, cmd, policy), group=COORDINATE))
_declare(CommandSpec("rooms", COORDINATION, "/rooms", "the registered rooms",
    "The registered rooms and whose members they hold.", ("/rooms",),
    _no_arguments(c.RoomsCommand), lambda ctx, cmd, policy: membership.rooms(ctx), group=COORDINATE))
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
                              else membership.room_sync(ctx, cmd.apply)), group=ADMINISTER))
_declare(CommandSpec("device", ADMINISTRATION, "/device list|verify|blacklist USER [DEVICE]",
    "trust of Matrix devices (admins)",
    "See a Matrix user's devices with their keys, then verify one (after checking its key with its owner) "
    "or blacklist it. Where only verified devices may receive, deliveries wait until an admin decides.",
    ("/device list @alice:example.org", parse_admin.DEVICE_EXAMPLE),
    parse_admin.parse_device, lambda ctx, cmd, policy: devices.device(ctx, cmd), group=ADMINISTER))
# A guided form or a command body still being typed is cancelled where it is kept (the Telegram
# form, the console); one that reaches the dispatcher has nothing left to cancel.
_declare(CommandSpec("cancel", EVERYONE, "/cancel", "stop a command you started",
    "Stop a command that is waiting for more from you.", ("/cancel",),
    _no_arguments(c.CancelCommand), lambda ctx, cmd, policy: ctx.answer(NOTHING_TO_CANCEL), group=YOU))
