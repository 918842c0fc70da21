"""Matrix events as the bot reads them: texts (with reply fallbacks removed), replies, thread replies
and reactions, before the connector turns them into inbox messages.

Only what a person typed counts: m.text messages (m.notice is what bots post, and answering it could
start two bots talking forever; m.emote, media and edits are not commands).
"""

from __future__ import annotations

import html
import re
import unicodedata
import urllib.parse
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

# Reactions that acknowledge a delivered item: ✅ 👍 ✔️ (with or without the emoji variation selector),
# and ☑️. Skin tones on 👍 count too.
ACK_KEYS = frozenset({"\u2705", "\U0001F44D", "\u2714", "\u2611"})
_SKIN_TONES = {chr(c) for c in range(0x1F3FB, 0x1F400)}
COMMAND_PREFIXES = ("/", "!")


@dataclass(frozen=True, slots=True)
class MatrixText:
    event_id: str
    sender: str
    room_id: str
    at: datetime
    text: str
    # Events this one answers, most specific first: a thread's root, then the event replied to.
    targets: tuple[str, ...] = ()
    # Pills, in order: (their words in the plain body, the Matrix user id they link to).
    mentions: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class MatrixReaction:
    event_id: str
    sender: str
    room_id: str
    at: datetime
    key: str
    target: str

    @property
    def acknowledges(self) -> bool:
        return normalise_key(self.key) in ACK_KEYS


def normalise_key(key: str) -> str:
    """A reaction key without variation selectors and skin tones: "✔️" and "✔" are the same."""
    return "".join(ch for ch in unicodedata.normalize("NFC", key.strip())
                   if ch not in ("\ufe0f", "\ufe0e") and ch not in _SKIN_TONES)


def strip_reply_fallback(body: str) -> str:
    """Remove the quoted fallback a client puts before a reply ("> <@user:server> text" lines, then
    one empty line); what is left is what the person wrote."""
    lines = body.split("\n")
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    if index == 0:
        return body
    if index < len(lines) and lines[index].strip() == "":
        index += 1
    return "\n".join(lines[index:])


def _when(source: dict[str, Any]) -> datetime:
    ts = source.get("origin_server_ts")
    if isinstance(ts, int) and ts > 0:
        return datetime.fromtimestamp(ts / 1000, tz=timezone.utc)
    return datetime.now(timezone.utc)


def read_event(source: dict[str, Any], room_id: str) -> MatrixText | MatrixReaction | None:
    """A (decrypted) room event's source as a text or a reaction; None for anything else."""
    event_type = source.get("type")
    content = source.get("content")
    event_id = source.get("event_id")
    sender = source.get("sender")
    if not isinstance(content, dict) or not isinstance(event_id, str) or not isinstance(sender, str):
        return None
    relation = content.get("m.relates_to")
    relation = relation if isinstance(relation, dict) else {}
    if event_type == "m.reaction":
        if relation.get("rel_type") != "m.annotation":
            return None
        key, target = relation.get("key"), relation.get("event_id")
        if not isinstance(key, str) or not isinstance(target, str):
            return None
        return MatrixReaction(event_id, sender, room_id, _when(source), key, target)
    if event_type != "m.room.message" or content.get("msgtype") != "m.text":
        return None
    if relation.get("rel_type") == "m.replace" or "m.new_content" in content:
        return None  # an edit: the command was read when it was first sent
    body = content.get("body")
    if not isinstance(body, str):
        return None
    targets: list[str] = []
    if relation.get("rel_type") == "m.thread" and isinstance(relation.get("event_id"), str):
        targets.append(relation["event_id"])
    in_reply_to = relation.get("m.in_reply_to")
    replied = in_reply_to.get("event_id") if isinstance(in_reply_to, dict) else None
    if isinstance(replied, str) and replied not in targets:
        targets.append(replied)
    text = strip_reply_fallback(body) if isinstance(replied, str) else body
    return MatrixText(event_id, sender, room_id, _when(source), text.strip(), tuple(targets), pills(content))


_PILL = re.compile(r'<a\s+href="https://matrix\.to/#/([^"?]+)[^"]*"\s*>(.*?)</a>', re.IGNORECASE | re.DOTALL)
_REPLY_FALLBACK = re.compile(r"<mx-reply>.*?</mx-reply>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


def pills(content: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """The user pills of an HTML message, as Element writes a mention: the plain body holds only the
    display name, the user id is in formatted_body's matrix.to link."""
    formatted = content.get("formatted_body")
    if content.get("format") != "org.matrix.custom.html" or not isinstance(formatted, str):
        return ()
    found = []
    for target, inner in _PILL.findall(_REPLY_FALLBACK.sub("", formatted)):
        user_id = urllib.parse.unquote(html.unescape(target))
        words = html.unescape(_TAG.sub("", inner)).strip()
        if user_id.startswith("@") and ":" in user_id and words:
            found.append((words, user_id))
    return tuple(found)


def reply_command(reference: str, text: str) -> str:
    """A reply to a delivered item as the command it means; a reply that is a command stays one."""
    if text.startswith(COMMAND_PREFIXES):
        return text
    return f"/reply {reference} {text}"
