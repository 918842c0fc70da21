"""What tomllib says of a key or table given twice, said with the key's path and both lines.

tomllib reports `Cannot overwrite a value (at line 4, column 27)`, which names neither the key nor
where it was first given; the configuration names every other mistake by its key path. The text is
read again, line by line, only once tomllib has refused it: table headers and `key =` lines, with
multi-line strings skipped, are enough to find the key on the line tomllib names.
"""

from __future__ import annotations

import ast
import re

from bot.config.reader import Loc, key_path

_PART = r'(?:"(?:[^"\\]|\\.)*"|\'[^\']*\'|[A-Za-z0-9_-]+)'
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_HEADER = re.compile(rf"^\s*(\[\[?)\s*({_DOTTED})\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(rf"^\s*({_DOTTED})\s*=")
_OVERWRITE = re.compile(r"^Cannot overwrite a value \(at (?:line (\d+), column \d+|end of document)\)$")
_DECLARE = re.compile(r"^Cannot declare (\(.*\)) twice \(at line (\d+), column \d+\)$")


def repeated(text: str, message: str) -> str | None:
    """`storage.url: given twice (at line 4, first at line 2): keep one`, or None when `message`
    is not about a repeat (or the key cannot be found: tomllib's own words then stand)."""
    try:
        overwrite = _OVERWRITE.match(message)
        if overwrite is not None:
            # On the last line, without a newline after it, tomllib says "at end of document".
            return _key_twice(text, int(overwrite.group(1) or len(text.splitlines())))
        declare = _DECLARE.match(message)
        if declare is not None:
            return _table_twice(text, declare.group(1), int(declare.group(2)))
    except (ValueError, SyntaxError):  # a key this reading cannot take apart: tomllib's words stand
        return None
    return None


def _parts(dotted: str) -> tuple[str, ...]:
    parts = []
    for found in re.finditer(_PART, dotted):
        part = found.group(0)
        parts.append(ast.literal_eval(part) if part[0] == '"' else part.strip("'"))
    return tuple(parts)


def _scan(text: str, upto: int) -> tuple[list[tuple[int, Loc]], list[tuple[int, tuple[str, ...]]]]:
    """Each `key =` line up to line `upto` with its full key path (an array of tables' index in it),
    and each [table] header with its dotted name."""
    keys: list[tuple[int, Loc]] = []
    headers: list[tuple[int, tuple[str, ...]]] = []
    arrays: dict[tuple[str, ...], int] = {}
    table: Loc = ()
    quote: str | None = None
    for number, line in enumerate(text.splitlines()[:upto], start=1):
        if quote is not None:  # inside a multi-line string: only its end matters
            if line.count(quote) % 2 == 1:
                quote = None
            continue
        header = _HEADER.match(line)
        if header is not None:
            name = _parts(header.group(2))
            table = _within_arrays(name, arrays)
            if header.group(1) == "[[":
                arrays[name] = arrays.get(name, -1) + 1
                table = (*table, arrays[name])
            else:
                headers.append((number, name))
            continue
        key = _KEY.match(line)
        if key is not None:
            keys.append((number, (*table, *_parts(key.group(1)))))
            rest = line[key.end():]
            for opener in ('"""', "'''"):
                if rest.count(opener) % 2 == 1:
                    quote = opener
    return keys, headers


def _within_arrays(name: tuple[str, ...], arrays: dict[tuple[str, ...], int]) -> Loc:
    """[a.b.c] where [[a.b]] is an array of tables: c of a.b's latest element."""
    loc: list[str | int] = []
    for i, part in enumerate(name):
        loc.append(part)
        if i < len(name) - 1 and name[:i + 1] in arrays:
            loc.append(arrays[name[:i + 1]])
    return tuple(loc)


def _key_twice(text: str, line: int) -> str | None:
    keys, _ = _scan(text, line)
    if not keys:
        return None
    again, loc = keys[-1]  # a value over several lines ends on tomllib's line: its key is above
    first = next(number for number, seen in keys if seen == loc)
    if first == again:
        return None
    return f"{key_path(loc)}: given twice (at line {again}, first at line {first}): keep one"


def _table_twice(text: str, declared: str, line: int) -> str | None:
    try:
        name = tuple(ast.literal_eval(declared))
    except (ValueError, SyntaxError):
        return None
    keys, headers = _scan(text, line)
    shown = key_path(name)
    earlier = [number for number, seen in headers if seen == name and number < line]
    earlier += [number for number, loc in keys if loc[:len(name)] == name and number < line]
    where = f"at line {line}, first at line {min(earlier)}" if earlier else f"at line {line}"
    return f"[{shown}] is declared twice ({where}): put its keys under one [{shown}]"
