"""Acknowledgement and feedback due times by priority, overridable per item."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.items import ItemDraft
from alerts.priority import Priority


@dataclass(frozen=True, slots=True)
class DueTimes:
    acknowledge: timedelta
    feedback: timedelta


DEFAULT_DUE = {
    Priority.URGENT: DueTimes(timedelta(hours=1), timedelta(hours=24)),
    Priority.PRIORITY: DueTimes(timedelta(hours=4), timedelta(days=3)),
    Priority.ROUTINE: DueTimes(timedelta(hours=24), timedelta(days=7)),
}


@dataclass(frozen=True)
class DuePolicy:
    by_priority: dict[Priority, DueTimes]

    @classmethod
    def default(cls) -> DuePolicy:
        return cls(dict(DEFAULT_DUE))

    def due_times(self, draft: ItemDraft, created_at: datetime) -> tuple[datetime, datetime]:
        """(acknowledge by, feedback by); a per-item due date moves feedback, never ack past it."""
        times = self.by_priority[draft.priority]
        ack = created_at + times.acknowledge
        feedback = draft.due.resolve(created_at) if draft.due else created_at + times.feedback
        return min(ack, feedback), feedback
