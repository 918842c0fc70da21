"""Reading command text: the command word, `key:value` fields, quoted values, and the free text.

The header of a command is its first line (after the command word and any positional words) and
the lines after it for as long as each begins with a field or a flag; the free text (the body)
begins at the first of:

- a word on a header line that is neither a field (`key:value`, `key: value`) nor a flag (`orcon`):
  the text runs from that word to the end;
- on a later line, a line that does not begin with a field or a flag: the text is that line onward;
- an empty line once a field, or a positional word (`/forward REF`), has been read: the text is
  everything after it, taken as it is.

Fail closed: before the text, a word with a colon (`tpl:`, `Subject:`, `Note:`) that is not a
field of the command, a word one edit away from a flag (`orcn`) or a field with `;` or `=` for its
colon (`tlp;red`) is refused, never read as text; so is, on the line where the text begins, any
later `word:` or flag (`... passports tlp:red`), since a field after the first words of the text
would otherwise be lost in it. A word counts as `word:` when what comes before its first colon
holds a letter: a time (`14:30`), an ISO date-time (`2026-11-30T14:00`), a URL (`https://x.y/z`)
and a Matrix user id (`@a:example.org`) are text. After an empty line nothing is checked, which is
how a text begins with `Note:` or holds fields' words.

`Key: value` (a space after the colon) on a later line is a form line: the value runs to the end
of the line; on the first line it takes the next word. `key:value ...` (no space) on a later line
is read like the first line, several fields to a line; should text follow them, the whole line is
read as one form line instead (`Purpose:identity check`). Quotes are only special at the start of
a value.
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


class UnknownField(CommandSyntaxError):
    """A `word:` or a near miss of a flag before the text: refused, never read as text."""


# An ISO date-time written as one word (2026-11-30T14:00) is a value or text, not a `word:`;
# nor is a Matrix user id (@alice:example.org), whose server has a dot.
_ISO_DATETIME_START = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}\Z", re.ASCII)
_MATRIX_ID = re.compile(r"@[^\s:]+:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


# A field with `;` or `=` for its colon (`tlp;red`: the colon key without shift); a word that
# ends in one (`due;`) closes a clause and stays text.
_COLON_SLIP = re.compile(r"([a-z_-]+)[;=](?=.)")


def key_like(word: str) -> str | None:
    """What comes before the colon when word reads as `key:value`: the part before its first colon
    holds a letter, and it is neither a URL (`https://`), an ISO date-time nor a Matrix user id."""
    colon = word.find(":")
    if colon <= 0 or word.startswith("//", colon + 1) or _MATRIX_ID.match(word):
        return None
    key = word[:colon]
    if not any(char.isalpha() for char in key) or _ISO_DATETIME_START.match(key):
        return None
    return key


def one_edit(typed: str, known: str) -> bool:
    """typed is known with one letter inserted, deleted, changed, or two neighbours swapped."""
    if typed == known or abs(len(typed) - len(known)) > 1:
        return False
    if len(typed) == len(known):
        diff = [i for i, (a, b) in enumerate(zip(typed, known)) if a != b]
        return len(diff) == 1 or (
            len(diff) == 2 and diff[1] == diff[0] + 1
            and typed[diff[0]] == known[diff[1]] and typed[diff[1]] == known[diff[0]]
        )
    short, long = (typed, known) if len(typed) < len(known) else (known, typed)
    return any(long[:i] + long[i + 1:] == short for i in range(len(long)))


@dataclass(frozen=True)
class FieldSpec:
    """The fields one command accepts."""

    keys: Mapping[str, str]  # key or alias in lowercase -> canonical field name
    examples: Mapping[str, str]  # canonical field name -> an example token
    flags: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # bare word -> (field, value)
    lists: frozenset[str] = frozenset()  # fields whose value continues after a trailing comma
    # Bare words besides the flags whose near misses are refused before the text (`confrim`): keys
    # often typed without their value. The words themselves stay text (`Confirm whether ...`).
    guarded: frozenset[str] = frozenset()
    takes_text: bool = True  # whether free text may follow the fields, for the hint in errors

    @property
    def guarded_words(self) -> frozenset[str]:
        return frozenset(self.flags) | self.guarded

    def resolve(self, typed: str) -> str:
        """The canonical field for a typed key; an error naming it, and the field meant, when it is
        none of this command's."""
        key = typed.lower()
        if key in self.keys:
            return self.keys[key]
        close = [known for known in self.keys if one_edit(key, known)] or difflib.get_close_matches(
            key[:30], list(self.keys), n=1, cutoff=0.75)
        shown = shorten(typed, 20)
        if close:
            meant = f"did you mean {close[0]}? Example: {self.examples[self.keys[close[0]]]}"
        else:
            meant = "fields here: " + ", ".join(f"{name}:" for name in dict.fromkeys(self.keys.values()))
        hint = f" To begin the text with '{shown}:', put an empty line before it." if self.takes_text else ""
        raise UnknownField(f"Unknown field '{shown}' — {meant}.{hint}")

    def check_word(self, word: str) -> None:
        """Refuse a bare word one edit away from a flag or a guarded word (`orcn`, `confrim`), or a
        field with a semicolon or an equals sign for its colon (`tlp;red`, the colon key unshifted)."""
        lowered = word.lower()
        slip = _COLON_SLIP.match(lowered)
        if slip and slip[1] in self.keys:
            raise UnknownField(
                f"Unknown word '{shorten(word, 20)}' — did you mean {slip[1]}:{shorten(word[slip.end():], 20)}? "
                "To begin the text with it, put an empty line before it."
            )
        for known in sorted(self.guarded_words):
            if one_edit(lowered, known):
                meant = known if known in self.flags else self.examples.get(self.keys.get(known, ""), known)
                raise UnknownField(
                    f"Unknown word '{shorten(word, 20)}' — did you mean {meant}? To begin the text with it, "
                    "put an empty line before it."
                )

    def check_text_word(self, word: str) -> None:
        """Refuse a field or a flag after the text has begun on its line, where it would be lost."""
        key = key_like(word)
        if key is not None:
            self.resolve(key)  # an unknown one is named as such, with the field meant
        elif word.lower() not in self.flags:
            lowered = word.lower()
            slip = _COLON_SLIP.match(lowered)
            if not any(one_edit(lowered, flag) for flag in self.flags) and not (slip and slip[1] in self.keys):
                return
            self.check_word(word)
        raise UnknownField(
            f"'{shorten(word, 20)}' comes after the text has begun. Put fields before the text; to write "
            "it as text, put an empty line before the text."
        )


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


def scan_fields(text: str, spec: FieldSpec, after_words: bool = False) -> Scan:
    """Split text (after the command word and any positional words) into fields and free text.

    Empty lines before any field are skipped when the command word stood alone (`/alert`, an empty
    line, then a form); after positional words (`/member remove USER`) an empty line begins the text."""
    first, *later = text.split("\n")
    fields: list[Field] = []
    start = _scan_tokens(first, spec, fields)
    if start is not None:
        _check_text_line(first, start, spec)
        return Scan(tuple(fields), "\n".join([first[start:], *later]).strip())
    for index, line in enumerate(later):
        if not line.strip():
            if fields or after_words:  # a blank line ends the fields
                return Scan(tuple(fields), "\n".join(later[index + 1:]).strip())
            continue
        start = _field_line(line, spec, fields)
        if start is not None:
            _check_text_line(line, start, spec)
            return Scan(tuple(fields), "\n".join([line[start:], *later[index + 1:]]).strip())
    return Scan(tuple(fields), "")


def _field_line(line: str, spec: FieldSpec, fields: list[Field]) -> int | None:
    """Append the fields of a later line; the index where the text starts on it, or None if none does."""
    index = _skip_spaces(line, 0)
    word = line[index:_word_end(line, index)]
    key = key_like(word)
    if key is None:
        return _scan_tokens(line, spec, fields)  # flags, then perhaps the text; or the text alone
    name = spec.resolve(key)
    after = index + len(key) + 1
    if after < len(line) and not line[after].isspace():
        tokens: list[Field] = []
        try:
            if _scan_tokens(line, spec, tokens) is None:
                fields.extend(tokens)
                return None
        except UnknownField:
            raise  # `Purpose:check tpl:red`: a typo is refused, not read into the form line's value
        except CommandSyntaxError:
            pass  # not a line of tokens; read it as a form line, which reports its own errors
    # `Key: value` on a line of its own, or `Purpose:identity check`, a form line missing its space.
    fields.append(Field(name, unquote_whole(line[after:].strip(), key + ":").strip(), key))
    return None


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
        end = _word_end(line, index)
        word = line[index:end]
        key = key_like(word)
        if key is not None:
            name = spec.resolve(key)
            value, index = _read_value(line, index + len(key) + 1, key + ":", name in spec.lists, spec)
            fields.append(Field(name, value, key))
            continue
        if word.lower() in spec.flags:
            fields.append(_flag(word, spec))
            index = end
            continue
        spec.check_word(word)
        return index


def _check_text_line(line: str, start: int, spec: FieldSpec) -> None:
    """The words after the first word of the text, on the line where it begins."""
    index = _word_end(line, start)
    while (index := _skip_spaces(line, index)) < len(line):
        end = _word_end(line, index)
        spec.check_text_word(line[index:end])
        index = end


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
    """Whether the word at index is a field or a flag, known or not (an unknown one is refused next)."""
    word = line[index:_word_end(line, index)]
    lowered = word.lower()
    return (key_like(word) is not None or lowered in spec.flags
            or any(one_edit(lowered, known) for known in spec.guarded_words))


def _skip_spaces(line: str, index: int) -> int:
    while index < len(line) and line[index].isspace():
        index += 1
    return index


def _word_end(line: str, index: int) -> int:
    while index < len(line) and not line[index].isspace():
        index += 1
    return index
