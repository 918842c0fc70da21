"""Messages in and out of the bot, platform-neutral."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from alerts.identity import ChatRef, MessageRef, Platform, UserRef
from alerts.routing import Destination


@dataclass(frozen=True, slots=True)
class Mention:
    """A person named in a message by a mention (a Matrix pill, a Telegram text_mention): `text` is
    how it reads in the message's plain text (often a display name), `user` the account it stands for."""

    text: str
    user: UserRef

    @property
    def written(self) -> str:
        """The account as a command names one: `@alice:example.org`, `telegram:user:42`."""
        return self.user.user_id if self.user.platform is Platform.MATRIX else str(self.user)


def with_mentions(text: str, mentions: tuple[Mention, ...]) -> str:
    """`text` with each mention's words replaced by the account it stands for, so that a command
    naming a person by a pill or a Telegram mention names their account. Each mention is taken once,
    at its first place after the one before it; one whose words are not found changes nothing."""
    out, at = [], 0
    for mention in mentions:
        if not mention.text:
            continue
        found = text.find(mention.text, at)
        if found < 0:
            continue
        out.append(text[at:found] + mention.written)
        at = found + len(mention.text)
    return "".join(out) + text[at:]


@dataclass(frozen=True, slots=True)
class Attachment:
    """A photo or file that came with a message, or goes with one. `data` is None where the connector
    did not fetch it (over the size limit, or of a type not accepted): the command is then refused.
    `id` names it within its item once filed (see ItemRepository.file_message)."""

    name: str
    mime: str
    size: int
    data: bytes | None = None
    id: str = ""

    def __repr__(self) -> str:  # never the bytes, nor the name (content), in a log or a traceback
        return f"Attachment({self.mime}, {self.size} bytes)"


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A text a person sent, as the connector recorded it in the inbox."""

    event_id: str
    sender: UserRef
    chat: ChatRef
    text: str
    received_at: datetime
    reply_to: MessageRef | None = None
    # The platform's id of the message itself, where the bot may need to act on it (remove it):
    # a Matrix event id, a Telegram "chat:message" pair. None where the connector did not give one.
    message_id: str | None = None
    # The connector knows `chat` is the sender's direct chat with the bot (nobody else reads it), where
    # the chat's id cannot tell (a Matrix room). alerts.caveat_rules.shared_chat reads both.
    direct: bool = False
    # The platform's id of the message whose button sent this command (Telegram "chat:message"); the
    # command then plans that message's buttons to show its outcome (alerts.pressed). None if typed.
    pressed: str | None = None
    # Photos and files sent with the text (the caption, or the accompanying text, is `text`).
    attachments: tuple[Attachment, ...] = ()
    # Not a command: the connector's reading of a gesture that does nothing (a reaction or a reply the
    # bot cannot take), said to the sender so that it is never silently dropped. Nothing runs.
    remark: str | None = None
    # This is an edit of an earlier message: the platform's id of the original (as `message_id` names
    # messages), and `text` is the edited text. None for a message as first sent.
    edit_of: str | None = None
    # The people the message mentions, in the order they appear (handlers.dispatcher reads commands
    # with each mention's words replaced by its account: alerts.messages.with_mentions).
    mentions: tuple[Mention, ...] = ()
    # Where the answers to it attach, as the connector judged it: a message in `chat` they reply to
    # (the platform's id; on Matrix it may name the thread too). None: answers are plain messages.
    answer_to: MessageRef | None = None

    def attachment_ids(self) -> tuple[str, ...]:
        """The ids its attachments are filed under in their item: unique, as event ids are per platform."""
        return tuple(f"{self.sender.platform.value}:{self.event_id}/{n}" for n in range(len(self.attachments)))


class MessageKind(enum.Enum):
    DELIVERY = "delivery"      # an item given to a recipient (a disclosure, audited when sent)
    RECEIPT = "receipt"        # the originator's confirmation with the reference number
    ANSWER = "answer"          # a reply to a command (help, errors, status)
    FEEDBACK = "feedback"      # a recipient's feedback relayed to the originator
    REMINDER = "reminder"
    ESCALATION = "escalation"
    NOTICE = "notice"          # anything else the bot tells someone
    MEMBERSHIP = "membership"  # a room action (invite, remove) for bot.actions.membership, not a text to post
    DEVICE = "device"          # a device trust action (list, verify, blacklist) for bot.actions.devices, likewise
    REMOVAL = "removal"        # removing a message from a chat (alerts.removal) for bot.actions.removal, likewise
    BUTTONS = "buttons"        # a pressed button shown as its outcome (alerts.pressed): an edit, not a text to post
    SUPERSEDE = "supersede"    # an earlier revision's copy edited to say it is superseded (alerts.supersede), likewise
    APPROVAL = "approval"      # asking an approver to release a held item (alerts.release); Telegram adds a button


class Disclosure(enum.Enum):
    """Why an outbox row carries its item's content to its reader: the item itself, or what someone
    wrote on it that the bot passes on. A row that has one is audited when it is sent, as a copy is
    (an entry `delivery`: whom it reached, by which chat, the platform's message id, and this)."""

    COPY = "copy"              # the item itself: a first copy, a correction's, one handed to a backup
    FORWARD = "forward"        # the item passed on by /forward (or /consent)
    FEEDBACK = "feedback"      # a recipient's /reply, relayed to the originator
    UPDATE = "update"          # the originator's /reply, relayed to the recipients
    CLOSURE = "closure"        # the outcome written on /close, told to the recipients and the originator
    ESCALATION = "escalation"  # an escalation to a recipient's backup with the item itself
    APPROVAL = "approval"      # a held item shown to an approver (two-person release)


# Kinds whose every row carries its item's content, whatever it says (rows enqueued before rows named
# their Disclosure among them): a copy, relayed feedback, an approval request.
_DISCLOSED_BY_KIND = {MessageKind.DELIVERY: Disclosure.COPY, MessageKind.FEEDBACK: Disclosure.FEEDBACK,
                      MessageKind.APPROVAL: Disclosure.APPROVAL}


def disclosure_of(kind: MessageKind, disclosure: Disclosure | None) -> Disclosure | None:
    """What a row of `kind` that names `disclosure` (or none) discloses of its item; None: nothing."""
    return disclosure if disclosure is not None else _DISCLOSED_BY_KIND.get(kind)


# The kinds that are platform actions, not texts: the delivery worker hands each to the Operation the
# runtime registered for it (bot/runtime/app.py), and sets aside one it has none for, never posting it.
PLATFORM_ACTIONS = frozenset({MessageKind.MEMBERSHIP, MessageKind.DEVICE, MessageKind.REMOVAL, MessageKind.SUPERSEDE})


@dataclass(frozen=True, slots=True)
class SentMessage:
    """What the bot recorded it sent as one platform message (its outbox row): what a reply to that
    message may mean is decided by this, never by the message's text."""

    kind: MessageKind
    reference: str | None  # the item it was about
    contact: str | None    # whom it was for (None: an answer to a chat, a room notice)
    originator: str | None = None  # the item's originator, when it is about one


# Messages that ask their reader to answer about the item: their copy of it, and its reminders and escalations.
_ASKS_FOR_AN_ANSWER = frozenset({MessageKind.DELIVERY, MessageKind.REMINDER, MessageKind.ESCALATION})


def reply_reference(sent: SentMessage | None, contact: str | None) -> str | None:
    """The item whose /reply a plain reply by `contact` to `sent` is; None when that message invites
    none. A recipient answers their own copy (or its reminder, escalation); the originator answers a
    feedback relayed to them. Anything else (a receipt, an answer, an update relayed to recipients,
    somebody else's copy in a shared room) invites no reply: taken as /reply, a "thanks" to a receipt
    would go to every recipient as an update."""
    if sent is None or contact is None or sent.reference is None or sent.contact != contact:
        return None
    if sent.kind in _ASKS_FOR_AN_ANSWER and contact != sent.originator:
        return sent.reference
    if sent.kind is MessageKind.FEEDBACK and contact == sent.originator:
        return sent.reference
    return None


def acknowledged_reference(sent: SentMessage | None, contact: str | None) -> str | None:
    """The item an acknowledging gesture (on Matrix a ✅ reaction) by `contact` on `sent` is /ack of:
    by the rule of replies (reply_reference), on a message that asks them to act on a copy (the copy
    itself, its reminder or escalation, as a delegate or a backup too: /ack decides whose copy). None
    elsewhere: relayed feedback invites a reply, but there is nothing of the originator's to acknowledge."""
    reference = reply_reference(sent, contact)
    return reference if sent is not None and sent.kind in _ASKS_FOR_AN_ANSWER else None


def no_reply_hint(reference: str | None) -> str:
    """The one line that answers a reply to a message of the bot's that invites none."""
    example = reference or "A-2026-0001"
    return (f"That reply went to no one: a reply counts only on your own copy of an item, its reminders, or "
            f"feedback relayed to you. To send feedback or an update on an item: /reply {example} your text")


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One message to send; `key` is made when the message is created and never again.

    The key is the idempotency key of the outbox row and, on Matrix, the transaction id, so a
    resend after a crash is recognised rather than delivered twice.
    """

    key: str
    kind: MessageKind
    destination: Destination
    text: str
    reference: str | None = None
    contact: str | None = None
    protect_content: bool = False
    reply_to: MessageRef | None = None
    not_before: datetime | None = None
    # Attachment ids of the item `reference` (ItemRepository.attachment) to send with the text.
    attachments: tuple[str, ...] = ()
    # Files made for this message alone (the digest's and the bulletin's charts), with their bytes:
    # stored sealed beside its outbox row until it is sent, then removed. Sent before `attachments`.
    files: tuple[Attachment, ...] = ()
    # The people this message asks to act (a delivery, a reminder, an escalation): each platform makes
    # it notify them (on Matrix, a mention). Empty: a message to read, which need not notify.
    attention: tuple[UserRef, ...] = ()
    # Whether, and why, it carries the item's content (see Disclosure); None: nothing of it, or what
    # its kind says (disclosure_of). Set by whoever writes the text from the item.
    disclosure: Disclosure | None = None
