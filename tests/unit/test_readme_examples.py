"""Every command the README shows as an example parses through the registry, as a user would type it.

Inline examples (`/ack A-2026-0001`) and the command lines of the README's code blocks (an /alert,
/request or /correct with its text on the lines after it) are read from README.md. A fragment with a
placeholder (`/ack REF`, `/reply … text`, `/overdue [TH]`) is not an example and is left out. The few
examples the README gives of a refusal must stay refused, with the words it quotes."""

from __future__ import annotations

import re
from pathlib import Path

from alerts.items import Reference
from bot.config.settings import load_settings
from bot.connectors.matrix.sansio.inbound import reply_command
from handlers.command_list import COMMANDS
from handlers.commands import ParseError
from handlers.parser import parse
from tests.unit.test_registry import Bot

README = Path(__file__).resolve().parents[2] / "README.md"
NAMES = frozenset(spec.name for spec in COMMANDS.specs)
# Commands whose text goes on: in a code block, the lines after the first are theirs.
WITH_TEXT = frozenset({"alert", "request", "correct", "reply"})
PLACEHOLDER = re.compile(r"…|\[|\]|\||<|\b(?:REF|USER|PATH|DATE|CHAT|DEVICE|PERSON|BACKUP|NAME|text|outcome)\b")
COMMENT = re.compile(r"\s{2,}#.*$")
# Shown in the README as what is refused, and why.
REFUSED = {
    "/alert to:TH urgent tlp:red …": "comes after the text has begun",
}
# Names of a subcommand in the prose, not examples of it.
MENTIONS = {"/arrangement add", "/arrangement end", "/device verify", "/member add", "/member backup", "/member remove"}
# On Matrix, a command sent in reply to a delivery that names no item is about the delivered one: the
# README lists such commands after these words, and each must mean that command about the item.
REPLIED_AT = "is about the delivery you replied to ("
# Shown as the first line of a command whose text follows on the next lines (the console, two messages).
FIRST_LINES = {"/alert to:TH tlp:amber"}


def _command(text: str) -> str | None:
    match = re.match(r"/([a-z]+)\b", text)
    return match.group(1) if match and match.group(1) in NAMES else None


def replied_examples(readme: str) -> list[str]:
    """The commands the README shows sent in reply to a delivery, naming no item: `!ack`, and with
    what it says follows (`!snooze` with a time such as 4h, `!reply` with your text)."""
    start = readme.index(REPLIED_AT) + len(REPLIED_AT)
    listed = " ".join(readme[start:readme.index(")", start)].split())
    return [f"{command} {time or text}".rstrip() for command, time, text in
            re.findall(r"`([/!][a-z][^`]*)`(?: with (?:a time such as ([\w.]+)|(your text)))?", listed)]


def inline_examples(readme: str) -> list[str]:
    replied = set(replied_examples(readme))
    spans = [re.sub(r"^!", "/", s) for s in re.findall(r"`([/!][a-z]+ [^`\n]+)`", readme) if s not in replied]
    return sorted({s for s in spans if _command(s) and s not in REFUSED and s not in FIRST_LINES and s not in MENTIONS
                   and not PLACEHOLDER.search(s)})


def block_examples(readme: str) -> list[str]:
    found = []
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", readme, re.S | re.M):
        lines = block.split("\n")
        for at, line in enumerate(lines):
            line = re.sub(r"^\[[^\]]*\]\s+", "", line)  # "[photo of a passport page]  /alert …"
            line = re.sub(r"^!", "/", line)  # Matrix's prefix
            name = _command(line)
            if name is None:
                continue
            command = [COMMENT.sub("", line)]
            if name in WITH_TEXT:
                rest = lines[at + 1:]
                for index, more in enumerate(rest):
                    # The text ends at an empty line before the next command, or at the block's end;
                    # an empty line right after a first line without text opens the text.
                    nxt = rest[index + 1] if index + 1 < len(rest) else ""
                    if re.match(r"^(\[[^\]]*\]\s+)?[/!][a-z]", more):
                        break
                    if not more.strip() and (not nxt.strip() or re.match(r"^(\[[^\]]*\]\s+)?[/!][a-z]", nxt)):
                        break
                    command.append(more)
            example = "\n".join(command).rstrip()
            if not PLACEHOLDER.search(example.split("\n")[0]):
                found.append(example)
    return found


def test_every_inline_example_parses() -> None:
    examples = inline_examples(README.read_text(encoding="utf-8"))
    assert len(examples) >= 10  # the README's examples were found
    refused = {e: r.message for e in examples if isinstance(r := parse(e), ParseError)}
    assert refused == {}


def test_every_command_shown_in_reply_to_a_delivery_is_about_its_item() -> None:
    examples = replied_examples(README.read_text(encoding="utf-8"))
    assert len(examples) >= 5 and "!snooze 4h" in examples and "!reply your text" in examples
    for example in examples:
        result = parse(reply_command("A-2026-0001", example))
        assert result is not None and not isinstance(result, ParseError), (example, result)
        assert getattr(result, "reference", None) == Reference.parse("A-2026-0001"), (example, result)


def test_every_command_in_a_code_block_parses() -> None:
    examples = block_examples(README.read_text(encoding="utf-8"))
    assert len(examples) >= 20
    refused = {e: r.message for e in examples if isinstance(r := parse(e), ParseError)}
    assert refused == {}


def test_the_readmes_refusal_examples_are_refused_with_the_words_it_quotes() -> None:
    readme = README.read_text(encoding="utf-8")
    for left_out in MENTIONS | FIRST_LINES:  # the lists name what is in the README, no more
        assert f"`{left_out}`" in readme, left_out
    for example, words in REFUSED.items():
        assert f"`{example}`" in readme, example
        result = parse(example)
        assert isinstance(result, ParseError) and words in result.message, (example, result)


def test_every_alert_and_request_in_a_code_block_is_sent_on_the_sample_network() -> None:
    """Typed by a Malaysian officer on `make run`'s network: each is accepted (or held for release),
    never refused for its route, once the rooms the README registers beside them are there."""
    readme = README.read_text(encoding="utf-8")
    directory = load_settings(README.parent / "config.example.toml").directory()
    examples = block_examples(readme)
    rooms = [e for e in examples if e.startswith("/room register console:")]
    items = [e for e in examples if e.startswith(("/alert", "/request"))]
    assert rooms and len(items) >= 8
    refused = {}
    for example in items:
        bot = Bot(directory=directory)
        for room in rooms:
            assert bot.says("rso-admin", room)[0].startswith("Registered"), room
        answers = bot.says("my-officer", example)
        if not (answers and (" accepted (" in answers[0] or " is held (" in answers[0])):
            refused[example] = answers
    assert refused == {}


def test_the_console_member_example_adds_someone_on_the_sample_network() -> None:
    readme = README.read_text(encoding="utf-8")
    example = next(e for e in inline_examples(readme.replace("\n", " ")) if e.startswith("/member add console:"))
    directory = load_settings(README.parent / "config.example.toml").directory()
    assert Bot(directory=directory).says("rso-admin", example)[0].startswith("Added somchai ("), example


def test_the_guided_form_shown_is_what_the_form_asks() -> None:
    readme = README.read_text(encoding="utf-8")
    shown = next(b for b in re.findall(r"^```[a-z]*\n(.*?)^```", readme, re.S | re.M) if b.startswith("New alert · step"))
    bot = Bot(directory=load_settings(README.parent / "config.example.toml").directory())
    bot.says("my-officer", "/alert")
    asked = bot.says("my-officer", "TH")[0].replace("/cancel", "!cancel")  # the README shows it on Matrix
    head, _, rest = shown.partition("…\n")  # what the README leaves out of the middle
    assert asked.startswith(head) and asked.endswith(rest.rstrip("\n")), (shown, asked)



# Who types each dated example in the README's story, and how the bot's answer to it begins.
DATED = {
    "/away @": ("rso-coordinator", "National point of contact (Thailand) is away until "),
    "/away until:": ("th-npoc", "You are away until "),
    "/arrangement add ": ("rso-coordinator", "Recorded arrangement "),
    "/find ": ("my-officer", "Nothing found among the items you may see."),  # a past day is what /find looks back to
}


def test_every_dated_example_is_accepted_on_the_readmes_day() -> None:
    """The README's story is set on Monday 23 November 2026 (the Bot's clock here, alerts.clock.ManualClock's
    start): its examples with a date (`/away until:2026-12-24 …`) are valid that day, and are checked on it,
    never against the day the tests run, which would refuse them once their date has passed."""
    readme = README.read_text(encoding="utf-8")
    directory = load_settings(README.parent / "config.example.toml").directory()
    dated = {e for e in inline_examples(readme) + block_examples(readme) if re.search(r"\d{4}-\d\d-\d\d", e)}
    assert any(e.startswith("/away until:") for e in dated) and any(e.startswith("/arrangement add ") for e in dated)
    refused = {}
    for example in sorted(dated):
        [(who, begins)] = [spec for start, spec in DATED.items() if example.startswith(start)]  # each is known
        answers = Bot(directory=directory).says(who, example)
        if not (answers and answers[0].startswith(begins)):
            refused[example] = answers
    assert refused == {}
