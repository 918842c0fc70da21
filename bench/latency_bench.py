"""What users feel on Matrix: from an officer's send until the recipient's client has decrypted it,
through the bot, beside the floor measured in the same run: the officer's client messaging the
recipient's client directly.

    .venv/bin/python bench/latency_bench.py [--alerts 20] [--rounds 2] [--officers 20] [--recipients 5]
                                            [--only one|busy] [--no-synapse]

A local Synapse (tests/matrix/synapse.py), the bot as its own process (tests/matrix/run_bot.py: the
production runtime with the Matrix connector), and real matrix-nio clients with end-to-end
encryption for officers and recipients (bench/matrix_world.py). Every room is encrypted and warmed
(one message each first, so group sessions exist), as they are on a working day.

  one at a time  one officer, one alert after another, each to one recipient (in turn), the next
                 sent when the last was read. Bot path: the officer's direct chat with the bot ->
                 the bot -> the recipient's country room. Floor: the officer's own room with that
                 recipient. Goal: bot p50 <= 2 x floor p50 + 30 ms and p95 <= 2 x floor p95 + 60 ms.
  busy morning   `--officers` officers post at once, each one alert to the same `--recipients`
                 recipients; latency per (alert, recipient). Floor: each officer's own room with all
                 the recipients, all sending at once. Goal: bot p95 <= floor p95 + 1 s, nothing lost,
                 nothing doubled. Also shown, beside the goal: one officer sending as many messages
                 one after another into each recipient's room with them, the rooms in parallel (one
                 send in flight per room, as the bot keeps each recipient's order), without the bot.

Prints each figure beside its floor and a `goal ...: met` or `goal ...: NOT met` line for each;
asserts nothing. Without Synapse (not installed, --no-synapse, or LIAISON_BENCH_NO_SYNAPSE=1) it
prints the goal lines as not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import percentile  # noqa: E402
from bench.matrix_world import ROOT, World, send, synapse_unavailable  # noqa: E402

GOAL_ONE = "one alert at a time: bot p50 <= 2 x floor p50 + 30 ms, p95 <= 2 x floor p95 + 60 ms"
GOAL_BUSY = "busy morning: bot p95 <= floor p95 + 1 s, nothing lost or doubled"


def row(label: str, values: list[float]) -> str:
    return (f"  {label:<34} p50 {percentile(values, 50) * 1000:7.0f} ms   p95 {percentile(values, 95) * 1000:7.0f} ms"
            f"   max {max(values) * 1000:7.0f} ms   (n={len(values)})")


async def one_at_a_time(world: World, alerts: int, pair_rooms: list[str]) -> tuple[list[float], list[float]]:
    officer, dm = world.officers[0], world.bot_dm[0]
    floor, bot = [], []
    for n in range(alerts):
        i = n % len(world.recipients)
        listener = world.recipients[i]
        token = f"bench-floor-{n}"
        started = await send(officer, pair_rooms[i], f"Direct note {token}")
        await listener.until_seen([token])
        floor.append(listener.seen[token] - started)
        token = f"bench-one-{n}"
        started = await send(officer, dm, world.alert(token, [i]))
        await listener.until_seen([token])
        bot.append(listener.seen[token] - started)
    return floor, bot


async def all_at_once(world: World, rooms: list[str], text: str, tag: str) -> tuple[list[float], int, int]:
    """Every officer sends at once into its room; latency per (message, recipient), lost, doubled."""
    tokens = [f"bench-{tag}-{k}" for k in range(len(world.officers))]
    starts = await asyncio.gather(*(send(officer, room, text.format(token=token, k=k))
                                    for k, (officer, room, token) in enumerate(zip(world.officers, rooms, tokens))))
    lost = 0
    try:
        await asyncio.gather(*(listener.until_seen(tokens, timeout=240) for listener in world.recipients))
    except TimeoutError as error:
        print(f"  {error}")
    latencies, doubled = [], 0
    for listener in world.recipients:
        for token, started in zip(tokens, starts):
            if token not in listener.seen:
                lost += 1
                continue
            latencies.append(listener.seen[token] - started)
            doubled += listener.counts[token] > 1
    return latencies, lost, doubled


async def in_a_row(world: World, pair_rooms: list[str], count: int, tag: str) -> list[float]:
    """The first officer sends `count` messages one after another into each recipient's room with
    them, the rooms in parallel: one send in flight per room, as the bot posts to keep each
    recipient's order. Latency per message from the moment all are due (the burst's start)."""
    officer = world.officers[0]
    tokens = [[f"bench-{tag}r{i}-{k}" for k in range(count)] for i in range(len(pair_rooms))]
    start = time.perf_counter()

    async def one_room(room: str, room_tokens: list[str]) -> None:
        for token in room_tokens:
            await send(officer, room, f"Morning note {token}")

    await asyncio.gather(*(one_room(room, room_tokens) for room, room_tokens in zip(pair_rooms, tokens)))
    try:
        await asyncio.gather(*(listener.until_seen(room_tokens, timeout=240)
                               for listener, room_tokens in zip(world.recipients, tokens)))
    except TimeoutError as error:
        print(f"  {error}")
    return [listener.seen[token] - start for listener, room_tokens in zip(world.recipients, tokens)
            for token in room_tokens if token in listener.seen]


async def one_alert_at_a_time(world: World, alerts: int, pair_rooms: list[str]) -> None:
    floor, bot = await one_at_a_time(world, alerts, pair_rooms)
    print(f"one alert at a time: {alerts} alerts, send until decrypted by the recipient")
    print(row("floor: officer -> recipient", floor))
    print(row("bot: officer -> bot -> recipient", bot))
    f50, f95, b50, b95 = (percentile(floor, 50), percentile(floor, 95), percentile(bot, 50),
                          percentile(bot, 95))
    met = b50 <= 2 * f50 + 0.030 and b95 <= 2 * f95 + 0.060
    print(f"goal {GOAL_ONE}: {'met' if met else 'NOT met'} (p50 {b50 * 1000:.0f} <= "
          f"{(2 * f50 + 0.030) * 1000:.0f} ms, p95 {b95 * 1000:.0f} <= {(2 * f95 + 0.060) * 1000:.0f} ms)")


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="latency-bench-", dir=args.dir) as tmp:
        world = World(Path(tmp), args.officers, args.recipients, code_root=args.code_root,
                      postgres=args.homeserver_db == "postgres")
        print(f"starting Synapse, the bot and {args.officers + args.recipients} matrix-nio clients ...", flush=True)
        started = time.monotonic()
        try:
            await world.start()
            pair_rooms = [await world.group_room(world.officers[0], [listener]) for listener in world.recipients]
            busy_rooms = list(await asyncio.gather(*(world.group_room(officer, world.recipients)
                                                     for officer in world.officers)))
            print(f"  ready in {time.monotonic() - started:.0f} s; warming every room", flush=True)
            everyone = list(range(args.recipients))
            await all_at_once(world, world.bot_dm, world.alert("{token}", everyone), "warmbot")
            await all_at_once(world, busy_rooms, "Warm-up {token}", "warmfloor")
            for i, room in enumerate(pair_rooms):
                await send(world.officers[0], room, f"Warm-up bench-warmpair-{i}")
                await world.recipients[i].until_seen([f"bench-warmpair-{i}"])

            if args.only != "busy":
                await one_alert_at_a_time(world, args.alerts, pair_rooms)
            if args.only == "one":
                return

            busy_floor: list[float] = []
            busy_bot: list[float] = []
            busy_row: list[float] = []
            lost = doubled = 0
            for r in range(args.rounds):
                values, lost_f, _ = await all_at_once(world, busy_rooms, "Morning note {token}", f"busyfloor{r}")
                busy_floor += values
                values, lost_b, doubled_b = await all_at_once(world, world.bot_dm, world.alert("{token}", everyone),
                                                              f"busybot{r}")
                busy_bot += values
                lost += lost_b
                doubled += doubled_b
                busy_row += await in_a_row(world, pair_rooms, args.officers, f"busyrow{r}")
            print(f"busy morning: {args.officers} officers at once, each to the same {args.recipients} recipients, "
                  f"{args.rounds} rounds")
            print(row("floor: officers -> recipients", busy_floor))
            print(row("bot: officers -> bot -> recipients", busy_bot))
            # Not the goal's floor: what keeping each recipient's order costs on this homeserver.
            print(row("one officer, in a row per room", busy_row)
                  + f"   ({args.officers} to each recipient, one in flight per room, no bot)")
            print(f"  bot deliveries lost: {lost}, doubled: {doubled}")
            fp95, bp95 = percentile(busy_floor, 95), percentile(busy_bot, 95)
            met = bp95 <= fp95 + 1.0 and lost == 0 and doubled == 0
            print(f"goal {GOAL_BUSY}: {'met' if met else 'NOT met'} (p95 {bp95:.2f} s <= {fp95 + 1.0:.2f} s)")
        finally:
            await world.close()


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--officers", type=int, default=20)
    parser.add_argument("--recipients", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="where the homeserver, the bot and the clients keep files")
    parser.add_argument("--only", choices=("one", "busy"), default=None,
                        help="run only one part: one alert at a time, or the busy morning")
    parser.add_argument("--homeserver-db", choices=("postgres", "sqlite"), default="sqlite",
                        help="Synapse's database: SQLite (default, as the tests) or PostgreSQL on 127.0.0.1:5432 as production runs")
    parser.add_argument("--no-synapse", action="store_true", help="print the goals as not measured")
    parser.add_argument("--code-root", type=Path, default=ROOT, help="the bot's code (another checkout to compare)")
    args = parser.parse_args()
    reason = synapse_unavailable(args.no_synapse)
    if reason:
        print(f"goal {GOAL_ONE}: NOT met (not measured: {reason})")
        print(f"goal {GOAL_BUSY}: NOT met (not measured: {reason})")
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
