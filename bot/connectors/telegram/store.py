"""What the Telegram connector keeps in the database, behind a small port.

- small named values in the cursors table: guided-form drafts ("telegram.guided.<chat>") and the
  map of groups that became supergroups ("telegram.chat_migrations"); no new table is needed;
- what the bot sent as a message (its outbox row, alerts.messages.SentMessage; any message a row became
  counts), for judging a reply to it;
- the messages one outbox row became (its photos, its text's parts: the outbox's platform_parts),
  recorded as each is sent, for a send resumed after a restart and for the copy's removal or edit;
- refusals of commands from senders who cannot be trusted: an audit entry (who as far as Telegram
  says, which chat, the reason, the command word; never the text) and, optionally, a short answer
  queued in the outbox like any other answer. The outbox key is derived from the update id, so a
  re-read update queues its answer once (the audit entry may then be written twice: a refusal is
  recorded at least once).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Protocol, Sequence

from alerts.audit import AuditAction, AuditEvent
from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import MessageKind, OutboundMessage, SentMessage
from alerts.routing import Destination
from bot.runtime.dbthread import read, write

if TYPE_CHECKING:
    from bot.runtime.app import Runtime
    from storage.uow import SqlUnitOfWork


@dataclass(frozen=True, slots=True)
class Refusal:
    event_id: str         # "telegram:<update_id>"
    chat: ChatRef
    actor: str            # "telegram:user:42", or the chat itself for an anonymous admin
    reason: str           # "anonymous admin", "forwarded", "via bot", "unregistered chat", ...
    command: str          # the command word only
    answer: str | None    # what the chat is told, or None to stay silent


class TelegramStore(Protocol):
    async def load(self, name: str) -> str | None: ...

    async def save(self, values: Mapping[str, str]) -> None:
        """Write named values in one transaction."""
        ...

    async def sent_message(self, platform_message_id: str) -> SentMessage | None:
        """What the bot sent as a platform message ("chat:message"), whichever of a copy's messages it is;
        None for one it has no record of."""
        ...

    async def refuse(self, refusal: Refusal) -> None: ...

    async def record_parts(self, key: str, parts: Sequence[str]) -> None:
        """The messages ("chat:message") the outbox row `key` became so far, in the order sent."""
        ...

    async def parts_sent(self, key: str) -> tuple[str, ...]:
        """What record_parts last recorded for `key`."""
        ...

    async def parts_of(self, platform_message_id: str) -> tuple[str, ...]:
        """Every message of the copy known by `platform_message_id`; none when it was that one alone."""
        ...

    async def awaits_body(self, sender: UserRef, chat: ChatRef) -> bool:
        """Whether the sender's next text in the chat is to be recorded although it is no command
        (bot.runtime.app.Runtime.awaits_body)."""
        ...


class RuntimeTelegramStore:
    """TelegramStore on the runtime's database thread and unit of work."""

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    async def load(self, name: str) -> str | None:
        return await self._runtime.db.run(self._runtime.cursor, name)

    async def save(self, values: Mapping[str, str]) -> None:
        def change(uow: SqlUnitOfWork) -> None:
            for name, value in values.items():
                uow.cursors.set(name, value)

        if values:
            await write(self._runtime, change)

    async def sent_message(self, platform_message_id: str) -> SentMessage | None:
        return await read(self._runtime, lambda uow: uow.outbox.sent_by_message(Platform.TELEGRAM, platform_message_id))

    async def awaits_body(self, sender: UserRef, chat: ChatRef) -> bool:
        return await self._runtime.awaits_body(sender, chat)

    async def record_parts(self, key: str, parts: Sequence[str]) -> None:
        await write(self._runtime, lambda uow: uow.outbox.record_parts(key, tuple(parts)))

    async def parts_sent(self, key: str) -> tuple[str, ...]:
        return await read(self._runtime, lambda uow: uow.outbox.parts_sent(key))

    async def parts_of(self, platform_message_id: str) -> tuple[str, ...]:
        return await read(self._runtime, lambda uow: uow.outbox.parts_of(Platform.TELEGRAM, platform_message_id))

    async def refuse(self, refusal: Refusal) -> None:
        def change(uow: SqlUnitOfWork) -> None:
            uow.audit.record(AuditEvent(
                action=AuditAction.REFUSAL,
                at=self._runtime.clock.now(),
                actor=refusal.actor,
                channel=str(refusal.chat),
                detail={"command": refusal.command, "reason": refusal.reason, "event": refusal.event_id},
            ))
            if refusal.answer:
                uow.outbox.enqueue(OutboundMessage(
                    key=f"telegram-refusal-{refusal.event_id.rpartition(':')[2]}",
                    kind=MessageKind.ANSWER,
                    destination=Destination.chat(refusal.chat),
                    text=refusal.answer,
                ))

        await write(self._runtime, change)
        if refusal.answer:
            self._runtime.worker.wake()
