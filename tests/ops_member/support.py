"""The sample network on SQLite with membership administration installed, driven like the console."""

from __future__ import annotations

import io
import itertools
import tomllib
from pathlib import Path

from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage
from bot.runtime.app import Runtime, build_runtime
from bot.config.settings import Settings, settings_from_data
from bot.actions.membership import RoomActions
from storage.audit.trail import read_entries
from bot.runtime.keys import ensure_keyring

ROOT = Path(__file__).resolve().parents[2]
EXTRA_ROOMS = [
    {"chat": "console:#thailand", "name": "Thailand room", "purpose": "country", "organisations": ["TH"]},
    {"chat": "console:#admins", "name": "Admins", "purpose": "management", "organisations": ["RSO"]},
]


def config_data(tmp: Path) -> dict:
    data = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    data["storage"]["url"] = f"sqlite:///{tmp / 'bot.sqlite'}"
    data["keys"]["path"] = str(tmp / "keys" / "liaison.keys")
    data["audit"]["witness_path"] = str(tmp / "witness.log")
    data["network"]["rooms"] += EXTRA_ROOMS
    return data


def settings_for(tmp: Path) -> Settings:
    return settings_from_data(config_data(tmp), tmp / "config.toml")


class ConsoleBot:
    """A runtime on the console; says() submits and settles."""

    def __init__(self, settings: Settings) -> None:
        self.out = io.StringIO()
        self.runtime: Runtime = build_runtime(settings, out=self.out, notice=io.StringIO())
        self.actions: RoomActions = self.runtime.room_actions
        self._events = itertools.count(1)

    async def says(self, who: str, text: str, chat: str | None = None) -> str:
        start = len(self.out.getvalue())
        await self.runtime.submit(InboundMessage(f"t{next(self._events)}", UserRef.parse(f"console:{who}"),
                                                 ChatRef.parse(chat or f"console:@{who}"), text,
                                                 self.runtime.clock.now()))
        return self.out.getvalue()[start:]

    def audit(self) -> list:
        keyring = ensure_keyring(self.runtime.settings.keys.path, io.StringIO())
        with self.runtime.engine.connect() as conn:
            return list(read_entries(conn, keyring))

    def roster(self, chat: str) -> dict:
        from storage.roster import SqlRoomRoster

        with self.runtime.engine.connect() as conn:
            return {str(k): v for k, v in (SqlRoomRoster(conn).present(ChatRef.parse(chat)) or {}).items()}
