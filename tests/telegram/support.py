"""The sample network with some members on Telegram, and the real runtime serving it against the fake server.

Settings come from config.example.toml as it is, changed only where a test needs it (a temporary
database and key file, Telegram enabled and pointed at the fake server, Telegram identities for a
few contacts, two registered Telegram groups), so the tests follow the sample network as it grows.
"""

from __future__ import annotations

import asyncio
import io
import time
import tomllib
from contextlib import asynccontextmanager
from pathlib import Path
from typing import AsyncIterator, Callable

from sqlalchemy import func, select

from alerts.clock import Clock

from bot.runtime.app import Runtime, add_receiver, build_runtime, vocabulary_for
from bot.runtime.serve import serve
from bot.config.settings import Settings, settings_from_data
from bot.connectors.telegram import TelegramConnector, telegram_connector_for
from bot.runtime.keys import ensure_keyring
from bot.connectors.ratelimit import Rate, RateLimiter
from storage.audit.trail import read_entries
from storage.tables import inbox, items, outbox
from tests.story_clock import StoryClock
from tests.telegram.fake_bot_api import TOKEN, FakeBotApi
from tests.telegram.fake_bot_state import Chat, User

ROOT = Path(__file__).resolve().parents[2]
TOKEN_ENV = "LIAISON_TEST_TELEGRAM_TOKEN"

OFFICER = User(101, "Aminah")           # my-officer, Malaysia
TH_NPOC = User(201, "Somchai")          # th-npoc, Thailand's national point of contact
MY_NPOC = User(202, "Farid")            # my-npoc
STRANGER = User(999, "Mallory")         # in no directory
TELEGRAM_IDS = {"my-officer": OFFICER, "th-npoc": TH_NPOC, "my-npoc": MY_NPOC}
NETWORK_GROUP = Chat(-1001500, "supergroup", "Network (Telegram)")
TH_GROUP = Chat(-4001, "group", "Thailand desk")  # an old-style group, for the supergroup move


def config_data(tmp: Path, api_url: str) -> dict:
    data = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    data["storage"]["url"] = f"sqlite:///{tmp / 'bot.sqlite'}"
    data["keys"]["path"] = str(tmp / "keys" / "liaison.keys")
    data["audit"]["witness_path"] = str(tmp / "witness.log")
    data["telegram"] = {"enabled": True, "token": {"env": TOKEN_ENV}, "api_url": api_url}
    for contact in data["network"]["contacts"]:
        user = TELEGRAM_IDS.get(contact["id"])
        if user is not None:  # Telegram first: direct deliveries go to the first identity
            contact["identities"] = [f"telegram:user:{user.id}", *contact["identities"]]
    data["network"]["rooms"] += [
        {"chat": f"telegram:{NETWORK_GROUP.id}", "name": "Network (Telegram)", "purpose": "network",
         "organisations": ["all"]},
        {"chat": f"telegram:{TH_GROUP.id}", "name": "Thailand desk", "purpose": "country", "organisations": ["TH"]},
    ]
    return data


def settings_for(tmp: Path, api_url: str) -> Settings:
    return settings_from_data(config_data(tmp, api_url), tmp / "config.toml")


def relaxed(fake: FakeBotApi) -> RateLimiter:
    """For tests about something else than pace: no flood control on either side, so a test does not
    wait a second per message (the pace itself has tests of its own)."""
    fake.flood.limits = None
    return generous_limiter()


def generous_limiter() -> RateLimiter:
    return RateLimiter(shared=Rate(1000, 1.0, burst=50), keyed={"chat": Rate(100, 1.0, burst=20),
                                                              "group": Rate(100, 1.0, burst=20)})


def meet(fake: FakeBotApi, *users: User) -> None:
    """These people have opened a private chat with the bot (Telegram refuses to write first)."""
    for user in users:
        fake.world.chat(Chat(user.id, "private", user.first_name))
    fake.world.chat(NETWORK_GROUP)
    fake.world.chat(TH_GROUP)


class Bot:
    """A running runtime with the Telegram connector, as `liaison-bot run` would have it."""

    def __init__(self, runtime: Runtime, connector: TelegramConnector) -> None:
        self.runtime = runtime
        self.connector = connector

    def count(self, table, *where) -> int:  # noqa: ANN001 - a SQLAlchemy Table
        with self.runtime.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()

    def items(self) -> int:
        return self.count(items)

    def recorded(self, chat_id: int, message_id: int) -> bool:
        """Whether the bot recorded a message it sent in `chat_id` as sent: a reply to it is judged by
        that record, so a test replies once it is there (a person is never that quick)."""
        return self.count(outbox, outbox.c.platform_message_id == f"{chat_id}:{message_id}",
                          outbox.c.state == "sent") > 0

    def inbox_events(self) -> list[str]:
        with self.runtime.engine.connect() as conn:
            return list(conn.execute(select(inbox.c.event_id).order_by(inbox.c.id)).scalars())

    def refusals(self) -> list[dict]:
        """The audit log's refusal entries, decrypted: actor, channel and detail."""
        keyring = ensure_keyring(self.runtime.settings.keys.path, io.StringIO())
        with self.runtime.engine.connect() as conn:
            return [{"actor": e.actor, "channel": e.channel, **(e.detail or {})}
                    for e in read_entries(conn, keyring) if e.action == "refusal"]

    def outbox_states(self) -> dict[str, int]:
        with self.runtime.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state)).all()
        return {state: n for state, n in rows}


@asynccontextmanager
async def running_bot(tmp: Path, fake: FakeBotApi, monkeypatch, *, limiter: RateLimiter | None = None,
                      settings: Settings | None = None, clock: Clock | None = None,
                      **options) -> AsyncIterator[Bot]:  # noqa: ANN001
    monkeypatch.setenv(TOKEN_ENV, fake.token)
    settings = settings or settings_for(tmp, fake.base_url)
    # On the story's clock, not the system's: its references stay A-2026-… whatever the day the tests run.
    runtime = build_runtime(settings, out=io.StringIO(), notice=io.StringIO(), clock=clock or StoryClock())
    options.setdefault("poll_timeout", 1)
    options.setdefault("request_timeout", 2.0)
    connector = telegram_connector_for(runtime, vocabulary_for(settings), limiter=limiter, **options)
    add_receiver(runtime, connector)
    stop = asyncio.Event()

    class UntilStopped:  # serve() runs until its console session ends
        async def run(self) -> None:
            await stop.wait()

    task = asyncio.create_task(serve(runtime, UntilStopped()))
    try:
        await eventually(lambda: connector.connected or task.done(), "the connector to start")
        if task.done():
            task.result()
        yield Bot(runtime, connector)
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=30)


async def eventually(condition: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Wait for `condition` (a bounded wait on a shared machine: generous, never a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


__all__ = ["TOKEN", "Bot", "OFFICER", "TH_NPOC", "MY_NPOC", "STRANGER", "NETWORK_GROUP", "TH_GROUP",
           "running_bot", "eventually", "meet", "settings_for", "config_data", "relaxed", "generous_limiter"]
