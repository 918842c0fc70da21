"""Matrix events as the bot reads them, and what each becomes in the inbox. Pure (sansio/__init__.py).

Only what a person typed counts: m.text messages, and photos and files (m.image, m.file) read as their
caption with the file they carry (MatrixText.file; no caption: no words), each by the same rules below
(m.notice is what bots post, and answering it could start two bots talking forever; m.emote is no
command). What is recorded:
- a text that is a command (it begins with / or !), or a photo captioned with one (the photo goes with it);
- a reply or thread reply to a message that invites one, as "/reply REF text" (the quoted fallback
  removed): by what the bot recorded it sent there (alerts.messages.reply_reference), the replier's
  own copy of an item (any event of it: its photo too), its reminder or escalation, or (to the
  originator) relayed feedback; a photo sent so is "/reply REF caption" with the photo, "/reply REF"
  without a caption (the dispatcher takes the photo as the feedback); a command in reply to a
  delivery that names no item (`!ack`, `!snooze 4h`) is about the delivered one;
- a message that opens with the bot's pill (`Liaison Bot: !status A-1`, as Element writes a mention), or
  with its display name typed out (`Liaison Bot: !status A-1`, `@Liaison Bot, !status A-1`), is read
  without it; one whose words after it are no command is told how commands are written;
- a command typed with a space after the ! (`! status A-1`) as a remark: commands are written `!status`;
- a reaction ✅ 👍 ✔️ ☑️ as "/ack REF" where a reply would be "/reply REF" on a message that asks its
  reader to act on a copy (alerts.messages.acknowledged_reference): a delivery by its recipient, or
  a reminder or escalation of it by whom it was sent to (the recipient, a delegate, a backup: /ack
  decides whose copy), so a phone need not scroll back to the delivery;
- the same reaction on the bot's request to approve a held item, as "/approve REF" from whoever
  reacted (the handler applies every rule of /approve: never the originator, only an approver);
- an edit, that is no command, of a reply that was feedback (in words or a photo's caption), as a
  remark: the feedback went as first written (the edit carries no relation to the delivery; the
  connector looks the original up, and judges what it replied to by the same rule);
- a reaction or a reply on one of the bot's messages that does nothing (an unknown emoji, somebody
  else's delivery or reminder, a receipt, relayed feedback, an answer) as a remark: the sender is told
  why, and nothing is routed.
Ordinary conversation (anything else, replies and reactions among people included) is never stored.

Where the answers to a text go (InboundMessage.answer_to, which the handlers give every answer as its
reply_to): into the thread it was sent in, as a reply to it (sansio/outbound.py); in a shared room, a
reply to it, so that the answer is attached to what it answers; in a direct chat, plain (the chat is the
conversation with the bot: a quote on every answer would only repeat what was just typed).
"""

from __future__ import annotations

import html
import re
import unicodedata
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from alerts.identity import ChatRef, MessageRef, Platform, UserRef
from alerts.messages import (
    InboundMessage,
    Mention,
    MessageKind,
    SentMessage,
    acknowledged_reference,
    no_reply_hint,
    reply_reference,
)
from handlers.command_list import COMMANDS
from handlers.lexer import split_head, take_word

# Reactions that acknowledge a delivered item: ✅ 👍 ✔️ (with or without the emoji variation selector),
# and ☑️. Skin tones on 👍 count too.
ACK_KEYS = frozenset({"\u2705", "\U0001F44D", "\u2714", "\u2611"})
_SKIN_TONES = {chr(c) for c in range(0x1F3FB, 0x1F400)}
COMMAND_PREFIXES = ("/", "!")
MEDIA_TYPES = frozenset({"m.image", "m.file"})  # read as their caption, with the file they carry


@dataclass(frozen=True, slots=True)
class MatrixFile:
    """The photo or file of an m.image or m.file event, as the event describes it (not fetched)."""

    name: str
    mime: str
    size: int             # as the event says (0 when it does not): the limits are checked against it
    url: str              # mxc://
    encryption: dict[str, Any] | None = None  # an encrypted room's `file` object: key, iv, hashes

    def __repr__(self) -> str:  # never the name (content) in a log or a traceback
        return f"MatrixFile({self.mime}, {self.size} bytes)"


@dataclass(frozen=True, slots=True)
class MatrixText:
    event_id: str
    sender: str
    room_id: str
    at: datetime
    text: str
    # Events this one answers, most specific first: a thread's root, then the event replied to.
    targets: tuple[str, ...] = ()
    edit_of: str | None = None  # the event this one edits: `text` is the edited text
    # Pills, in order: (their words in the plain body, the Matrix user id they link to).
    mentions: tuple[tuple[str, str], ...] = ()
    addressed: bool = False  # it opened with the bot's pill (or id, or name), which `text` no longer holds
    thread: str | None = None  # the root of the thread it was sent in (m.thread)
    # The event its reply points at only as the client's fallback for those without threads (the
    # thread's latest event, is_falling_back): no reply the person chose.
    fallback: str | None = None
    # A photo or file (m.image, m.file): `text` is its caption ("" without one). For an edit, the file
    # of the new content.
    file: MatrixFile | None = None


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


# What may stand between the bot's pill and the command: Element puts ": " after a pill that opens a message.
_AFTER_PILL = ":,\u00a0 \t\n"


def _typed_name(text: str, name: str | None) -> int:
    """The length of the bot's display name typed out (no pill) at the start of `text`, with an @
    before it (the completion not picked); 0 when it is not there. The name is told apart from a
    sentence about the bot ("Liaison Bot is slow"): a colon or comma follows it, as after a pill, or
    a command does."""
    if not name or not name.strip():
        return 0
    start = 1 if text.startswith("@") else 0
    end = start + len(name)
    if text[start:end].casefold() != name.casefold():
        return 0
    after = text[end:]
    if after == "" or after[0] in ":,":
        return end
    if after[0] in _AFTER_PILL and after.lstrip(_AFTER_PILL).startswith(COMMAND_PREFIXES):
        return end
    return 0


def addressed_to(text: str, mentions: tuple[tuple[str, str], ...], own: str | None, own_name: str | None = None
                 ) -> tuple[str, tuple[tuple[str, str], ...], bool]:
    """`text` without a leading pill of the bot's (`own`: its user id), its id typed out or its display
    name (`own_name`) typed out, the mentions without that pill, and whether it was there. Element writes
    a pill as the display name in the plain body, so "Liaison Bot: !status A-1" is a command to the bot,
    not conversation; so is the same typed without picking the pill."""
    if not own:
        return text, mentions, False
    if mentions and mentions[0][1] == own and text.startswith(mentions[0][0]):
        return text[len(mentions[0][0]):].lstrip(_AFTER_PILL), mentions[1:], True
    if text.startswith(own) and text[len(own):len(own) + 1] in ("", *_AFTER_PILL):
        return text[len(own):].lstrip(_AFTER_PILL), mentions, True
    typed = _typed_name(text, own_name)
    if typed:
        return text[typed:].lstrip(_AFTER_PILL), mentions, True
    return text, mentions, False


def read_event(source: dict[str, Any], room_id: str, own: str | None = None,
               own_name: str | None = None) -> MatrixText | MatrixReaction | None:
    """A (decrypted) room event's source as a text or a reaction; None for anything else. `own`: the
    bot's user id, whose pill opening a text is left out of it (MatrixText.addressed); `own_name`: the
    bot's display name in the room, likewise when typed out without a pill."""
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
    if event_type != "m.room.message" or content.get("msgtype") not in ("m.text", *MEDIA_TYPES):
        return None
    if relation.get("rel_type") == "m.replace" or "m.new_content" in content:
        new, original = content.get("m.new_content"), relation.get("event_id")
        if relation.get("rel_type") != "m.replace" or not isinstance(new, dict) or not isinstance(original, str) \
                or new.get("msgtype") != content.get("msgtype"):
            return None
        written = _written(new)
        if written is None:
            return None
        text, mentions, addressed = addressed_to(written[0].strip(), pills(new), own, own_name)
        return MatrixText(event_id, sender, room_id, _when(source), text, edit_of=original, mentions=mentions,
                          addressed=addressed, file=written[1])
    written = _written(content)
    if written is None:
        return None
    body, file = written
    targets: list[str] = []
    thread = relation.get("event_id") if relation.get("rel_type") == "m.thread" else None
    thread = thread if isinstance(thread, str) and thread else None
    if thread is not None:
        targets.append(thread)
    in_reply_to = relation.get("m.in_reply_to")
    replied = in_reply_to.get("event_id") if isinstance(in_reply_to, dict) else None
    if isinstance(replied, str) and replied not in targets:
        targets.append(replied)
    fallback = replied if thread is not None and relation.get("is_falling_back") is True \
        and isinstance(replied, str) and replied != thread else None
    text = strip_reply_fallback(body) if isinstance(replied, str) else body
    text, mentions, addressed = addressed_to(text.strip(), pills(content), own, own_name)
    return MatrixText(event_id, sender, room_id, _when(source), text, tuple(targets), mentions=mentions,
                      addressed=addressed, thread=thread, fallback=fallback, file=file)


def _written(content: dict[str, Any]) -> tuple[str, MatrixFile | None] | None:
    """What a message's content says in words (a text's body, a photo's caption: "" without one) and the
    file it carries; None when it is no text, photo or file the bot reads (a photo with no file to fetch)."""
    msgtype, body = content.get("msgtype"), content.get("body")
    if msgtype == "m.text":
        return (body, None) if isinstance(body, str) else None
    if msgtype not in MEDIA_TYPES:
        return None
    # A caption (Matrix media captions): `body` is the caption when `filename` names the file and differs from it.
    raw_name = content.get("filename")
    name = raw_name if isinstance(raw_name, str) and raw_name else None
    said = body if isinstance(body, str) else ""
    caption = said if name is not None and said != name else ""
    raw_info = content.get("info")
    info: dict[str, Any] = raw_info if isinstance(raw_info, dict) else {}
    raw_file = content.get("file")
    encryption: dict[str, Any] | None = raw_file if isinstance(raw_file, dict) else None
    url = encryption.get("url") if encryption is not None else content.get("url")
    if not isinstance(url, str) or not url.startswith("mxc://"):
        return None
    raw_size = info.get("size")
    size = raw_size if isinstance(raw_size, int) and not isinstance(raw_size, bool) and raw_size > 0 else 0
    mime = str(info.get("mimetype") or "application/octet-stream").lower()
    return caption, MatrixFile(name or said or "file", mime, size, url, encryption)


# Commands about one item that a reply to its delivery may leave unnamed: `!ack` in reply to the alert.
# (/withdraw and /correct are kept to a typed reference: they change what every recipient holds.)
ABOUT_THE_REPLIED = frozenset({"ack", "reply", "status", "history", "snooze", "remind", "escalate"})
_REFERENCE_TYPED = re.compile(r"^[A-Za-z]-\d")  # a reference, right or wrong: the one the person meant


def reply_command(reference: str, text: str) -> str:
    """A reply to a delivered item as the command it means: plain text is feedback on it (no text, as
    under a photo without a caption: "/reply REF", the photo its feedback); a command about one item
    that names none is about this one; any other command stays as typed."""
    head = split_head(text)
    if head is None:
        return text if text.startswith(COMMAND_PREFIXES) else f"/reply {reference} {text}".rstrip()
    spec, rest = COMMANDS.spec_for(head[0]), head[2]
    if spec is None or spec.name not in ABOUT_THE_REPLIED or _REFERENCE_TYPED.match(take_word(rest)[0]):
        return text
    return f"{text[:len(text) - len(rest)]} {reference}{rest}"


# What the event a reaction or reply points at turned out to be (the connector looks it up).
@dataclass(frozen=True, slots=True)
class Target:
    event_id: str
    delivery: tuple[str, str] | None = None  # (item reference, recipient contact id) it delivered
    from_bot: bool = False  # one of the bot's own messages (every delivery is)
    approval: str | None = None  # the item reference the bot's approval request asks to release
    sent: SentMessage | None = None  # what the bot recorded it sent as this event (its outbox row)

    @property
    def recorded(self) -> SentMessage | None:
        """What the bot sent as this event; where only the delivery is known, the copy recorded for its holder."""
        if self.sent is None and self.delivery is not None:
            return SentMessage(MessageKind.DELIVERY, self.delivery[0], self.delivery[1])
        return self.sent

    def invites(self, contact: str | None) -> str | None:
        """The item whose /reply a plain reply by `contact` to this event is; None when it invites none."""
        return reply_reference(self.recorded, contact)

    def acknowledged(self, contact: str | None) -> str | None:
        """The item whose /ack an acknowledging reaction by `contact` on this event is (by the rule of
        replies: their copy, its reminder or escalation); None when it acknowledges nothing."""
        return acknowledged_reference(self.recorded, contact)


APPROVE_SHOWN = "✅"


ACK_SHOWN = "✅ 👍 ✔️ ☑️"
ADDRESSED = ("I read commands, which begin with ! (for example !status A-2026-0042). Send !help to see "
             "what you can do.")
NOT_A_DELIVERY = ("That message is not a delivered alert or request, so a {what} on it does nothing. "
                  "To acknowledge an item, react with " + ACK_SHOWN + " on your copy of it or its reminder; "
                  "to give feedback, reply to either.")


# A command word after "! " or "/ ": a phone's keyboard puts a space after punctuation.
_SPACED = re.compile(r"^[!/][ \t\u00a0]+([A-Za-z][\w-]*)(?![\w-])")


def spaced_remark(text: str) -> str | None:
    """What a command typed with a space after its ! is told (one line: how it is written, and an
    example of it); None when the text is no such command (a word that is no command is left alone)."""
    match = _SPACED.match(text)
    spec = COMMANDS.spec_for(match.group(1)) if match else None
    if match is None or spec is None:
        return None
    example = (spec.examples[0].split("\n")[0] if spec.examples else f"/{spec.name}").removeprefix("/")
    return f"Commands are written with no space after the !, for example !{example}"


# Where answers go in a thread: the answered event and its thread's root in one platform id (an event
# id holds no space), which sansio/outbound.py takes apart (answer_relation).
_IN_THREAD = " "


def answer_point(event_id: str, thread: str | None) -> str:
    return event_id if thread is None else f"{event_id}{_IN_THREAD}{thread}"


def answer_parts(point: str) -> tuple[str, str | None]:
    """(the event an answer replies to, the thread it goes in or None) of answer_point()."""
    event_id, _, thread = point.partition(_IN_THREAD)
    return event_id, thread or None


def edited_feedback_remark(reference: str) -> str:
    """What an edit of feedback on `reference` (a plain reply to its delivery) is told."""
    return (f"Your feedback on {reference} was passed on as you first wrote it: editing your message changes "
            f"nothing its sender has. To add or correct something, reply to the alert again, or send "
            f"!reply {reference} your text.")


def approval_remark(reference: str, what: str) -> str:
    return (f"A {what} does nothing. React with {APPROVE_SHOWN} to approve {reference}, or decline it "
            f"with /decline {reference} your reason.")


def reaction_message(read: MatrixReaction, target: Target, sender_contact: str | None) -> InboundMessage | None:
    """The inbox message a reaction by `sender_contact` (None: not in the directory) makes; None when
    it is no business of the bot's (a stranger's, or on somebody else's message)."""
    sender, chat = _refs(read.sender, read.room_id)
    if sender is None or chat is None or sender_contact is None or not (target.from_bot or target.delivery
                                                                         or target.approval):
        return None
    if target.delivery is None and target.approval is not None:
        # Whoever reacted asks to approve: /approve refuses the originator and anyone who may not.
        reference = target.approval
        text, remark = f"/approve {reference}", None
        if not read.acknowledges:
            text, remark = "", approval_remark(reference, f"{shown_key(read.key)} reaction")
        return InboundMessage(read.event_id, sender, chat, text, read.at, MessageRef(chat, read.target),
                              remark=remark)
    acknowledged = target.acknowledged(sender_contact)
    if acknowledged is not None:
        if read.acknowledges:
            return InboundMessage(read.event_id, sender, chat, f"/ack {acknowledged}", read.at,
                                  MessageRef(chat, read.target))
        remark = (f"A {shown_key(read.key)} reaction does nothing. React with {ACK_SHOWN} to acknowledge "
                  f"{acknowledged}, or reply to it to give feedback.")
    else:
        remark = _acknowledges_nothing(target, sender_contact)
    return InboundMessage(read.event_id, sender, chat, "", read.at, MessageRef(chat, read.target), remark=remark)


def _acknowledges_nothing(target: Target, contact: str) -> str:
    """Why a reaction by `contact` on one of the bot's messages acknowledges nothing (target.acknowledged
    was None)."""
    if target.delivery is not None:
        return (f"{target.delivery[0]} was delivered here to somebody else: only its recipient acknowledges "
                "it, so your reaction does nothing.")
    sent = target.sent
    if sent is None or sent.reference is None:
        return NOT_A_DELIVERY.format(what="reaction")
    reference = sent.reference
    noun = _ASKS_TO_ACT.get(sent.kind)
    if noun is not None and sent.contact not in (None, contact):
        return (f"{reference}: that {noun} was sent to somebody else, so your reaction on it does nothing. "
                f"React with {ACK_SHOWN} on your own copy of an item, or its reminder, to acknowledge it.")
    return (f"A reaction on that message does nothing: {ACK_SHOWN} acknowledges an item only on your own "
            f"copy of it, its reminder or escalation. See where {reference} stands: /status {reference}")


# The messages whose reader acknowledges by a reaction (alerts.messages.acknowledged_reference), as named to others.
_ASKS_TO_ACT = {MessageKind.DELIVERY: "copy", MessageKind.REMINDER: "reminder", MessageKind.ESCALATION: "escalation"}


def text_message(read: MatrixText, targets: tuple[Target, ...], direct: bool,
                 awaited: bool = False, edited: str | None = None,
                 sender_contact: str | None = None) -> InboundMessage | None:
    """The inbox message a text by `sender_contact` (None: not in the directory) makes, given what each
    of its targets is (in read.targets' order); None for ordinary conversation. `awaited`: a command of
    the sender's awaits its text here, so plain text is kept for the dispatcher to judge. `edited`: for
    an edit, the item its original was feedback on (the sender's plain reply to its delivery), else None."""
    sender, chat = _refs(read.sender, read.room_id)
    if sender is None or chat is None:
        return None
    text, reply_to = read.text, None
    for target in targets:
        invited = target.invites(sender_contact)
        if invited is not None:
            text, reply_to = reply_command(invited, read.text), MessageRef(chat, target.event_id)
            break
    if reply_to is None and read.targets:
        reply_to = MessageRef(chat, read.targets[-1])
    answered = read.edit_of or read.event_id  # an edit is not shown: its original is
    answer_to = MessageRef(chat, answer_point(answered, read.thread)) if read.thread is not None or not direct \
        else None
    remark = spaced_remark(read.text)
    if remark is not None:
        text = ""
    elif not text.startswith(COMMAND_PREFIXES) and not awaited:
        # Talk in a thread goes on after the bot's answer there: its fallback reply is not one on the bot.
        chosen = [t for t in targets if t.event_id != read.fallback]
        if read.edit_of is not None and edited is not None:
            text, remark = "", edited_feedback_remark(edited)
        elif read.addressed and not any(t.from_bot or t.approval for t in chosen):
            text, remark = "", ADDRESSED  # words to the bot that it cannot read: never silence
        elif not any(t.from_bot or t.approval for t in chosen):
            return None  # ordinary conversation: never stored
        else:
            approval = next((t.approval for t in chosen if t.approval is not None), None)
            # Somebody else's copy (any event of it), reminder or escalation, say in a shared room: taken
            # as /reply, the originator's "noted" would be an update to every recipient.
            copy = next((t.recorded.reference for t in chosen if t.recorded is not None
                         and t.recorded.kind in _ASKS_TO_ACT), None)
            text, remark = "", (approval_remark(approval, "reply to an approval request") if approval is not None
                                else no_reply_hint(copy) if copy is not None
                                else NOT_A_DELIVERY.format(what="reply"))
    return InboundMessage(read.event_id, sender, chat, text, read.at, reply_to, message_id=read.event_id,
                          direct=direct, remark=remark, edit_of=read.edit_of, answer_to=answer_to,
                          mentions=tuple(Mention(words, UserRef(Platform.MATRIX, user))
                                         for words, user in read.mentions))


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


def shown_key(key: str) -> str:
    return key.strip()[:16] or "?"


def _refs(user_id: str, room_id: str) -> tuple[UserRef | None, ChatRef | None]:
    try:
        return UserRef.parse(f"matrix:{user_id}"), ChatRef.parse(f"matrix:{room_id}")
    except ValueError:
        return None, None


# --- the timeline around the bot's own join ----------------------------------------------------

def is_own_join(source: Any, user_id: str) -> bool:
    if not isinstance(source, dict) or source.get("type") != "m.room.member" or source.get("state_key") != user_id:
        return False
    if (source.get("content") or {}).get("membership") != "join":
        return False
    before = ((source.get("unsigned") or {}).get("prev_content") or {}).get("membership")
    return before != "join"  # a join, not a display name change


def is_create(event: Any) -> bool:
    source = getattr(event, "source", None)
    return isinstance(source, dict) and source.get("type") == "m.room.create"


def direct_inviter(events: Sequence[Any], user_id: str) -> str | None:
    """Who invited the bot into a direct chat, from the invite in the events before its join (the
    invite itself is gone from a sync fetched again after a restart)."""
    for event in reversed(events):
        source = getattr(event, "source", None)
        if not isinstance(source, dict) or source.get("type") != "m.room.member" or source.get("state_key") != user_id:
            continue
        content = source.get("content") or {}
        if content.get("membership") == "invite":
            return source.get("sender") if content.get("is_direct") else None
    return None


def own_join_index(events: Sequence[Any], user_id: str) -> int | None:
    for index in range(len(events) - 1, -1, -1):
        if is_own_join(getattr(events[index], "source", None), user_id):
            return index
    return None
