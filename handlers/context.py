"""What one command sees while it runs: the message, its sender, the directory, time, the unit of work."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from alerts.audit import AuditAction, AuditEvent
from alerts.caveat_rules import ENCRYPTED_ONLY
from alerts.caveats import Tlp
from alerts.directory import Contact, Directory
from alerts.identity import Platform
from alerts.messages import InboundMessage, MessageKind, OutboundMessage
from alerts.routing import Destination
from handlers.ports import UnitOfWork


@dataclass
class CommandContext:
    uow: UnitOfWork
    message: InboundMessage
    sender: Contact | None
    directory: Directory
    now: datetime
    new_key: Callable[[], str]
    answers: list[str] = field(default_factory=list)
    # False where nobody reads the chat (the command line): answers are only collected in `answers`,
    # and membership runs plan no progress notices.
    in_chat: bool = True
    # Where messages about an item may go (alerts.routing_places.direct_place): the platforms the bot
    # runs (None: every one) and the TLPs whose content goes only over end-to-end encrypted channels.
    platforms: AbstractSet[Platform] | None = None
    encrypted_only: frozenset[Tlp] = ENCRYPTED_ONLY

    @property
    def actor(self) -> str:
        return self.sender.id if self.sender else str(self.message.sender)

    @property
    def channel(self) -> str:
        return str(self.message.chat)

    def answer(self, text: str, kind: MessageKind = MessageKind.ANSWER, reference: str | None = None) -> None:
        """Answer in the chat the command came from; the answer is an outbox row like any other."""
        message = self.answer_message(text, kind, reference)
        if self.in_chat:
            self.uow.outbox.enqueue(message)

    def answer_message(self, text: str, kind: MessageKind = MessageKind.ANSWER,
                       reference: str | None = None) -> OutboundMessage:
        """The answer that answer() queues, for a caller that queues it with other rows (one statement)."""
        self.answers.append(text)
        return OutboundMessage(
            key=self.new_key(),
            kind=kind,
            destination=Destination.chat(self.message.chat),
            text=text,
            reference=reference,
            contact=self.sender.id if self.sender else None,
            # Attached to the message it answers where the connector asked for that (its thread, a
            # reply); a platform that cannot attach it there (another chat) sends it plain.
            reply_to=self.message.answer_to,
        )

    def audit(self, action: AuditAction, **fields: object) -> None:
        fields.setdefault("actor", self.actor)
        fields.setdefault("channel", self.channel)
        self.uow.audit.record(AuditEvent(action=action, at=self.now, **fields))  # type: ignore[arg-type]
