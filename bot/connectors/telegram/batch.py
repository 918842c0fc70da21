"""What one batch of Telegram updates comes to, gathered first and then made durable in order.

1. refusals (audit entries, queued answers) and `saves` (guided drafts, chat moves) are written;
2. the inbox messages are written with the new update offset, in one transaction (Ingest);
3. `saves_after` are written: a confirmed form's draft is cleared only once its command is in the
   inbox, so a crash in between leaves a draft to send again (its event id makes that a no-op),
   never a lost alert;
4. callback queries are answered, then prompts and edits are sent in the background, in order within
   each chat (a chat held back by a retry-after delays only its own prompts).

A crash before 2 re-reads the whole batch: drafts know the last update they applied, the inbox
knows its event ids, and refusal answers have keys made from the update id, so nothing is done twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Awaitable, Callable

from alerts.messages import InboundMessage
from bot.connectors.telegram.store import Refusal

Followup = Callable[[], Awaitable[object]]  # what it returns is not used


@dataclass
class Batch:
    messages: list[InboundMessage] = field(default_factory=list)
    saves: dict[str, str] = field(default_factory=dict)
    saves_after: dict[str, str] = field(default_factory=dict)
    refusals: list[Refusal] = field(default_factory=list)
    answers: list[tuple[str, str | None]] = field(default_factory=list)  # (callback query id, text)
    followups: list[tuple[int, Followup]] = field(default_factory=list)  # (chat id, what to send there)

    def answer(self, query_id: str, text: str | None) -> None:
        self.answers.append((query_id, text))

    def then(self, chat_id: int, followup: Followup) -> None:
        self.followups.append((chat_id, followup))
