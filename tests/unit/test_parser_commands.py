"""The command word, and every command other than /alert, /request and /forward."""

from __future__ import annotations

import ast
import sys
from dataclasses import is_dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from alerts.items import ItemDraft, ItemKind, Reference, Selector, SelectorKind
from alerts.roles import Role
from handlers import commands as c
from handlers.command_list import COMMANDS
from handlers.parser import parse
from handlers.vocabulary import Vocabulary

# Every class a command is parsed to: a dataclass of handlers.commands with a name.
COMMAND_CLASSES = frozenset(
    cls for cls in vars(c).values() if is_dataclass(cls) and isinstance(getattr(cls, "name", None), str)
)

VOCABULARY = Vocabulary(
    organisations=frozenset({"TH", "MY", "IOM"}),
    desks={"TH": ("immigration", "police")},
    bot_username="LiaisonBot",
)
REF = Reference.parse("A-2026-0042")
REQ = Reference.parse("R-2026-0017")
TH = Selector(SelectorKind.ORGANISATION, organisation="TH")
TH_IMMIGRATION = Selector(SelectorKind.DESK, organisation="TH", desk="immigration")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("/ack A-2026-0042", c.AckCommand(REF)),
        ("/acknowledge a-2026-0042", c.AckCommand(REF)),
        ("  !ACK\nA-2026-0042  ", c.AckCommand(REF)),
        ("/reply A-2026-0042 Confirmed, stolen 2026-10-02", c.ReplyCommand(REF, "Confirmed, stolen 2026-10-02")),
        ("/reply A-2026-0042 line one\nto:TH line two\n", c.ReplyCommand(REF, "line one\nto:TH line two")),
        ("/close R-2026-0017 answered", c.CloseCommand(REQ, "answered")),
        ("/close R-2026-0017", c.CloseCommand(REQ, "")),
        ("/status A-2026-0042", c.StatusCommand(REF)),
        ("/overdue", c.OverdueCommand(None)),
        ("/overdue all", c.OverdueCommand(None)),
        ("/overdue tha", c.OverdueCommand(TH)),
        ("/overdue TH/immigration", c.OverdueCommand(TH_IMMIGRATION)),
        ("/overdue @th-npoc", c.OverdueCommand(Selector(SelectorKind.PERSON, person="th-npoc"))),
        ("/mine", c.MineCommand()),
        ("/contacts", c.ContactsCommand(None)),
        ("/directory TH", c.ContactsCommand(TH)),
        ("/whoami", c.WhoamiCommand()),
        ("/me", c.WhoamiCommand()),
        ("/help", c.HelpCommand(None)),
        ("/start", c.HelpCommand(None)),
        ("/help alert", c.HelpCommand("alert")),
        ("/help /RFI", c.HelpCommand("request")),
        ("/help member add", c.HelpCommand("member")),
        ("/help due", c.HelpCommand("feedback")),
        ("/help nonsense", c.HelpCommand("nonsense")),
        ("/consent A-2026-0042 yes", c.ConsentCommand(REF, True, "")),
        ("/consent A-2026-0042 NO source at risk", c.ConsentCommand(REF, False, "source at risk")),
        ("/snooze A-2026-0042 4h waiting for records", c.SnoozeCommand(REF, timedelta(hours=4), "waiting for records")),
        ("/snooze A-2026-0042 1d12h", c.SnoozeCommand(REF, timedelta(hours=36), "")),
        ("/remind A-2026-0042", c.RemindCommand(REF)),
        ("/escalate A-2026-0042", c.EscalateCommand(REF)),
        ("/stats", c.StatsCommand(None)),
        ("/stats 30D", c.StatsCommand("30d")),
        ("/stats 4weeks", c.StatsCommand("4w")),
        ("/stats 3mo", c.StatsCommand("3m")),
        ("/stats 2026-10", c.StatsCommand("2026-10")),
        ("/stats 2026", c.StatsCommand("2026")),
        ("/member add @user:server country:TH role:contact desk:immigration",
         c.MemberAddCommand("matrix:@user:server", "TH", Role.CONTACT, "immigration")),
        ("/member add telegram:user:42 org:iom role:npoc", c.MemberAddCommand("telegram:user:42", "IOM", Role.CONTACT, None)),
        ("/member add telegram:42 country:THA role:officer", c.MemberAddCommand("telegram:user:42", "TH", Role.OFFICER, None)),
        ("/member add @somchai_k\nCountry: TH\nRole: admin", c.MemberAddCommand("@somchai_k", "TH", Role.ADMIN, None)),
        ("/member add console:alice country:MY role:auditor", c.MemberAddCommand("console:alice", "MY", Role.AUDITOR, None)),
        ('/member remove @user:server reason:"left the service"',
         c.MemberRemoveCommand("matrix:@user:server", "left the service")),
        ("/member remove matrix:@user:server left the service",
         c.MemberRemoveCommand("matrix:@user:server", "left the service")),
        ("/member remove @user:server", c.MemberRemoveCommand("matrix:@user:server", None)),
        ("/member remove th-npoc left", c.MemberRemoveCommand("th-npoc", "left")),  # a contact id, as /contacts shows
        ("/rooms", c.RoomsCommand()),
        ("/room sync", c.RoomSyncCommand(False)),
        ("/room sync --apply", c.RoomSyncCommand(True)),
        ("/room SYNC —apply", c.RoomSyncCommand(True)),
        ("/cancel", c.CancelCommand()),
        ("/ack@LiaisonBot A-2026-0042", c.AckCommand(REF)),
        ("/ack@liaisonbot A-2026-0042", c.AckCommand(REF)),
    ],
)
def test_commands(text: str, expected: c.Command) -> None:
    assert parse(text, VOCABULARY) == expected


@pytest.mark.parametrize(
    "text",
    ["", "hello", "ack A-2026-0042", "/ ack", "//ack", "/usr/bin is a path", "/ack@OtherBot A-2026-0042",
     "!!!", "/123", "/ack: A-2026-0042", "/@LiaisonBot"],
)
def test_not_a_command(text: str) -> None:
    assert parse(text, VOCABULARY) is None


def test_any_bot_name_is_accepted_when_none_is_configured() -> None:
    assert parse("/ack@AnyBot A-2026-0042") == c.AckCommand(REF)


@pytest.mark.parametrize(
    "text, command, expected_words",
    [
        ("/alrt to:TH x", None, ["Unknown command /alrt", "did you mean /alert?", "/help"]),
        ("/frobnicate", None, ["Unknown command /frobnicate", "/alert", "/help"]),
        ("/ack", "ack", ["/ack needs a reference", "Example: /ack A-2026-0042"]),
        ("/ack 42", "ack", ["Reference '42'", "A-YYYY-NNNN", "Example: /ack A-2026-0042"]),
        ("/ack A-2026-0042 thanks", "ack", ["Unexpected 'thanks'", "/reply A-2026-0042", "Example: /ack"]),
        ("/reply A-2026-0042", "reply", ["Write your feedback", "Example: /reply A-2026-0042"]),
        ("/status A-2026-0042 now", "status", ["Unexpected 'now'"]),
        ("/overdue XX", "overdue", ["Organisation 'XX'", "IOM, MY, TH"]),
        ("/overdue TH/visa", "overdue", ["Desk 'visa'", "immigration, police"]),
        ("/overdue TH MY", "overdue", ["Unexpected 'MY'", "/overdue TH/immigration"]),
        ("/mine please", "mine", ["Unexpected 'please'", "/mine all"]),
        ("/consent A-2026-0042", "consent", ["Say yes or no", "Example: /consent A-2026-0042 yes"]),
        ("/consent A-2026-0042 perhaps", "consent", ["Consent 'perhaps'", "yes or no"]),
        ("/snooze A-2026-0042", "snooze", ["Say for how long", "Example: /snooze"]),
        ("/snooze A-2026-0042 soon", "snooze", ["Snooze time 'soon'", "90m, 24h"]),
        ("/snooze A-2026-0042 31d", "snooze", ["Snooze time '31d'", "up to 30d"]),
        ("/stats 0d", "stats", ["Period '0d'", "30d, 4w, 3m (months)"]),
        ("/stats 2026-13", "stats", ["Period '2026-13'"]),
        ("/stats 30d extra", "stats", ["Unexpected 'extra'"]),
        ("/member", "member", ["/member add USER", "Example: /member add"]),
        ("/member list", "member", ["/member add USER"]),
        ("/member add", "member", ["needs a user", "Example: /member add"]),
        ("/member add bob country:TH role:contact", "member", ["User 'bob'", "@alice:example.org"]),
        ("/member add @u:s role:contact", "member", ["country:", "Example: /member add"]),
        ("/member add @u:s country:TH", "member", ["role:", "officer, contact"]),
        ("/member add @u:s country:TH role:boss", "member", ["Role 'boss'", "Example: role:contact"]),
        ("/member add @u:s country:XX role:contact", "member", ["Organisation 'XX'", "Example: country:TH"]),
        ("/member add @u:s country:TH role:contact desk:visa", "member", ["Desk 'visa'", "Example: desk:immigration"]),
        ("/member add @u:s country:TH role:contact extra words", "member", ["Unexpected 'extra words'"]),
        ("/member add @u:s contry:TH role:contact", "member", ["Unknown field 'contry'", "did you mean country?"]),
        ("/member remove @u:s reason:x and more", "member", ["Give the reason once"]),
        ("/member remove th:npoc!", "member", ["'th:npoc!' is neither an account nor a contact id",
                                               'Example: /member remove @alice:example.org reason:"left the service"']),
        ("/member remove", "member", ["needs a user", "Example: /member remove"]),
        ("/room", "room", ["/room sync", "--apply"]),
        ("/room sync now", "room", ["/room sync"]),
        ("/ack " + "x" * 16_100, "ack", ["too long", "16,000"]),
    ],
)
def test_errors(text: str, command: str | None, expected_words: list[str]) -> None:
    result = parse(text, VOCABULARY)
    assert isinstance(result, c.ParseError), result
    assert result.command == command
    assert str(result) == result.message
    for words in expected_words:
        assert words in result.message
    assert "\n" not in result.message and len(result.message) < 300


def test_a_long_text_that_is_no_command_is_none() -> None:
    assert parse("x" * 100_000) is None


def test_every_command_names_its_top_level_command() -> None:
    # Role checks and /help key on the name: /member add and /member remove are both "member".
    assert len(COMMAND_CLASSES) >= len(COMMANDS.specs)
    for command_class in COMMAND_CLASSES:
        spec = COMMANDS.spec_for(command_class.name)
        assert spec is not None and spec.name == command_class.name, command_class


def test_an_alert_command_holds_an_alert_draft() -> None:
    with pytest.raises(ValueError):
        c.RequestCommand(ItemDraft(kind=ItemKind.ALERT, body="x", recipients=(TH,)))


def test_handlers_language_modules_import_only_alerts_and_the_standard_library() -> None:
    allowed_roots = {"alerts", "handlers", "__future__"}
    for name in ["lexer", "commands", "parser", "parse_items", "parse_admin", "values", "help", "vocabulary", "registry",
                 "command_list"]:
        path = Path(__file__).parents[2] / "handlers" / f"{name}.py"
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                for module in modules:
                    root = module.split(".")[0]
                    assert root in allowed_roots or root in sys.stdlib_module_names, f"{name}.py imports {module}"
