"""A delivered copy of an earlier revision, edited in place to say it is superseded.

Pure: no I/O. /correct (handlers/correction.py) plans, in its own transaction, one outbox row of kind
SUPERSEDE per delivered copy whose reader gets the new revision (supersede_message), addressed to the
copy's chat and queued before the new copy, so it keeps its place there and a crash can neither lose
it nor do it twice. bot/actions/supersede.py carries it out through the platform's connector (a
Matrix m.replace edit of the bot's event, a Telegram editMessageText or editMessageCaption, the
console prints it); where the edit cannot be made (the message is gone, too old, the platform has no
edits) it queues `notice`, the one line that otherwise follows the copy. Texts carry the caveat's
label and the reference, never content.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from alerts.messages import MessageKind, OutboundMessage
from alerts.routing_types import Destination


@dataclass(frozen=True, slots=True)
class Supersession:
    message_id: str  # the platform's id of the earlier copy (a Matrix event id, Telegram "chat:message")
    reference: str
    revision: int    # the revision that supersedes it
    text: str        # what the copy becomes (alerts.render.render_superseded_copy)
    notice: str      # the one line told in its place when it cannot be edited (render_superseded_notice)
    contact: str     # whose copy it is
    protect_content: bool = False

    def key_for(self, destination: Destination) -> str:
        """One edit per copy and revision, however often it is planned."""
        return edit_key(destination, self.message_id, self.revision)

    def notice_key(self, destination: Destination) -> str:
        """The fallback line's key: told once, whatever the retries and restarts."""
        return notice_key(destination, self.message_id, self.revision)

    def to_json(self) -> str:
        return json.dumps({"message_id": self.message_id, "reference": self.reference, "revision": self.revision,
                           "text": self.text, "notice": self.notice, "contact": self.contact,
                           "protect_content": self.protect_content}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Supersession:
        data = json.loads(text)
        return cls(str(data["message_id"]), str(data["reference"]), int(data["revision"]), str(data["text"]),
                   str(data["notice"]), str(data["contact"]), bool(data.get("protect_content", False)))


def edit_key(destination: Destination, message_id: str, revision: int) -> str:
    """The key of the edit of the copy `message_id` in `destination` to say `revision` supersedes it."""
    digest = hashlib.sha256(f"supersede|{destination}|{message_id}|{revision}".encode()).hexdigest()
    return f"sup-{digest[:48]}"


def notice_key(destination: Destination, message_id: str, revision: int) -> str:
    """The key of the line told in that edit's place: /withdraw finds it by this key to take it back."""
    return "supn-" + edit_key(destination, message_id, revision)[4:]


def unknown_copy_line_key(reference: str, earlier: int, destination: Destination) -> str:
    """The key of the line after a copy of revision `earlier` whose message is unknown (nothing to edit)."""
    digest = hashlib.sha256(f"superseded|{reference}|{earlier}|{destination}".encode()).hexdigest()
    return f"sup-{digest[:48]}"


def superseded_line(kind: MessageKind, key: str) -> bool:
    """Whether an outbox row is a line told in place of an edit (notice_key, unknown_copy_line_key):
    the delivery worker knows it by its key, to take it back when it lands after a withdrawal."""
    return kind is MessageKind.NOTICE and key.startswith(("supn-", "sup-"))


def supersede_message(supersession: Supersession, destination: Destination) -> OutboundMessage:
    """The outbox row that carries the edit to bot/actions/supersede.py: kind SUPERSEDE, addressed to
    the copy's chat (its place among what the bot posts there), keyed by the copy and the revision."""
    return OutboundMessage(key=supersession.key_for(destination), kind=MessageKind.SUPERSEDE, destination=destination,
                           text=supersession.to_json(), reference=supersession.reference,
                           contact=supersession.contact, protect_content=supersession.protect_content)


def fallback_notice(supersession: Supersession, destination: Destination) -> OutboundMessage:
    """The one line that follows the copy in its chat when it could not be edited."""
    return OutboundMessage(key=supersession.notice_key(destination), kind=MessageKind.NOTICE, destination=destination,
                           text=supersession.notice, reference=supersession.reference, contact=supersession.contact,
                           protect_content=supersession.protect_content)
