"""Each command is declared once (handlers/command_list.py); the parser, /help, the role check and
the dispatcher all follow its declaration."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import ClassVar

import pytest

from alerts.clock import ManualClock
from alerts.directory import Directory
from alerts.due import DuePolicy
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage
from alerts.roles import Role
from handlers.command_list import ADMINISTRATION, COMMANDS, NOTHING_TO_CANCEL
from handlers.commands import ParseError
from handlers.context import CommandContext
from handlers.dispatcher import Dispatcher
from tests.fakes import MemoryDirectory, MemoryStore, MemoryUnitOfWork
from handlers.lexer import CommandSyntaxError
from handlers.post_item import PostingPolicy
from handlers.registry import HELP_GROUPS, CommandSpec, Registry
from handlers.vocabulary import Vocabulary
from tests.sample_network import person, small_network

SPECS = {spec.name: spec for spec in COMMANDS.specs}


@pytest.mark.parametrize("name", SPECS)
def test_every_command_is_declared_whole(name: str) -> None:
    spec = SPECS[name]
    assert spec.usage.startswith(f"/{name}") and spec.summary and spec.details, name
    assert spec.roles and callable(spec.parse) and callable(spec.run), name
    assert spec.examples, name


@pytest.mark.parametrize("name, example", [(spec.name, example) for spec in COMMANDS.specs for example in spec.examples])
def test_every_example_parses_to_its_command_and_back(name: str, example: str) -> None:
    command = COMMANDS.parse(example, Vocabulary())
    assert command is not None and not isinstance(command, ParseError), (example, command)
    assert command.name == name
    canonical = command.render()
    again = COMMANDS.parse(canonical, Vocabulary())
    assert again == command
    assert again is not None and not isinstance(again, ParseError) and again.render() == canonical


def test_a_word_is_declared_once() -> None:
    registry = Registry()
    registry.declare(_ping_spec(lambda ctx, command, policy: None))
    with pytest.raises(ValueError):
        registry.declare(_ping_spec(lambda ctx, command, policy: None))


def test_a_command_is_listed_in_one_of_the_help_groups() -> None:
    assert all(spec.group in HELP_GROUPS for spec in COMMANDS.specs)
    with pytest.raises(ValueError):
        Registry().declare(replace(_ping_spec(lambda ctx, command, policy: None), group="Misc"))


@dataclass(frozen=True)
class PingCommand:
    name: ClassVar[str] = "ping"

    def render(self) -> str:
        return "/ping"


def _parse_ping(rest: str, vocabulary: Vocabulary) -> PingCommand:
    if rest.strip():
        raise CommandSyntaxError("/ping takes nothing. Example: /ping")
    return PingCommand()


def _ping_spec(run: object) -> CommandSpec:
    return CommandSpec("ping", ADMINISTRATION, "/ping", "see whether the bot is there",
                       "The bot answers pong.", ("/ping",), _parse_ping, run, aliases=("p",))  # type: ignore[arg-type]


class Bot:
    def __init__(self, commands: Registry = COMMANDS, directory: Directory | None = None) -> None:
        self.store = MemoryStore()
        self.clock = ManualClock()
        counter = itertools.count(1)
        # The one directory the dispatcher reads and the unit of work changes (/member backup updates it).
        self.directory = MemoryDirectory(directory or small_network())
        self.dispatcher = Dispatcher(self.directory,
                                     PostingPolicy(DuePolicy.default(), {}), Vocabulary,
                                     lambda: f"key-{next(counter)}", commands)
        self._events = itertools.count(1)

    def says(self, who: str, text: str) -> list[str]:
        before = set(self.store.outbox)
        message = InboundMessage(f"e{next(self._events)}", UserRef.parse(f"console:{who}"),
                                 ChatRef.parse(f"console:@{who}"), text, self.clock.now())
        with MemoryUnitOfWork(self.store, self.directory) as uow:
            self.dispatcher.handle(uow, message)
            uow.commit()
        return [m.text for k, m in self.store.outbox.items() if k not in before
                and str(m.destination) == f"chat:{message.chat}"]


def test_a_command_declared_once_is_parsed_listed_checked_and_run() -> None:
    ran: list[PingCommand] = []

    def ping(ctx: CommandContext, command: PingCommand, policy: PostingPolicy) -> None:
        ran.append(command)
        ctx.answer("pong")

    registry = Registry()
    registry.declare(_ping_spec(ping))
    assert "You: /ping" in registry.help_text().splitlines()  # its group: You, when it names none
    assert "/ping" not in registry.help_text(None, small_network().contacts["my-officer"].roles)  # admins only
    assert registry.help_text("p") == "/ping — see whether the bot is there (also /p)\nThe bot answers pong.\nExample: /ping"
    assert registry.refusal("ping", small_network().contacts["admin"]) is None
    assert "needs one of these roles: admin" in (registry.refusal("ping", small_network().contacts["my-officer"]) or "")
    assert registry.refusal("alert", small_network().contacts["admin"]) == "Unknown command /alert. Send /help for the list."

    bot = Bot(registry)
    assert bot.says("admin", "/P") == ["pong"] and ran == [PingCommand()]
    assert bot.says("my-officer", "/ping") == ["/ping needs one of these roles: admin. Yours: officer."]
    assert bot.says("admin", "/ping now") == ["/ping takes nothing. Example: /ping"]
    assert bot.says("admin", "/pong")[0].startswith("Unknown command /pong — did you mean /ping?")
    assert bot.says("admin", "/alert to:TH x")[0].startswith("Unknown command /alert")  # only what it declares
    assert ran == [PingCommand()]


def test_cancel_outside_a_form_has_nothing_to_cancel() -> None:
    assert Bot().says("my-officer", "/cancel") == [NOTHING_TO_CANCEL]


def test_no_declared_command_answers_that_it_is_not_available() -> None:
    base = small_network()
    everyone = person("all-roles", "RSO", *Role)
    bot = Bot(directory=Directory.build(base.organisations.values(), [*base.contacts.values(), everyone], base.rooms))
    for spec in COMMANDS.specs:
        for example in spec.examples:
            answers = bot.says("all-roles", example)
            assert answers and not any("not available" in answer for answer in answers), (example, answers)
