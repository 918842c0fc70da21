"""Fan-out of one alert to 50 recipients through a local Synapse, next to a raw nio send loop.

    python bench/matrix_bench.py [--recipients 50] [--rounds 3]

Starts Synapse on 127.0.0.1 (as the tests do), registers the bot (its rate limit lifted through the
admin API, as the README tells admins to do) and the recipients, and runs the real runtime with the
Matrix connector. `/alert to:all` posts to every member's point of contact in their direct chat
(encrypted, made on demand). A first alert warms up (the direct chats are created then); each
measured round is one more alert, from its arrival in the inbox until the homeserver has accepted
all its deliveries (and, separately, until all are recorded as sent). The baseline is a plain nio
client logged in as the bot on another device, sending the same notice to the same rooms with the
same concurrency as the delivery worker (its `concurrency` sends in flight at once; after its own
warm-up round). Prints both times, the ratio baseline / bot and `goal ...: met` or `NOT met`
(goal: 0.8 or more). Asserts nothing. Without Synapse (not installed, --no-synapse, or
LIAISON_BENCH_NO_SYNAPSE=1) it prints the goal line as not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import string
import sys
import tempfile
import time
from datetime import datetime, timezone
from itertools import product
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nio import AsyncClient, AsyncClientConfig, LoginResponse, RoomSendResponse  # noqa: E402
from nio.store import SqliteStore  # noqa: E402

from alerts.identity import ChatRef, Platform, UserRef  # noqa: E402
from alerts.messages import InboundMessage, MessageKind  # noqa: E402
from bot.connectors.matrix.sansio.outbound import message_content  # noqa: E402
from bench.matrix_world import synapse_unavailable  # noqa: E402
from tests.matrix.synapse import Synapse  # noqa: E402
from tests.matrix.world import start_bot, write_config  # noqa: E402


GOAL = "Matrix fan-out: raw nio with the same concurrency / bot >= 0.8"


def config_toml(homeserver: str, bot: str, officer: str, recipients: list[str]) -> str:
    codes = ["ORG" + a + b for a, b in product(string.ascii_uppercase, repeat=2)][: len(recipients)]
    orgs = ",\n".join(f'  {{ code = "{c}", name = "Organisation {c}", kind = "organisation" }}' for c in codes)
    contacts = "\n".join(
        f'[[network.contacts]]\nid = "poc-{c.lower()}"\nname = "Contact {c}"\norganisation = "{c}"\n'
        f'roles = ["contact"]\nidentities = ["matrix:{user}"]\n'
        for c, user in zip(codes, recipients))
    return f"""\
[storage]
url = "sqlite:///var/liaison.sqlite"
[keys]
path = "var/keys/liaison.keys"
[audit]
witness_path = "var/audit/witness.log"
[console]
enabled = false
[matrix]
enabled = false
homeserver = "{homeserver}"
user_id = "{bot}"
password = {{ env = "LIAISON_TEST_MATRIX_PASSWORD" }}
pickle_key = {{ env = "LIAISON_TEST_MATRIX_PICKLE_KEY" }}
store_path = "var/matrix"
[network]
name = "Bench network"
topics = ["document-fraud"]
organisations = [
  {{ code = "MY", name = "Malaysia", kind = "country" }},
{orgs},
]
[[network.contacts]]
id = "my-officer"
name = "Officer"
organisation = "MY"
roles = ["officer"]
identities = ["matrix:{officer}"]
{contacts}
[routing]
post = "direct"
"""


async def run(recipients: int, rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="matrix-bench-"))
    synapse = Synapse(root / "synapse")
    print(f"starting Synapse in {root} ...", flush=True)
    synapse.start()
    try:
        bot_account = synapse.register("bench-bot")
        synapse.override_ratelimit(bot_account.user_id, 0, 0)
        officer = synapse.register("bench-officer")
        people = [synapse.register(f"bench-poc-{i:03d}").user_id for i in range(recipients)]
        config = write_config(root / "bot", config_toml(synapse.url, bot_account.user_id, officer.user_id, people))
        bot = await start_bot(config, bot_account.password, "bench-pickle", sync_timeout_ms=5000)
        connector, runtime = bot.connector, bot.runtime
        accepted: list[float] = []
        original = connector.send

        async def counting_send(message):  # noqa: ANN001, ANN202
            event_id = await original(message)
            if message.kind is MessageKind.DELIVERY:
                accepted.append(time.perf_counter())
            return event_id

        connector.send = counting_send  # the worker looks the connector up in runtime.connectors
        officer_ref = UserRef(Platform.MATRIX, officer.user_id)
        chat = ChatRef(Platform.MATRIX, "!bench:localhost")

        async def fan_out(n: int) -> tuple[float, float]:
            accepted.clear()
            start = time.perf_counter()
            await runtime.ingest([InboundMessage(f"$bench-{n}-{time.time_ns()}", officer_ref, chat,
                                                 f"/alert to:all tlp:amber topic:document-fraud\nBench alert {n}",
                                                 datetime.now(timezone.utc))])
            while len(accepted) < recipients:
                await asyncio.sleep(0.005)
            sent = accepted[-1] - start
            await runtime.settle()
            return sent, time.perf_counter() - start

        print("warm-up alert (creates the direct chats) ...", flush=True)
        warm_sent, _ = await fan_out(0)
        print(f"  warm-up: {warm_sent:.2f}s", flush=True)
        bot_times, recorded = [], []
        for n in range(1, rounds + 1):
            sent, total = await fan_out(n)
            bot_times.append(sent)
            recorded.append(total)
        rooms = [room for user in people if (room := connector.direct.known(user)) is not None]
        assert len(rooms) == len(people), "every recipient has a direct chat after the warm-up"
        content_text = "[TLP:AMBER] A-2026-0001 · alert\n" + "Bench alert body line\n" * 8

        raw_store = root / "raw-store"
        raw_store.mkdir()
        raw = AsyncClient(synapse.url, bot_account.user_id, store_path=str(raw_store),
                          config=AsyncClientConfig(encryption_enabled=True, store=SqliteStore,
                                                   store_sync_tokens=False))
        login = await raw.login(bot_account.password, device_name="raw-baseline")
        assert isinstance(login, LoginResponse), login
        await raw.sync(timeout=0, full_state=True)
        if raw.should_upload_keys:
            await raw.keys_upload()
        from bot.connectors.base import Outgoing
        from alerts.routing import Destination

        def content(room: str) -> dict:
            return message_content(Outgoing("k", MessageKind.DELIVERY, Destination.chat(ChatRef(Platform.MATRIX, room)),
                                            content_text, None, None, False, None, 1), room)

        # Like for like: as many sends in flight at once as the worker allows (the old worker sent a
        # whole round at once, up to its batch of 50).
        concurrency = getattr(runtime.worker, "concurrency", 50)

        async def raw_loop(tag: str) -> float:
            limit = asyncio.Semaphore(concurrency)

            async def one(i: int, room: str) -> None:
                async with limit:
                    response = await raw.room_send(room, "m.room.message", content(room), tx_id=f"{tag}-{i}",
                                                   ignore_unverified_devices=True)
                    assert isinstance(response, RoomSendResponse), response

            start = time.perf_counter()
            await asyncio.gather(*(one(i, room) for i, room in enumerate(rooms)))
            return time.perf_counter() - start

        await raw_loop(f"warm-{time.time_ns()}")
        raw_times = [await raw_loop(f"raw-{n}-{time.time_ns()}") for n in range(rounds)]
        await raw.close()
        await bot.close()

        bot_median, raw_median = statistics.median(bot_times), statistics.median(raw_times)
        print(f"recipients: {recipients}, rounds: {rounds} (medians)")
        print(f"bot fan-out, inbox to last send accepted: {bot_median:.3f}s  (rounds: "
              + ", ".join(f"{t:.3f}" for t in bot_times) + ")")
        print(f"bot fan-out, inbox to all recorded sent:  {statistics.median(recorded):.3f}s")
        print(f"raw nio, same {recipients} rooms, {concurrency} at once: {raw_median:.3f}s  (rounds: "
              + ", ".join(f"{t:.3f}" for t in raw_times) + ")")
        ratio = raw_median / bot_median
        print(f"goal {GOAL}: {'met' if ratio >= 0.8 else 'NOT met'} (ratio raw / bot {ratio:.2f})")
    finally:
        synapse.stop()


def main() -> None:
    import logging

    logging.basicConfig(level=logging.ERROR)  # the baseline's device sees the bot's messages it cannot read
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-synapse", action="store_true", help="print the goal as not measured")
    args = parser.parse_args()
    reason = synapse_unavailable(args.no_synapse)
    if reason:
        print(f"goal {GOAL}: NOT met (not measured: {reason})")
        return
    asyncio.run(run(args.recipients, args.rounds))


if __name__ == "__main__":
    main()
