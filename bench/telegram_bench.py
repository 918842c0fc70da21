"""Fan-out of one alert to 100 Telegram chats, against the local Bot API server enforcing Telegram's limits.

    python bench/telegram_bench.py [--chats 100]

The sample network gets --chats more member organisations, each with a point of contact on
Telegram only; an officer posts one `/alert to:all`, and the whole bot (inbox, dispatcher, router,
outbox, delivery worker, connector, rate limiter) delivers it. The fake server (tests/telegram)
enforces about 1 message a second per chat, 20 a minute per group and 30 a second overall,
answering 429 beyond them. Printed: the achieved rate of the deliveries to those chats as the
server saw them arrive, as a fraction of the allowed 30 a second (goal: at least 95%), the number
of 429 answers (goal: 0), and the same for a raw baseline measured in the same run: the
connector's sender alone, 100 messages straight from memory, no database or worker.
Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.identity import ChatRef, Platform, UserRef  # noqa: E402
from alerts.messages import InboundMessage, MessageKind  # noqa: E402
from alerts.routing import Destination  # noqa: E402
from bot.runtime.app import add_receiver, build_runtime, vocabulary_for  # noqa: E402
from bot.config.settings import settings_from_data  # noqa: E402
from bot.connectors.base import Outgoing  # noqa: E402
from bot.connectors.telegram import telegram_connector_for  # noqa: E402
from bot.connectors.telegram.api import TelegramApi, build_application  # noqa: E402
from bot.connectors.telegram.chats import ChatMigrations  # noqa: E402
from bot.connectors.telegram.sender import TelegramSender, telegram_limiter  # noqa: E402
from tests.telegram.fake_bot_api import FakeBotApi  # noqa: E402
from tests.telegram.fake_bot_limits import FloodControl, Limits  # noqa: E402
from tests.telegram.fake_bot_state import Chat  # noqa: E402
from tests.telegram.support import MY_NPOC, OFFICER, TH_NPOC, TOKEN_ENV, config_data, meet  # noqa: E402

ALLOWED = 30.0
FIRST_USER = 500000


def network_with(chats: int, tmp: Path, api_url: str) -> dict:
    data = config_data(tmp, api_url)
    network = data["network"]
    for n in range(chats):
        code = f"T{n:03d}"
        network["organisations"].append({"code": code, "name": f"Telegram member {n}", "kind": "organisation"})
        network["contacts"].append({"id": f"t{n:03d}-npoc", "name": "Point of contact", "organisation": code,
                                    "roles": ["contact"], "identities": [f"telegram:user:{FIRST_USER + n}"]})
    return data


def pace(fake: FakeBotApi, chat_ids: set[int], since: float) -> tuple[int, float]:
    """(messages, rate per second) of the accepted sendMessage requests to `chat_ids` after `since`."""
    times = sorted(r.at for r in fake.requests if r.method == "sendMessage" and r.status == 200
                   and r.params.get("chat_id") in chat_ids and r.at >= since)
    if len(times) < 2:
        return len(times), 0.0
    return len(times), (len(times) - 1) / (times[-1] - times[0])


async def raw_baseline(fake: FakeBotApi, chat_ids: list[int]) -> tuple[int, float]:
    api = TelegramApi(build_application(fake.token, fake.base_url))
    await api.initialize()
    sender = TelegramSender(api, telegram_limiter(), ChatMigrations())
    since = time.monotonic()
    try:
        await asyncio.gather(*(sender.send(Outgoing(
            key=f"raw-{chat_id}", kind=MessageKind.DELIVERY, destination=Destination.direct(
                UserRef(Platform.TELEGRAM, f"user:{chat_id}")), text="[TLP:GREEN] A-2026-9999 · alert\nraw",
            reference="A-2026-9999", contact=None, protect_content=False, reply_to=None, attempt=1))
            for chat_id in chat_ids))
    finally:
        await api.shutdown()
    return pace(fake, set(chat_ids), since)


async def fan_out(fake: FakeBotApi, chats: int, tmp: Path) -> tuple[int, float, float]:
    settings = settings_from_data(network_with(chats, tmp, fake.base_url), tmp / "config.toml")
    runtime = build_runtime(settings, out=io.StringIO(), notice=io.StringIO())
    add_receiver(runtime, telegram_connector_for(runtime, vocabulary_for(settings)))
    chat_ids = {FIRST_USER + n for n in range(chats)}
    stop = asyncio.Event()
    worker = asyncio.create_task(runtime.worker.run(stop, idle=0.2))
    inbox = asyncio.create_task(runtime.run_inbox(stop, idle=0.2))
    since = time.monotonic()
    await runtime.ingest([InboundMessage("bench-1", UserRef(Platform.CONSOLE, "my-officer"),
                                         ChatRef(Platform.CONSOLE, "@my-officer"),
                                         "/alert to:all tlp:green topic:document-fraud\nOne alert, many chats",
                                         runtime.clock.now())])
    while pace(fake, chat_ids, since)[0] < chats and time.monotonic() - since < 120:
        await asyncio.sleep(0.1)
    elapsed = time.monotonic() - since
    stop.set()
    await asyncio.gather(worker, inbox)
    await runtime.connectors[Platform.TELEGRAM].stop()
    await runtime.close()
    sent, rate = pace(fake, chat_ids, since)
    return sent, rate, elapsed


async def main(chats: int) -> None:
    fake = FakeBotApi(limits=Limits())
    await fake.start()
    os.environ[TOKEN_ENV] = fake.token
    meet(fake, OFFICER, TH_NPOC, MY_NPOC)  # the sample's own Telegram members get the alert too
    for n in range(chats):
        fake.world.chat(Chat(FIRST_USER + n, "private", f"Contact {n}"))
    try:
        raw_sent, raw_rate = await raw_baseline(fake, [FIRST_USER + n for n in range(chats)])
        raw_429 = fake.flood.too_many
        fake.flood = FloodControl(Limits())  # a fresh minute for the real run
        with tempfile.TemporaryDirectory() as tmp:
            sent, rate, elapsed = await fan_out(fake, chats, Path(tmp))
    finally:
        await fake.close()
    print(f"allowed rate            {ALLOWED:.0f} messages/s overall (1/s per chat, 20/min per group)")
    print(f"raw sender baseline     {raw_sent} messages at {raw_rate:5.1f}/s = {raw_rate / ALLOWED:6.1%} "
          f"of allowed, 429 answers: {raw_429}")
    print(f"whole bot, one alert    {sent} deliveries at {rate:5.1f}/s = {rate / ALLOWED:6.1%} of allowed, "
          f"{rate / raw_rate if raw_rate else 0:6.1%} of the raw baseline, 429 answers: {fake.flood.too_many}, "
          f"{elapsed:.1f} s from the command to the last delivery")
    goal = "met" if rate / ALLOWED >= 0.95 and fake.flood.too_many == 0 else "NOT met"
    print(f"goal Telegram pacing: >= 95% of allowed, 0 answers 429: {goal}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=100)
    asyncio.run(main(parser.parse_args().chats))
