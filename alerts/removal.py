"""Taking a message out of a shared chat: a TLP:RED item typed where others read it.

Pure: no I/O. handlers/post_item.py plans a Removal inside the command's transaction, as an outbox
row of kind REMOVAL (removal_message), so a crash can neither lose it nor do it twice;
bot/actions/removal.py carries it out after the commit (a Matrix redaction, a Telegram deletion)
and tells the chat and the officer how it went. Texts name the officer and the rule; never content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from alerts.identity import ChatRef, UserRef
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing_types import Destination


@dataclass(frozen=True, slots=True)
class Removal:
    chat: ChatRef
    message_id: str  # the platform's id of the message (a Matrix event id, Telegram "chat:message")
    chat_name: str  # as the chat and the officer are told it
    officer: str  # contact id of who typed it
    officer_account: UserRef  # the account they typed it from: they are told in its direct chat
    officer_name: str
    tlp: str  # the label, "TLP:RED"
    noun: str  # "alert" or "request"
    reference: str | None  # the item it became; None when it was refused

    @property
    def key(self) -> str:
        """One removal per message, however often it is planned."""
        digest = hashlib.sha256(f"remove|{self.chat}|{self.message_id}".encode()).hexdigest()
        return f"rmv-{digest[:48]}"

    def to_json(self) -> str:
        return json.dumps({"chat": str(self.chat), "message_id": self.message_id, "chat_name": self.chat_name,
                           "officer": self.officer, "officer_account": str(self.officer_account),
                           "officer_name": self.officer_name, "tlp": self.tlp,
                           "noun": self.noun, "reference": self.reference}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Removal:
        data = json.loads(text)
        return cls(ChatRef.parse(data["chat"]), data["message_id"], data["chat_name"], data["officer"],
                   UserRef.parse(data["officer_account"]), data["officer_name"], data["tlp"], data["noun"],
                   data.get("reference"))

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

    def kept_chat_text(self, why: str) -> str:
        return (f"⚠ A message by {self.officer_name} in this chat carries a {self.tlp} {self.noun}, which goes "
                f"only to direct chats with the people named. The bot cannot remove it ({why}): "
                f"{self.officer_name} or a moderator, please delete it now, and do not pass it on.")

    def kept_officer_text(self, why: str) -> str:
        return (f"⚠ Your {self.tlp} {self.noun} is still visible in {self.chat_name}: the bot cannot remove it "
                f"({why}). Delete it there now. {self._outcome()} Next time, post it in your direct chat with "
                "the bot.")


def removal_message(removal: Removal) -> OutboundMessage:
    """The outbox row that carries the removal to bot/actions/removal.py: kind REMOVAL, addressed to
    the chat (so it keeps its place among what the bot posts there), keyed by the removal."""
    return OutboundMessage(key=removal.key, kind=MessageKind.REMOVAL, destination=Destination.chat(removal.chat),
                           text=removal.to_json(), reference=removal.reference, contact=removal.officer)
