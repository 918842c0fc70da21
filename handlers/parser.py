"""parse(): text typed in a chat -> a Command, a ParseError to show the person, or None.

None means the text is not addressed to this bot as a command (no leading / or !, or
Telegram's /cmd@OtherBot); the caller stays silent. A ParseError with command None is an unknown
command word, which a caller may choose not to answer in a busy group.

How each command is read is declared with it in handlers/command_list.py.
"""

from __future__ import annotations

from handlers import parse_admin, parse_items
from handlers.command_list import COMMANDS
from handlers.commands import Command, ParseError
from handlers.lexer import FieldSpec
from handlers.registry import INTERNAL_ERROR
from handlers.vocabulary import Vocabulary

__all__ = ["parse", "ParseError", "Command", "Vocabulary", "INTERNAL_ERROR"]

# Every command that takes fields: what comes before its fields (the command word and positional
# words, as an example) -> the fields it takes. Tests draw every key and flag from here.
FIELD_SPECS: dict[str, FieldSpec] = {
    "/alert": parse_items.ITEM_FIELDS,
    "/request": parse_items.ITEM_FIELDS,
    "/forward A-2026-0042": parse_items.FORWARD_FIELDS,
    "/member add @alice:example.org": parse_admin.MEMBER_ADD_FIELDS,
    "/member remove @alice:example.org": parse_admin.MEMBER_REMOVE_FIELDS,
}


def parse(text: str, vocabulary: Vocabulary = Vocabulary()) -> Command | ParseError | None:
    """Never raises: whatever goes wrong becomes a ParseError with one short message."""
    return COMMANDS.parse(text, vocabulary)
