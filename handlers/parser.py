"""parse(): text typed in a chat -> a Command, a ParseError to show the person, or None.

None means the text is not addressed to this bot as a command (no leading / or !, or
Telegram's /cmd@OtherBot); the caller stays silent. A ParseError with command None is an unknown
command word, which a caller may choose not to answer in a busy group.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable
from datetime import timedelta

from alerts.errors import InvalidValue
from handlers import parse_admin, parse_items
from handlers.commands import (
    ALIASES,
    AckCommand,
    CancelCommand,
    CloseCommand,
    Command,
    ConsentCommand,
    ContactsCommand,
    EscalateCommand,
    HelpCommand,
    MineCommand,
    OverdueCommand,
    ParseError,
    RemindCommand,
    ReplyCommand,
    RoomsCommand,
    SnoozeCommand,
    StatsCommand,
    StatusCommand,
    WhoamiCommand,
)
from handlers.help import help_topic
from handlers.lexer import MAX_LENGTH, CommandSyntaxError, FieldSpec, normalise_lines, shorten, split_head, take_word
from handlers.values import parse_duration, parse_period, parse_scope, parse_yes_no, take_reference
from handlers.vocabulary import Vocabulary

__all__ = ["parse", "ParseError", "Command", "Vocabulary", "MAX_LENGTH", "MAX_SNOOZE"]

log = logging.getLogger(__name__)

# Every command that takes fields: what comes before its fields (the command word and positional
# words, as an example) -> the fields it takes. Tests draw every key and flag from here.
FIELD_SPECS: dict[str, FieldSpec] = {
    "/alert": parse_items.ITEM_FIELDS,
    "/request": parse_items.ITEM_FIELDS,
    "/forward A-2026-0042": parse_items.FORWARD_FIELDS,
    "/member add @alice:example.org": parse_admin.MEMBER_ADD_FIELDS,
    "/member remove @alice:example.org": parse_admin.MEMBER_REMOVE_FIELDS,
}

INTERNAL_ERROR = "Sorry, I could not read that command. Send /help {name} for how to write it."
MAX_SNOOZE = timedelta(days=30)


def parse(text: str, vocabulary: Vocabulary = Vocabulary()) -> Command | ParseError | None:
    """Never raises: whatever goes wrong becomes a ParseError with one short message."""
    head = split_head(text)
    if head is None:
        return None
    word, bot_name, rest = head
    if bot_name is not None and not vocabulary.knows_bot(bot_name):
        return None
    name = ALIASES.get(word)
    if name is None:
        return ParseError(None, _unknown_command(word))
    if len(text) > MAX_LENGTH:
        return ParseError(
            name,
            f"That message is too long: {len(text):,} characters; at most {MAX_LENGTH:,}. "
            "Send a summary, for example the key facts and your ref:.",
        )
    try:
        return _PARSERS[name](normalise_lines(rest), vocabulary)
    except (CommandSyntaxError, InvalidValue) as error:
        return ParseError(name, str(error))
    except Exception:  # a bug must not take the bot down; the tests assert it never happens
        log.exception("parse failed on a /%s command", name)
        return ParseError(name, INTERNAL_ERROR.format(name=name))


def _unknown_command(word: str) -> str:
    close = difflib.get_close_matches(word, list(ALIASES), n=1, cutoff=0.6) if len(word) <= 20 else []
    if close:
        return f"Unknown command /{word} — did you mean /{close[0]}? Send /help for the list."
    return f"Unknown command /{shorten(word, 20)}. Try /alert, /request, /ack, /reply or /status; /help lists all."


def _nothing_more(text: str, usage: str) -> None:
    if text.strip():
        raise CommandSyntaxError(f"Unexpected '{shorten(text.strip(), 30)}'. Use: {usage}")


def _reference_only(command: str, make: Callable) -> Callable[[str, Vocabulary], Command]:
    def parse_reference_command(rest: str, vocabulary: Vocabulary) -> Command:
        reference, after = take_reference(rest, command)
        hint = f" To answer, use /reply {reference} your text." if command == "ack" else ""
        if after.strip():
            raise CommandSyntaxError(
                f"Unexpected '{shorten(after.strip(), 30)}': /{command} takes only a reference.{hint} "
                f"Example: /{command} {reference}"
            )
        return make(reference)

    return parse_reference_command


def _no_arguments(command: str, make: Callable[[], Command]) -> Callable[[str, Vocabulary], Command]:
    def parse_bare_command(rest: str, vocabulary: Vocabulary) -> Command:
        _nothing_more(rest, f"/{command} on its own")
        return make()

    return parse_bare_command


def _scoped(command: str, make: Callable) -> Callable[[str, Vocabulary], Command]:
    def parse_scoped_command(rest: str, vocabulary: Vocabulary) -> Command:
        word, after = take_word(rest)
        _nothing_more(after, f"/{command}, /{command} TH or /{command} TH/immigration")
        return make(parse_scope(word, vocabulary) if word else None)

    return parse_scoped_command


def _reply(rest: str, vocabulary: Vocabulary) -> ReplyCommand:
    reference, after = take_reference(rest, "reply")
    if not after.strip():
        raise CommandSyntaxError(
            f"Write your feedback after the reference. Example: /reply {reference} Confirmed, stolen 2026-10-02"
        )
    return ReplyCommand(reference, after.strip())


def _close(rest: str, vocabulary: Vocabulary) -> CloseCommand:
    reference, after = take_reference(rest, "close")
    return CloseCommand(reference, after.strip())


def _consent(rest: str, vocabulary: Vocabulary) -> ConsentCommand:
    reference, after = take_reference(rest, "consent")
    answer, reason = take_word(after)
    example = f"/consent {reference} yes"
    if not answer:
        raise CommandSyntaxError(f"Say yes or no after the reference. Example: {example}")
    return ConsentCommand(reference, parse_yes_no(answer, "Consent", example), reason.strip())


def _snooze(rest: str, vocabulary: Vocabulary) -> SnoozeCommand:
    reference, after = take_reference(rest, "snooze")
    word, reason = take_word(after)
    example = f"/snooze {reference} 4h waiting for records"
    if not word:
        raise CommandSyntaxError(f"Say for how long, such as 4h or 2d. Example: {example}")
    return SnoozeCommand(reference, parse_duration(word, "Snooze time", example, MAX_SNOOZE), reason.strip())


def _stats(rest: str, vocabulary: Vocabulary) -> StatsCommand:
    word, after = take_word(rest)
    _nothing_more(after, "/stats, /stats 30d or /stats 2026-10")
    return StatsCommand(parse_period(word) if word else None)


def _help(rest: str, vocabulary: Vocabulary) -> HelpCommand:
    word, _ = take_word(rest)  # `/help member add` asks about /member
    return HelpCommand(help_topic(word) or None)


_PARSERS: dict[str, Callable[[str, Vocabulary], Command]] = {
    "alert": parse_items.parse_alert,
    "request": parse_items.parse_request,
    "ack": _reference_only("ack", AckCommand),
    "reply": _reply,
    "close": _close,
    "status": _reference_only("status", StatusCommand),
    "overdue": _scoped("overdue", OverdueCommand),
    "mine": _no_arguments("mine", MineCommand),
    "contacts": _scoped("contacts", ContactsCommand),
    "whoami": _no_arguments("whoami", WhoamiCommand),
    "help": _help,
    "forward": parse_items.parse_forward,
    "consent": _consent,
    "snooze": _snooze,
    "remind": _reference_only("remind", RemindCommand),
    "escalate": _reference_only("escalate", EscalateCommand),
    "stats": _stats,
    "member": parse_admin.parse_member,
    "rooms": _no_arguments("rooms", RoomsCommand),
    "room": parse_admin.parse_room,
    "device": parse_admin.parse_device,
    "cancel": _no_arguments("cancel", CancelCommand),
}
