"""What the audit log records about an exchange, as domain values; storage seals and chains them."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

# The actor the audit log names for what the bot does on its own (deliveries, reminders, room actions).
BOT_ACTOR = "liaison-bot"


class AuditAction(enum.Enum):
    COMMAND = "command"            # an inbound command, as received
    ITEM_CREATED = "item.created"  # an alert or request accepted
    DELIVERY = "delivery"          # disclosure: an item given to a recipient
    REFUSAL = "refusal"            # a route, command or sender refused, with the reason
    ACKNOWLEDGEMENT = "ack"
    FEEDBACK = "feedback"
    CLOSURE = "close"
    FORWARD = "forward"
    CONSENT = "consent"
    REMINDER = "reminder"
    ESCALATION = "escalation"
    CONSULTATION = "consultation"  # someone looked at an item (/status, audit show, export)
    ADMIN = "admin"
    MEMBERSHIP = "membership"
    CONFIG = "config"
    KEY = "key"
    EXPORT = "export"
    ERASURE = "erasure"
    WITHDRAWAL = "withdrawal"      # an item taken back by its originator or a coordinator
    CORRECTION = "correction"      # the next revision of an item, with its route
    RELEASE = "release"            # two-person release: held, reminded, approved, declined, expired
    AWAY = "away"                  # an absence set or ended, with its delegate


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """Who did what, to whom, by which channel, when, about which item, under which caveat and why.

    `detail` holds content and personal data; storage encrypts it, and everything else that it
    must keep in clear for verification and search is kept to a minimum.
    """

    action: AuditAction
    at: datetime
    actor: str
    recipients: tuple[str, ...] = ()
    channel: str | None = None
    reference: str | None = None
    caveat: str | None = None
    purpose: str | None = None
    detail: dict[str, str] = field(default_factory=dict)
