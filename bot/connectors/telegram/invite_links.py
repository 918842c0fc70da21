"""The invite links the bot made, each for one person and one group, kept until used or revoked.

Onboarding links ask for approval (creates_join_request): a join request through one is approved
only for the person it was made for, in the group it was made for; every other request is
declined, so a forwarded link admits nobody else. Offboarding revokes the person's links that were
never used. The record lives in the database (the cursors table, one JSON value), written before a
link is sent, so a restart or the standby knows every link that is out.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Mapping, Protocol

INVITE_LINKS = "telegram.invite_links"
KEEP_AFTER_EXPIRY = timedelta(days=1)  # a link past its expiry date admits nobody; its record goes after this


class NamedValues(Protocol):
    async def load(self, name: str) -> str | None: ...

    async def save(self, values: Mapping[str, str]) -> None: ...


@dataclass(frozen=True, slots=True)
class InviteLink:
    link: str
    chat_id: int
    user_id: int
    expires: datetime

    def json(self) -> dict[str, Any]:
        return {"chat": self.chat_id, "user": self.user_id, "expires": self.expires.isoformat()}


class InviteLinks:
    def __init__(self, store: NamedValues) -> None:
        self._store = store
        self._lock = asyncio.Lock()

    async def add(self, link: InviteLink, now: datetime) -> None:
        async with self._lock:
            links = await self._load()
            links[link.link] = link
            await self._save({k: v for k, v in links.items() if v.expires + KEEP_AFTER_EXPIRY > now})

    async def get(self, link: str) -> InviteLink | None:
        async with self._lock:
            return (await self._load()).get(link)

    async def of_person(self, chat_id: int, user_id: int) -> list[InviteLink]:
        async with self._lock:
            return [v for v in (await self._load()).values() if (v.chat_id, v.user_id) == (chat_id, user_id)]

    async def forget(self, *links: str) -> None:
        async with self._lock:
            stored = await self._load()
            if any(link in stored for link in links):
                await self._save({k: v for k, v in stored.items() if k not in links})

    async def _load(self) -> dict[str, InviteLink]:
        text = await self._store.load(INVITE_LINKS)
        found = json.loads(text) if text else {}
        return {link: InviteLink(link, int(v["chat"]), int(v["user"]), datetime.fromisoformat(v["expires"]))
                for link, v in found.items()}

    async def _save(self, links: dict[str, InviteLink]) -> None:
        await self._store.save({INVITE_LINKS: json.dumps({k: v.json() for k, v in sorted(links.items())})})


class MemoryValues:
    """NamedValues in memory, for a room admin made without a connector (tests, tools)."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    async def load(self, name: str) -> str | None:
        return self._values.get(name)

    async def save(self, values: Mapping[str, str]) -> None:
        self._values.update(values)
