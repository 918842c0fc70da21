"""A command is declared once, as a CommandSpec: its words, the roles it needs, how it is read, how
/help explains it, and what runs it. The parser, the role check, /help and the dispatcher all read
the Registry, so nothing about a command is written twice. The commands themselves are declared in
handlers/command_list.py.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from collections.abc import Set as AbstractSet
from typing import Any, Callable, Generic, TypeVar

from alerts.directory import Contact
from alerts.errors import InvalidValue
from alerts.roles import Role
from handlers import help as field_help
from handlers.commands import Command, ParseError
from handlers.context import CommandContext
from handlers.lexer import MAX_LENGTH, CommandSyntaxError, normalise_lines, shorten, split_head
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary

log = logging.getLogger(__name__)

EVERYONE = frozenset(Role)  # any member of the directory, whatever their roles
# The groups /help lists the commands in, in this order; each command names its own (CommandSpec.group).
SEND, ON_AN_ITEM, FIND, YOU, COORDINATE, ADMINISTER = "Send", "On an item", "Find", "You", "Coordinate", "Administer"
HELP_GROUPS = (SEND, ON_AN_ITEM, FIND, YOU, COORDINATE, ADMINISTER)
_PROBE = "text"  # what awaits_text() puts where the text goes, to see whether the rest is complete
INTERNAL_ERROR = "Sorry, I could not read that command. Send /help {name} for how to write it."

C = TypeVar("C", bound=Command)

# What follows the command word -> the command, or CommandSyntaxError or InvalidValue with one short message.
Parse = Callable[[str, Vocabulary], C]
# Carries out a command (of the class its Parse returns) in the context's unit of work; what it
# returns (post_item's Item, say) is not used.
Run = Callable[[CommandContext, C, PostingPolicy], object]


@dataclass(frozen=True)
class CommandSpec(Generic[C]):
    """A declaration ties a Parse to the Run of the same command class, so each `run` is checked
    against what its `parse` returns."""

    name: str  # the word /help, the role check and the audit log use; also a word it is typed as
    roles: frozenset[Role]  # whoever holds one of these may use it (EVERYONE: any member)
    usage: str  # the start of its /help line: "/ack REF"
    summary: str  # the rest of its /help line: "acknowledge an item"
    details: str  # /help NAME: what it does and when
    examples: tuple[str, ...]  # each parses to this command; /help NAME shows them
    parse: Parse[C]
    run: Run[C]
    aliases: tuple[str, ...] = ()  # other words it is typed as, named in its /help line
    # What its text is called ("alert"), for a command that ends with a text: sent without it, the
    # sender's next message is awaited as the text (handlers/dispatcher.py). None: it takes no text.
    text: str | None = None
    group: str = YOU  # where /help lists it (HELP_GROUPS)

    def allows(self, roles: AbstractSet[Role]) -> bool:
        """Whether someone holding `roles` may use it: the role check and /help's list both ask."""
        return self.roles == EVERYONE or bool(roles & self.roles)

    @property
    def help_line(self) -> str:
        also = f" (also {', '.join('/' + alias for alias in self.aliases)})" if self.aliases else ""
        return f"{self.usage} — {self.summary}{also}"


class Registry:
    def __init__(self) -> None:
        # Specs of every command class: Any, because each pairs its parse and run (checked where it is
        # declared) and the dispatcher hands a run only what the same spec's parse returned.
        self._specs: dict[str, CommandSpec[Any]] = {}  # in declaration order, which /help follows
        self._words: dict[str, CommandSpec[Any]] = {}  # every word a command is typed as, in lowercase

    def declare(self, spec: CommandSpec[C]) -> CommandSpec[C]:
        if spec.group not in HELP_GROUPS:
            raise ValueError(f"/{spec.name} is in no /help group")
        for word in (spec.name, *spec.aliases):
            if word in self._words or word != word.lower():  # a programming error, caught at import
                raise ValueError(f"/{word} is declared twice or not in lowercase")
            self._words[word] = spec
        self._specs[spec.name] = spec
        return spec

    @property
    def specs(self) -> tuple[CommandSpec[Any], ...]:
        return tuple(self._specs.values())

    def spec_for(self, word: str) -> CommandSpec[Any] | None:
        """The command a word (as typed, without / and in any case) stands for."""
        return self._words.get(word.lower())

    def name_for(self, word: str) -> str | None:
        spec = self.spec_for(word)
        return spec.name if spec else None

    def parse(self, text: str, vocabulary: Vocabulary) -> Command | ParseError | None:
        """Never raises: whatever goes wrong becomes a ParseError with one short message."""
        head = split_head(text)
        if head is None:
            return None
        word, bot_name, rest = head
        if bot_name is not None and not vocabulary.knows_bot(bot_name):
            return None
        spec = self._words.get(word)
        if spec is None:
            return ParseError(None, self._unknown_command(word))
        if len(text) > MAX_LENGTH:
            return ParseError(
                spec.name,
                f"That message is too long: {len(text):,} characters; at most {MAX_LENGTH:,}. "
                "Send a summary, for example the key facts and your ref:.",
            )
        try:
            command: Command = spec.parse(normalise_lines(rest), vocabulary)
            return command
        except (CommandSyntaxError, InvalidValue) as error:
            return ParseError(spec.name, str(error))
        except Exception:  # a bug must not take the bot down; the tests assert it never happens
            log.exception("parse failed on a /%s command", spec.name)
            return ParseError(spec.name, INTERNAL_ERROR.format(name=spec.name))

    def takes_text(self, text: str) -> bool:
        """Whether `text` opens a command that ends with a text (/alert, /request, /reply), by its word alone."""
        head = split_head(text)
        spec = self._words.get(head[0]) if head is not None else None
        return spec is not None and spec.text is not None

    def awaits_text(self, text: str, vocabulary: Vocabulary) -> CommandSpec[Any] | None:
        """The command `text` opens when all it lacks is its text: it does not parse as it is, and does
        once a text follows. None for anything else (another mistake, or a command that takes no text)."""
        head = split_head(text)
        spec = self._words.get(head[0]) if head is not None else None
        if spec is None or spec.text is None or not isinstance(self.parse(text, vocabulary), ParseError):
            return None
        completed = self.parse(f"{text.rstrip()}\n\n{_PROBE}", vocabulary)
        return spec if completed is not None and not isinstance(completed, ParseError) else None

    def _unknown_command(self, word: str) -> str:
        close = difflib.get_close_matches(word, list(self._words), n=1, cutoff=0.6) if len(word) <= 20 else []
        if close:
            return f"Unknown command /{word} — did you mean /{close[0]}? Send /help for the list."
        return f"Unknown command /{shorten(word, 20)}. Try /alert, /request, /ack, /reply or /status; /help lists all."

    def refusal(self, name: str, contact: Contact) -> str | None:
        """A short reason the contact may not use the command, or None when they may."""
        spec = self._specs.get(name)
        if spec is None:  # fail closed: nobody may use what was never declared
            return f"Unknown command /{name}. Send /help for the list."
        if spec.allows(contact.roles):
            return None
        needed = ", ".join(sorted(role.value for role in spec.roles))
        return f"/{name} needs one of these roles: {needed}. Yours: {', '.join(sorted(r.value for r in contact.roles))}."

    def help_topic(self, word: str) -> str:
        """The canonical help topic for what was typed: `/rfi` -> request, `due` -> feedback."""
        key = word.strip().lstrip("/!").rstrip(":").lower()
        return self.name_for(key) or field_help.FIELD_ALIASES.get(key) or key

    def help_text(self, topic: str | None = None, roles: AbstractSet[Role] | None = None) -> str:
        """/help lists, by group, the commands someone holding `roles` may use (None: every command),
        short enough for a phone; /help COMMAND (or a field) explains one, and says which roles it
        needs when `roles` hold none of them."""
        if topic is None or not topic.strip():
            return self._command_list(roles)
        key = self.help_topic(topic)
        spec = self._specs.get(key)
        if spec is not None:
            needs = ([f"Needs one of these roles: {', '.join(sorted(r.value for r in spec.roles))}."]
                     if roles is not None and not spec.allows(roles) else [])
            return "\n".join([spec.help_line, spec.details, *(f"Example: {example}" for example in spec.examples),
                              *needs])
        if key == "fields":
            return "\n".join(["Fields of /alert and /request:", *field_help.FIELDS.values()])
        if key in field_help.FIELDS:
            return field_help.FIELDS[key]
        names = ", ".join("/" + spec.name for spec in self._allowed(roles))
        return f"No help on '{shorten(topic, 20)}'. Commands: {names}. Send /help for what each does."

    def _allowed(self, roles: AbstractSet[Role] | None) -> list[CommandSpec[Any]]:
        return [spec for spec in self.specs if roles is None or spec.allows(roles)]

    def _command_list(self, roles: AbstractSet[Role] | None) -> str:
        allowed = self._allowed(roles)
        lines = ["Your commands:" if roles is not None else "Commands:"]
        for group in HELP_GROUPS:
            words = [f"/{spec.name}" for spec in allowed if spec.group == group]
            if words:
                lines.append(f"{group}: {' '.join(words)}")
        may_send = any(spec.name == "alert" for spec in allowed)
        fields = ", /help fields for the fields of /alert and /request" if may_send else ""
        lines.append(f"Send /help COMMAND for details (/help {allowed[0].name if allowed else 'help'}){fields}.")
        return "\n".join(lines)
