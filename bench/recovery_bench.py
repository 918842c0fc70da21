"""Recovery on Matrix: after SIGKILL and a restart, from "connected" to the first pending delivery.

    .venv/bin/python bench/recovery_bench.py [--runs 3] [--alerts 8] [--recipients 5] [--no-synapse]

A local Synapse, the bot as its own process (tests/matrix/run_bot.py: the production runtime with
the Matrix connector, its instance lock and start-up as `liaison-bot run` does them) and real
matrix-nio clients (bench/matrix_world.py). Each run: the officer posts `--alerts` alerts at once,
each to every recipient; the bot is killed with SIGKILL as soon as the first of their deliveries
reaches a recipient, so deliveries are pending and in flight; it is started again. Measured: from
the moment the restarted bot logs "Matrix: connected" to the homeserver's timestamp of its first
delivery after the restart (the same machine's clock). Then every recipient must read every alert
exactly once. The baseline is the same bot's first start in the same run: from "connected" to its
first delivery of an alert that was posted before it started.

Goal: connected -> first pending delivery < 1 s in every run, nothing lost, nothing doubled.
Prints; asserts nothing. Without Synapse (not installed, --no-synapse, or
LIAISON_BENCH_NO_SYNAPSE=1) it prints the goal line as not measured.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.matrix_world import ROOT, World, send, synapse_unavailable, until  # noqa: E402

GOAL = "recovery: connected -> first pending delivery < 1 s, nothing lost or doubled"


def first_delivery_after(world: World, tokens: list[str], after_wall: float) -> float | None:
    """Wall-clock seconds of the earliest of `tokens` the homeserver took in after `after_wall`."""
    stamps = [listener.server_ts[t] / 1000 for listener in world.recipients for t in tokens
              if t in listener.server_ts and listener.server_ts[t] / 1000 > after_wall]
    return min(stamps) if stamps else None


async def one_run(world: World, run: int, alerts: int) -> tuple[float | None, int, int, int]:
    assert world.bot is not None
    everyone = list(range(len(world.recipients)))
    tokens = [f"bench-crash{run}-{n}" for n in range(alerts)]
    for token in tokens:
        await send(world.officers[0], world.bot_dm[0], world.alert(token, everyone))
    await until(lambda: any(t in lst.seen for lst in world.recipients for t in tokens), "a first delivery", 120)
    world.bot.kill()
    in_flight = alerts * len(world.recipients) - sum(t in lst.seen for lst in world.recipients for t in tokens)
    restarted = time.time()
    world.bot.start()
    connected = await world.bot.connected()
    lost = 0
    try:
        await asyncio.gather(*(listener.until_seen(tokens, timeout=180) for listener in world.recipients))
    except TimeoutError as error:
        print(f"  {error}")
    await asyncio.sleep(3)  # a double would come right behind
    lost = sum(t not in lst.seen for lst in world.recipients for t in tokens)
    doubled = sum(lst.counts.get(t, 0) > 1 for lst in world.recipients for t in tokens)
    # From "connected" on: a send the killed process had in flight can land after the restart (it
    # showed as a negative time), and the restarted bot sends nothing before it is connected.
    first = first_delivery_after(world, tokens, max(restarted, connected))
    return (first - connected if first is not None else None), in_flight, lost, doubled


async def first_start(world: World) -> float | None:
    """The baseline: the bot stopped cleanly, an alert posted while it is down, the bot started."""
    assert world.bot is not None
    world.bot.stop()
    token = "bench-cold-0"
    await send(world.officers[0], world.bot_dm[0], world.alert(token, [0]))
    restarted = time.time()
    world.bot.start()
    connected = await world.bot.connected()
    await world.recipients[0].until_seen([token])
    first = first_delivery_after(world, [token], restarted)
    return first - connected if first is not None else None


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(prefix="recovery-bench-", dir=args.dir) as tmp:
        world = World(Path(tmp), 1, args.recipients, code_root=args.code_root)
        print(f"starting Synapse, the bot and {1 + args.recipients} matrix-nio clients ...", flush=True)
        try:
            await world.start()
            await send(world.officers[0], world.bot_dm[0], world.alert("bench-warm-0", list(range(args.recipients))))
            await asyncio.gather(*(lst.until_seen(["bench-warm-0"]) for lst in world.recipients))
            baseline = await first_start(world)
            results = [await one_run(world, run, args.alerts) for run in range(args.runs)]
        finally:
            await world.close()
    print(f"recovery: {args.runs} runs, {args.alerts} alerts to {args.recipients} recipients each, SIGKILL after "
          "the first delivery")
    for n, (delay, in_flight, lost, doubled) in enumerate(results, 1):
        shown = f"{delay:.2f} s" if delay is not None else "none"
        print(f"  run {n}: connected -> first pending delivery {shown} ({in_flight} deliveries unread at the kill;"
              f" lost {lost}, doubled {doubled})")
    print(f"  baseline, a clean start with one alert waiting: connected -> first delivery "
          f"{baseline:.2f} s" if baseline is not None else "  baseline: not seen")
    delays = [d for d, *_ in results if d is not None]
    if delays:
        print(f"  median {statistics.median(delays):.2f} s, max {max(delays):.2f} s")
    met = (len(delays) == len(results) and max(delays) < 1.0
           and all(lost == 0 and doubled == 0 for _, _, lost, doubled in results))
    print(f"goal {GOAL}: {'met' if met else 'NOT met'}")


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--alerts", type=int, default=8)
    parser.add_argument("--recipients", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--no-synapse", action="store_true", help="print the goal as not measured")
    parser.add_argument("--code-root", type=Path, default=ROOT, help="the bot's code (another checkout to compare)")
    args = parser.parse_args()
    reason = synapse_unavailable(args.no_synapse)
    if reason:
        print(f"goal {GOAL}: NOT met (not measured: {reason})")
        return
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
