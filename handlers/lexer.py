"""Reading command text: the command word, `key:value` fields, quoted values, and the free text.

The two styles of ARCHITECTURE.md section 4 share one reader:

- The first line (after the command word) is read token by token. Leading `key:value` tokens are
  fields; the first token that is not a known field starts the free text, which runs to the end.
  `key: value` (a space after the colon) takes the next word as the value.
- Each later line, until the free text starts, is a field line if it begins with a known key.
  `Key: value` (a space after the colon) is a form line: the value runs to the end of the line.
  `key:value ...` (no space) is read like the first line, several fields to a line; should text
  follow them, the whole line is read as one form line instead (`Purpose:identity check`).
  Any other line starts the free text; so does whatever follows a blank line, which is how a body
  may begin with something like `Topic: ...`.

A key that is a near miss of a known one (`Tpoic:`) is an error rather than the start of the body,
so that a typo never sends a field as text. Quotes are only special at the start of a value.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

MAX_LENGTH = 16_000


class CommandSyntaxError(Exception):
    """Text that cannot be read. The message is shown to the person as it is."""


_HEAD = re.compile(r"\s*[/!]([A-Za-z][A-Za-z0-9_-]*)(?:@([A-Za-z0-9_]+))?(?=\s|$)")
_KEY = re.compile(r"([A-Za-z][A-Za-z_-]*):")
_WORD = re.compile(r"\S+")

# Opening quote -> the characters that close it. Phones type curly quotes; some keyboards use the
# same curly character at both ends, or low-high quotes („...“).
_CLOSERS = {'"': '"', "'": "'", "“": "”“", "”": "”", "„": "“”", "‘": "’‘", "’": "’", "«": "»"}
OPENING_QUOTES = frozenset(_CLOSERS)


def split_head(text: str) -> tuple[str, str | None, str] | None:
    """(command word, @BotName or None, rest) when the text starts like a command, else None."""
    match = _HEAD.match(text)
    if match is None:
        return None
    return match[1].lower(), match[2], text[match.end():]


def normalise_lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def take_word(text: str) -> tuple[str, str]:
    """The first whitespace-separated word and the text after it; ("", "") when there is none."""
    match = _WORD.search(text)
    if match is None:
        return "", ""
    return match[0], text[match.end():]


def shorten(text: str, limit: int = 40) -> str:
    """A value as it may be quoted back in an error message on a phone screen."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_quoted(text: str, start: int, what: str) -> tuple[str, int]:
    """The value inside the quotes opening at text[start], and the index after the closing quote.

    A backslash escapes a closing quote or another backslash; any other backslash is kept as is,
    so that `C:\\cases` typed inside quotes survives. Quotes do not span lines.
    """
    closers = _CLOSERS[text[start]]
    chars: list[str] = []
    index = start + 1
    while index < len(text) and text[index] != "\n":
        char = text[index]
        if char == "\\" and index + 1 < len(text) and (text[index + 1] in closers or text[index + 1] == "\\"):
            chars.append(text[index + 1])
            index += 2
            continue
        if char in closers:
            return "".join(chars), index + 1
        chars.append(char)
        index += 1
    raise CommandSyntaxError(
        f"The quote after {what} is not closed. Close it on the same line. Example: {what}\"identity check\""
    )


def unquote_whole(value: str, what: str) -> str:
    """A form line's value: without its quotes when it is one quoted string, else as written."""
    if value and value[0] in OPENING_QUOTES:
        inner, end = read_quoted(value, 0, what)
        if end == len(value):
            return inner.strip()
    return value


def quote(value: str) -> str:
    """The value as a token that reads back as the same value: quoted only where it must be."""
    if value and not any(c.isspace() for c in value) and value[0] not in OPENING_QUOTES:
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class Field:
    name: str  # canonical field name
    value: str  # unquoted and stripped; "" when given empty
    typed: str  # the key as the person typed it, for messages


@dataclass(frozen=True)
class FieldSpec:
    """The fields one command accepts."""

    keys: Mapping[str, str]  # key or alias in lowercase -> canonical field name
    examples: Mapping[str, str]  # canonical field name -> an example token
    flags: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # bare word -> (field, value)
    lists: frozenset[str] = frozenset()  # fields whose value continues after a trailing comma

    def resolve(self, typed: str) -> str | None:
        """The canonical field for a typed key; None when it is no field; an error when it is a typo."""
        key = typed.lower()
        if key in self.keys:
            return self.keys[key]
        if 3 <= len(key) <= 20:
            close = difflib.get_close_matches(key, list(self.keys), n=1, cutoff=0.75)
            if close:
                raise CommandSyntaxError(
                    f"Unknown field '{typed}' — did you mean {close[0]}? "
                    f"Example: {self.examples[self.keys[close[0]]]}"
                )
        return None


@dataclass(frozen=True)
class Scan:
    fields: tuple[Field, ...]
    text: str  # the free text after the fields, stripped

    def all(self, name: str) -> list[str]:
        """Every value of a field that may be repeated (`to:`), in order."""
        return [f.value for f in self.fields if f.name == name]

    def single(self, spec: FieldSpec, repeatable: frozenset[str] = frozenset()) -> dict[str, str]:
        """Field name -> value, for fields given once; an empty value counts as not given, so that
        a form template with blank lines still reads. A field given twice is an error, since which
        one was meant (tlp:green tlp:red) cannot be guessed."""
        values: dict[str, str] = {}
        for item in self.fields:
            if not item.value or item.name in repeatable:
                continue
            if item.name in values:
                raise CommandSyntaxError(
                    f"{item.typed} is given twice. Give it once. Example: {spec.examples[item.name]}"
                )
            values[item.name] = item.value
        return values


def scan_fields(text: str, spec: FieldSpec) -> Scan:
    """Split text (after the command word and any positional words) into fields and free text."""
    first, *later = text.split("\n")
    fields: list[Field] = []
    start = _scan_tokens(first, spec, fields)
    if start is not None:
        return Scan(tuple(fields), "\n".join([first[start:], *later]).strip())
    for index, line in enumerate(later):
        if not line.strip():
            if fields:  # a blank line ends the fields; blank lines before any field are skipped
                return Scan(tuple(fields), "\n".join(later[index + 1:]).strip())
            continue
        line_fields = _field_line(line.strip(), spec)
        if line_fields is None:
            return Scan(tuple(fields), "\n".join(later[index:]).strip())
        fields.extend(line_fields)
    return Scan(tuple(fields), "")


def _field_line(line: str, spec: FieldSpec) -> list[Field] | None:
    """The fields of a later line, or None when the line starts the free text."""
    match = _KEY.match(line)
    name = spec.resolve(match[1]) if match else None
    if match and name:
        following = line[match.end():match.end() + 1]
        if not following or following.isspace():
            return [_form_field(line, match, name)]
    if name is None and take_word(line)[0].lower() not in spec.flags:
        return None
    fields: list[Field] = []
    try:
        if _scan_tokens(line, spec, fields) is None:
            return fields
    except CommandSyntaxError:
        pass  # not a line of tokens; read it as a form line, which reports its own errors
    if match is None or name is None:
        return None  # a flag followed by text: the text starts here
    return [_form_field(line, match, name)]  # `Purpose:identity check`, a form line missing its space


def _form_field(line: str, match: re.Match[str], name: str) -> Field:
    """`Key: value` on a line of its own: the value runs to the end of the line."""
    return Field(name, unquote_whole(line[match.end():].strip(), match[0]).strip(), match[1])


def _flag(word: str, spec: FieldSpec) -> Field:
    name, value = spec.flags[word.lower()]
    return Field(name, value, word)


def _scan_tokens(line: str, spec: FieldSpec, fields: list[Field]) -> int | None:
    """Append the line's leading fields; the index where free text starts, or None if none does."""
    index = 0
    while True:
        index = _skip_spaces(line, index)
        if index >= len(line):
            return None
        match = _KEY.match(line, index)
        name = spec.resolve(match[1]) if match else None
        if match and name:
            value, index = _read_value(line, match.end(), match[0], name in spec.lists, spec)
            fields.append(Field(name, value, match[1]))
            continue
        end = _word_end(line, index)
        if line[index:end].lower() in spec.flags:
            fields.append(_flag(line[index:end], spec))
            index = end
            continue
        return index


def _read_value(line: str, index: int, what: str, is_list: bool, spec: FieldSpec) -> tuple[str, int]:
    if index < len(line) and line[index].isspace():
        # `key: value`, as phones write it: the value is the next word, unless that is a field.
        index = _skip_spaces(line, index)
        if index >= len(line) or _starts_field(line, index, spec):
            return "", index
    if index < len(line) and line[index] in OPENING_QUOTES:
        value, end = read_quoted(line, index, what)
        if end < len(line) and not line[end].isspace():
            raise CommandSyntaxError(
                f"Put a space after the closing quote ({what}\"…\"). Example: {what}\"identity check\" tlp:amber"
            )
        return value.strip(), end
    end = _word_end(line, index)
    value = line[index:end]
    while is_list and value.endswith(","):  # `to:TH, MY`
        following = _skip_spaces(line, end)
        if following >= len(line) or line[following] in OPENING_QUOTES or _starts_field(line, following, spec):
            break
        end = _word_end(line, following)
        value += line[following:end]
    return value, end


def _starts_field(line: str, index: int, spec: FieldSpec) -> bool:
    match = _KEY.match(line, index)
    if match and match[1].lower() in spec.keys:
        return True
    return line[index:_word_end(line, index)].lower() in spec.flags


def _skip_spaces(line: str, index: int) -> int:
    while index < len(line) and line[index].isspace():
        index += 1
    return index


def _word_end(line: str, index: int) -> int:
    while index < len(line) and not line[index].isspace():
        index += 1
    return index
