"""Groups that became supergroups keep their place: the old chat id stays the directory's name for it.

When a Telegram group is upgraded it gets a new id (-100…) and the old one stops working. The
connector records old -> new (persisted as JSON in the cursors table, logged for admins) and then:
- outgoing: a send to the old id goes to the new one;
- incoming: a message from the new id is presented under the old id while the directory only knows
  the old one, so the room keeps its purpose and organisations; once an admin puts the new id in
  the configuration, the new id is used as it is.
"""

from __future__ import annotations

import json
from typing import Callable

MIGRATIONS = "telegram.chat_migrations"


class ChatMigrations:
    def __init__(self, moved: dict[int, int] | None = None) -> None:
        self._moved = dict(moved or {})

    @classmethod
    def from_json(cls, text: str | None) -> ChatMigrations:
        if not text:
            return cls()
        return cls({int(old): int(new) for old, new in json.loads(text).items()})

    def to_json(self) -> str:
        return json.dumps({str(old): new for old, new in sorted(self._moved.items())})

    def add(self, old: int, new: int) -> bool:
        """Record a move; False when it was known already."""
        if old == new or self._moved.get(old) == new:
            return False
        self._moved[old] = new
        return True

    def outgoing(self, chat_id: int) -> int:
        """Where a send to `chat_id` goes now (following moves, even a chain of them)."""
        seen = {chat_id}
        while chat_id in self._moved and self._moved[chat_id] not in seen:
            chat_id = self._moved[chat_id]
            seen.add(chat_id)
        return chat_id

    def incoming(self, chat_id: int, known: Callable[[int], bool]) -> int:
        """The id the directory knows this chat by: an old id when only the old one is registered."""
        if known(chat_id):
            return chat_id
        for old in self._moved:
            if self.outgoing(old) == chat_id and known(old):
                return old
        return chat_id

    def merge(self, other: ChatMigrations) -> None:
        """Take moves recorded elsewhere (the stored map, read at start)."""
        for old, new in other._moved.items():
            self._moved.setdefault(old, new)
