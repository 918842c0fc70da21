"""Plain text from the bot's renderers to Telegram HTML, split to fit Telegram's 4,096-character limit.

The caveat banner (a first line "[TLP:AMBER] A-2026-0042 · URGENT alert") is shown in bold, and
every part of a split message repeats it, with "(part 1/3)" or "(continued 2/3)", so that no part of
a protected item is ever seen without its marking. Everything else is escaped with html.escape,
so a person's text with <, > or & is shown as typed and can never inject markup.

Telegram makes every "/word" in a message a tappable command that sends the bare word. A hint such as
"/ack A-2026-0042" would send "/ack" alone ("needs a reference"), so a command written with its
arguments, or one that is incomplete without them, is set in <code>: shown copyable, never tappable.
A command complete on its own (/help, /mine, /cancel) stays tappable.

Telegram counts the limit on the text after entities are parsed, in UTF-16 code units; so do we.
Parts break at line ends; a single line longer than a part breaks at its last space, or anywhere.
"""

from __future__ import annotations

import re
from html import escape

from handlers.command_list import COMMANDS

LIMIT = 4096
_SUFFIX_ROOM = len(" (continued 999/999)")
# What Telegram takes for a command: "/" after no word character, then up to 64 of [A-Za-z0-9_]
# (and @botname), not run on into a word, a path or a tag.
_COMMAND = r"(?<![\w/<>\\])/([A-Za-z0-9_]{1,64})(?:@[A-Za-z0-9_]{3,32})?(?![\w/<>\\])"
# What may follow it as an argument in a hint: a reference, a <placeholder>, an [optional part], a
# field (to:TH), a duration (4h), a word in capitals (REF, TEXT) or yes|no choices.
_ARGUMENT = r"(?:[AR]-\d{4}-\d{4,}|<[^<>\n]{1,40}>|\[[^\[\]\n]{1,40}\]|[a-z]+:\S+|\d+[mhdw]\b|[A-Z][A-Z_]+\b|\w+\|\w+)"
_HINT = re.compile(_COMMAND + r"(?:[ ]" + _ARGUMENT + r")*")
_OPENS_A_FORM = {"alert", "request"}  # alone, in a private chat, they start the guided form


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def is_banner(line: str) -> bool:
    return line.startswith("[TLP:")


def html_parts(text: str, limit: int = LIMIT) -> list[str]:
    """The text as one or more HTML messages, each at most `limit` characters once parsed."""
    text = text.replace("\r\n", "\n").strip("\n") or "(empty)"
    first, _, rest = text.partition("\n")
    banner = first if is_banner(first) else None
    if utf16_len(text) <= limit:
        return [_html(banner, "", rest if banner is not None else text)]
    body = rest if banner is not None else text
    room = limit - _SUFFIX_ROOM - (utf16_len(banner) + 1 if banner is not None else 0)
    chunks = _chunks(body, max(room, 64))
    total = len(chunks)
    parts = []
    for number, chunk in enumerate(chunks, start=1):
        label = f"(part 1/{total})" if number == 1 else f"(continued {number}/{total})"
        parts.append(_html(banner, label, chunk))
    return parts


def _html(banner: str | None, label: str, body: str) -> str:
    if banner is None:
        head = label
    else:
        head = f"<b>{escape(banner, quote=False)}</b>" + (f" {label}" if label else "")
    if head and body:
        return f"{head}\n{inline_html(body)}"
    return head or inline_html(body)


def inline_html(text: str) -> str:
    """`text` escaped, with every command hint that would be incomplete if tapped set in <code>."""
    out: list[str] = []
    position = 0
    for match in _HINT.finditer(text):
        if match.end() == match.end(1) and complete_alone(match[1]):
            continue  # "/help": tapping it sends all there is
        out.append(escape(text[position:match.start()], quote=False))
        out.append(f"<code>{escape(match[0], quote=False)}</code>")
        position = match.end()
    out.append(escape(text[position:], quote=False))
    return "".join(out)


def complete_alone(word: str) -> bool:
    """Whether the bare command does what it says: not a command of ours, or one whose usage needs
    nothing more ("/mine", "/help [command]")."""
    spec = COMMANDS.spec_for(word)
    if spec is None:
        return False  # not ours: tapping it would only earn "unknown command"
    if spec.name in _OPENS_A_FORM:
        return True
    return all(part.startswith("[") for part in spec.usage.split()[1:])


def _chunks(body: str, room: int) -> list[str]:
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in body.split("\n"):
        while utf16_len(line) > room:
            head, line = _cut(line, room)
            if current:
                chunks.append("\n".join(current))
                current, size = [], 0
            chunks.append(head)
        needed = utf16_len(line) + (1 if current else 0)
        if current and size + needed > room:
            chunks.append("\n".join(current))
            current, size, needed = [], 0, utf16_len(line)
        current.append(line)
        size += needed
    if current:
        chunks.append("\n".join(current))
    return [chunk for chunk in chunks if chunk.strip()] or [""]


def _cut(line: str, room: int) -> tuple[str, str]:
    """The longest head of `line` within `room` UTF-16 units, at a space where there is one."""
    used = 0
    end = 0
    for index, char in enumerate(line):
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > room:
            break
        used += width
        end = index + 1
    space = line.rfind(" ", 0, end)
    if space > end // 2:
        return line[:space], line[space + 1:]
    return line[:end], line[end:]
