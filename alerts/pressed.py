"""What a message's buttons become once one was pressed: the outcome in place of the button.

Pure: no I/O. A command a person sent by pressing a button (InboundMessage.pressed names the message
the button was on) plans, in its own transaction, an outbox row of kind BUTTONS whose text is a
ButtonState: what is now true of that person's copy (acknowledged at, reminders held until), in
their own time zone. The platform's connector turns it into an edit of the message's buttons (on
Telegram, editMessageReplyMarkup), retried like any other row, so the edit is never silently lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from alerts.times import button_time

__all__ = ["ButtonState", "button_time"]  # button_time is written in alerts.times, with every other time


@dataclass(frozen=True, slots=True)
class ButtonState:
    message_id: str               # the platform's id of the message with the buttons (Telegram "chat:message")
    reference: str
    acknowledged: str | None = None  # "14:02", or "14:02 UTC" for someone without a zone
    held_until: str | None = None    # "18:00", "Sat 09:00"

    def to_json(self) -> str:
        return json.dumps({"message_id": self.message_id, "reference": self.reference,
                           "acknowledged": self.acknowledged, "held_until": self.held_until}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ButtonState:
        data = json.loads(text)
        return cls(str(data["message_id"]), str(data["reference"]), data.get("acknowledged"), data.get("held_until"))
