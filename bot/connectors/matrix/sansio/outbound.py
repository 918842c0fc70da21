"""What the bot posts on Matrix: the m.room.message content of an outbox row. Pure (sansio/__init__.py).

A message that asks people to act (a delivery, a reminder, an escalation, an approval request: the row's `attention`) is
an m.text that mentions them (`m.mentions`, intentional mentions since Matrix 1.7, and their id in the text
when it is posted in a room), so the default push rules notify them, encrypted or not; everything
else (receipts, answers, notices) is an m.notice, which the default rules keep quiet, and mentions
nobody. Commands in the text read `!ack`, not `/ack`: Element takes an unknown /command as its own
(the whole text is read so, a command quoted in an item's body included: both mean the same to the bot).
The plain text is `body`, with an HTML `formatted_body`. An answer to a message (the row's `reply_to`,
from InboundMessage.answer_to) goes in that message's thread, or replies to it; deliveries and
everything else the bot says of itself stand alone in the main timeline.

The caveat banner (the first line, `[TLP:AMBER] A-2026-0042 · URGENT alert`) is bold and its TLP label
is shown in the TLP 2.0 colours (FIRST: the label in its colour on a black background), using the
`data-mx-color` / `data-mx-bg-color` span attributes that Matrix clients render. Every event carries
its outbox key (KEY_FIELD); a possible repeat opens with "(possible repeat of an earlier send)".

A message sent with photos or files (each its own m.image or m.file event, before the text) lists
their event ids in its text event (FILES_FIELD, read back by `files_of`): the text event is the one
the delivery records, so taking the copy back (a redaction) or marking it superseded (an edit of the
text, never of a photo) finds the photos that belong to it, on any device of the bot.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import Any

from alerts.identity import Platform
from alerts.routing import DestinationKind
from alerts.messages import MessageKind
from bot.connectors.base import POSSIBLE_REPEAT, Outgoing
from bot.connectors.matrix.sansio.inbound import APPROVE_SHOWN, answer_parts
from handlers.command_list import COMMANDS
from handlers.post_item import approval_hint

# TLP 2.0 (FIRST), font colour of each label; the background is always black.
TLP_COLOURS = {
    "CLEAR": "#FFFFFF",
    "GREEN": "#33FF00",
    "AMBER": "#FFC000",
    "AMBER+STRICT": "#FFC000",
    "RED": "#FF2B2B",
}
TLP_BACKGROUND = "#000000"
HTML_FORMAT = "org.matrix.custom.html"
# The outbox key in every event the bot sends, also outside the encryption (session.py): after a
# failover the standby is another device, so the transaction id cannot find an earlier send; this can.
KEY_FIELD = "org.liaison.key"
# The event ids of the photos and files sent before a text event, in that event (also outside the
# encryption, as KEY_FIELD is: ids say nothing of the content).
FILES_FIELD = "org.liaison.files"
MAX_FILES = 20  # more than a message may carry (alerts.attachments): a longer list is not the bot's

_BANNER = re.compile(r"^\[TLP:(CLEAR|GREEN|AMBER\+STRICT|AMBER|RED)\](.*)$")
_LABEL = re.compile(r"\bTLP:(CLEAR|GREEN|AMBER\+STRICT|AMBER|RED)\b")


def tlp_span(level: str, text: str | None = None) -> str:
    colour = TLP_COLOURS[level]
    shown = html.escape(text if text is not None else f"TLP:{level}")
    return f'<span data-mx-color="{colour}" data-mx-bg-color="{TLP_BACKGROUND}">{shown}</span>'


def _line(text: str) -> str:
    """One plain line as HTML, with any TLP label in it coloured."""
    out, last = [], 0
    for match in _LABEL.finditer(text):
        out.append(html.escape(text[last:match.start()]))
        out.append(tlp_span(match.group(1)))
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def formatted_body(text: str) -> str:
    lines = text.split("\n")
    first, rest = lines[0], lines[1:]
    banner = _BANNER.match(first)
    if banner:
        head = f"<strong>{tlp_span(banner.group(1), f'[TLP:{banner.group(1)}]')}{_line(banner.group(2))}</strong>"
    else:
        head = _line(first)
    return "<br>".join([head, *(_line(line) for line in rest)])


# Every word a command is typed as; "/word" in what the bot writes becomes "!word" on Matrix. Only
# at the start of a line or after a space or an opening mark, so paths and "and/or" are left alone.
_WORDS = sorted({w for spec in COMMANDS.specs for w in (spec.name, *spec.aliases)}, key=len, reverse=True)
_COMMAND = re.compile(r"(^|[\s(\[\"'`«“])/(" + "|".join(map(re.escape, _WORDS)) + r")(?![\w-])", re.MULTILINE)
PREFIX = "!"


def bang_commands(text: str) -> str:
    """The text with each command written as Matrix users type it: `/ack A-1` -> `!ack A-1`."""
    return _COMMAND.sub(lambda m: f"{m.group(1)}{PREFIX}{m.group(2)}", text)


def mentioned(message: Outgoing) -> list[str]:
    """The Matrix user ids the message asks to act."""
    return list(dict.fromkeys(u.user_id for u in message.attention if u.platform is Platform.MATRIX))


def approval_text(text: str, reference: str) -> str:
    """An approval request as Matrix shows it: approving is a reaction on it (the receiver reads it as
    /approve from whoever reacts); declining needs a reason, so it stays typed."""
    return text.replace(approval_hint(reference),
                        f"Approve: react {APPROVE_SHOWN} to this message (or /approve {reference}) · "
                        f"Decline: /decline {reference} your reason", 1)


def message_content(message: Outgoing, room_id: str, files: Sequence[str] = ()) -> dict[str, Any]:
    """The m.room.message content for one outbox row; a reply when it answers a message in this room.
    `files`: the event ids of the photos and files sent with it, just before it."""
    text = message.text
    if message.kind is MessageKind.APPROVAL and message.reference:
        text = approval_text(text, message.reference)
    text = bang_commands(text)
    body, html_body = text, formatted_body(text)
    users = mentioned(message)
    if users and message.destination.kind is not DestinationKind.DIRECT:
        # In a room the mention is also in the text (a pill), so people see whom it asks; at the end,
        # so that a phone's notification still opens with the banner.
        body += "\n" + " ".join(users)
        html_body += "<br>" + " ".join(f'<a href="https://matrix.to/#/{html.escape(u)}">{html.escape(u)}</a>'
                                       for u in users)
    if message.possible_repeat:
        body, html_body = f"{POSSIBLE_REPEAT}\n{body}", f"{html.escape(POSSIBLE_REPEAT)}<br>{html_body}"
    content: dict[str, Any] = {
        "msgtype": "m.text" if users else "m.notice",
        "body": body,
        "format": HTML_FORMAT,
        "formatted_body": html_body,
        # Present on every event: a client then notifies only whom it names, never a name in the text.
        "m.mentions": {"user_ids": users} if users else {},
        KEY_FIELD: message.key,
    }
    if files:
        content[FILES_FIELD] = list(files)
    reply_to = message.reply_to
    if reply_to is not None and reply_to.chat.chat_id == room_id:
        content["m.relates_to"] = answer_relation(reply_to.message_id)
    return content


def answer_relation(point: str) -> dict[str, Any]:
    """The m.relates_to of a message that answers the event `point` names (sansio/inbound.py's
    answer_point): in its thread when it was sent in one (a phone in the thread view sees nothing of
    the main timeline), with a reply to it for clients without threads (is_falling_back); else a reply."""
    event_id, thread = answer_parts(point)
    if thread is None:
        return {"m.in_reply_to": {"event_id": event_id}}
    return {"rel_type": "m.thread", "event_id": thread, "is_falling_back": True,
            "m.in_reply_to": {"event_id": event_id}}


def edit_content(event_id: str, text: str, key: str) -> dict[str, Any]:
    """An m.replace edit of the bot's own event `event_id`, which then reads `text` (an earlier
    revision's copy marked superseded). Clients show `m.new_content` in place of the event; the outer
    body, starred, is for clients without edits. It mentions nobody: an edit need not notify."""
    body = bang_commands(text)
    new = {"msgtype": "m.text", "body": body, "format": HTML_FORMAT, "formatted_body": formatted_body(body),
           "m.mentions": {}}
    return {**new, "body": f"* {body}", "formatted_body": f"* {new['formatted_body']}", "m.new_content": new,
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id}, KEY_FIELD: key}



def files_of(source: Any, bot: str) -> tuple[str, ...]:
    """The event ids of the photos and files sent with the bot's text event `source` (as the
    homeserver returns it, encrypted or not); none for another sender's event, whatever it claims,
    and none for a list that is not ids (fail closed: the bot redacts only its own files)."""
    if not isinstance(source, dict) or source.get("sender") != bot:
        return ()
    content = source.get("content")
    files = content.get(FILES_FIELD) if isinstance(content, dict) else None
    if not isinstance(files, list) or not 0 < len(files) <= MAX_FILES:
        return ()
    if not all(isinstance(f, str) and f.startswith("$") and 1 < len(f) <= 255 for f in files):
        return ()
    return tuple(dict.fromkeys(files))


def known_by_text(event_id: str, parts: Sequence[str]) -> bool:
    """Whether `event_id`, the event a copy is known by, is the copy's text (which an m.replace can make
    the superseded mark) rather than one of its photos or files. `parts`: its events as recorded
    (storage.outbox.SqlOutbox.parts_of). A copy of one event records none; one sent with photos or files
    records them as each goes, then its text last, which it is known by once sent whole. A copy whose
    text never went (or went but was not recorded as sent) is known by its first photo."""
    return not parts or (len(parts) > 1 and parts[-1] == event_id)
