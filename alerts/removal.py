"""Taking a message out of a chat: a TLP:RED item typed where others read it, or a copy of an item
that was withdrawn.

Pure: no I/O. handlers/post_item.py (TLP:RED in a shared chat) and handlers/withdrawal.py (/withdraw:
each delivered copy) plan a Removal inside the command's transaction, as an outbox row of kind
REMOVAL (removal_message), so a crash can neither lose it nor do it twice; bot/actions/removal.py
carries it out after the commit (a Matrix redaction, a Telegram deletion) and tells the chat and the
officer how it went. Texts name the officer and the rule; never content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from alerts.identity import ChatRef, UserRef
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing_types import Destination


# Why a message is removed.
SHARED_RED = "shared-red"  # a TLP:RED item typed in a shared chat
WITHDRAWN = "withdrawn"    # a delivered copy of an item that was withdrawn
# the line told where an earlier copy of it could not be edited to say it is superseded: it carries
# nothing of the item, so nobody is told whether it went
WITHDRAWN_LINE = "withdrawn-line"
# /member remove: a copy of TLP:AMBER or above in the removed person's direct chat, then the bot
# leaving that chat (Matrix; a Telegram bot cannot leave a private chat). A leave has no message id.
OFFBOARDED = "offboarded"
LEAVE_DIRECT = "leave-direct"

# Telegram lets a bot delete a message only for 48 hours after it was sent. A copy is planned for
# deletion only while it is well inside that window (the removal waits its turn in the chat's queue).
TELEGRAM_DELETE_WINDOW = timedelta(hours=48)
TELEGRAM_DELETE_MARGIN = timedelta(minutes=30)


@dataclass(frozen=True, slots=True)
class Removal:
    # The chat the message is in; None for a copy in someone's direct chat with the bot, which only
    # the connector knows on Matrix (`direct_with` names whose).
    chat: ChatRef | None
    message_id: str  # the platform's id of the message (a Matrix event id, Telegram "chat:message")
    chat_name: str  # as the chat and the officer are told it
    officer: str  # contact id of who typed it (for a withdrawn copy: who withdrew the item)
    officer_account: UserRef | None  # they are told in this account's direct chat; None: not told
    officer_name: str
    tlp: str  # the label, "TLP:RED"
    noun: str  # "alert" or "request"
    reference: str | None  # the item it became; None when it was refused
    purpose: str = SHARED_RED
    direct_with: UserRef | None = None

    @property
    def place(self) -> Destination:
        """Where the message is, as the outbox addresses it."""
        if self.chat is not None:
            return Destination.chat(self.chat)
        assert self.direct_with is not None, "a removal names its chat or whose direct chat"
        return Destination.direct(self.direct_with)

    @property
    def key(self) -> str:
        """One removal per message, however often it is planned."""
        digest = hashlib.sha256(f"remove|{self.chat or self.direct_with}|{self.message_id}".encode()).hexdigest()
        return f"rmv-{digest[:48]}"

    def to_json(self) -> str:
        return json.dumps({"chat": str(self.chat) if self.chat else None, "message_id": self.message_id,
                           "chat_name": self.chat_name, "officer": self.officer,
                           "officer_account": str(self.officer_account) if self.officer_account else None,
                           "officer_name": self.officer_name, "tlp": self.tlp,
                           "noun": self.noun, "reference": self.reference, "purpose": self.purpose,
                           "direct_with": str(self.direct_with) if self.direct_with else None}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Removal:
        data = json.loads(text)
        account, direct = data.get("officer_account"), data.get("direct_with")
        return cls(ChatRef.parse(data["chat"]) if data.get("chat") else None, data["message_id"], data["chat_name"],
                   data["officer"], UserRef.parse(account) if account else None, data["officer_name"], data["tlp"],
                   data["noun"], data.get("reference"), data.get("purpose", SHARED_RED),
                   UserRef.parse(direct) if direct else None)

    # --- what the chat and the officer are told --------------------------------------------------

    def _outcome(self) -> str:
        if self.reference:
            return f"It went to its named recipients in direct chats as {self.reference}."
        return "It was not sent (the reason is in your direct chat with the bot)."

    def removed_chat_text(self) -> str:
        return (f"A message by {self.officer_name} was removed from this chat: it carried a {self.tlp} "
                f"{self.noun}, and {self.tlp} goes only to direct chats with the people named.")

    def removed_officer_text(self) -> str:
        return (f"Your {self.tlp} {self.noun} was removed from {self.chat_name}: {self.tlp} is never posted in a "
                f"shared chat. {self._outcome()} Next time, post it in your direct chat with the bot.")

    def kept_copy_text(self, why: str) -> str:
        """A withdrawn copy the bot could not remove: its reader is asked to."""
        return (f"⚠ {self.reference} was withdrawn, but the bot cannot remove its copy here ({why}): "
                "please delete it yourself, and do not pass it on.")

    def kept_withdrawer_text(self, why: str) -> str:
        return (f"⚠ {self.reference}: the copy in {self.chat_name} could not be removed ({why}); its reader was "
                "asked to delete it.")

    def offboard_kept_text(self, why: str) -> str:
        """To the admin who removed the person: what the bot could not do in their direct chat."""
        if self.purpose == LEAVE_DIRECT:
            return f"⚠ The bot could not leave {self.chat_name} ({why}): leave it from the bot's account."
        return (f"⚠ The copy of {self.reference or 'an erased item'} in {self.chat_name} could not be removed "
                f"({why}): it stays with them.")

    def kept_chat_text(self, why: str) -> str:
        return (f"⚠ A message by {self.officer_name} in this chat carries a {self.tlp} {self.noun}, which goes "
                f"only to direct chats with the people named. The bot cannot remove it ({why}): "
                f"{self.officer_name} or a moderator, please delete it now, and do not pass it on.")

    def kept_officer_text(self, why: str) -> str:
        return (f"⚠ Your {self.tlp} {self.noun} is still visible in {self.chat_name}: the bot cannot remove it "
                f"({why}). Delete it there now. {self._outcome()} Next time, post it in your direct chat with "
                "the bot.")


# --- the one line told in a chat whose copies are taken back: its own key for each telling ------------

def withdrawn_notice_key(reference: str, destination: Destination) -> str:
    """The line told in `destination` when the item is withdrawn: an item is withdrawn once, so
    once per chat, whoever plans it (the command, or the delivery worker meeting a late copy)."""
    digest = hashlib.sha256(f"withdrawal|{reference}|{destination}".encode()).hexdigest()
    return f"wdn-{digest[:48]}"


def dropped_notice_key(reference: str, revision: int, destination: Destination) -> str:
    """The line told in `destination` when revision `revision` no longer goes there: once per
    correction and chat, so a reader left out, added back and left out again is told each time,
    and told of a later withdrawal as well."""
    digest = hashlib.sha256(f"dropped|{reference}|{revision}|{destination}".encode()).hexdigest()
    return f"wdd-{digest[:48]}"


def removal_message(removal: Removal) -> OutboundMessage:
    """The outbox row that carries the removal to bot/actions/removal.py: kind REMOVAL, addressed to
    the chat (so it keeps its place among what the bot posts there), keyed by the removal."""
    return OutboundMessage(key=removal.key, kind=MessageKind.REMOVAL, destination=removal.place,
                           text=removal.to_json(), reference=removal.reference, contact=removal.officer)
