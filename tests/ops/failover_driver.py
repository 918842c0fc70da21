"""One bot instance of an active/standby pair, for the failover test and bench/failover_bench.py.

    python -m tests.ops.failover_driver --config DIR/config.toml --receipts FILE --seed S --events N
                                        [--send-delay 0.005]

It builds the real runtime (bot.runtime.app.build_runtime), swaps the console connector for the crash
test's SinkPlatform (de-duplicates by outbox key, writes every accepted send to the receipt file
and fsyncs it before answering), and waits for the instance lock as bot.ops.leadership has it: a
second instance started beside a first one stands by. Once active it does what `serve` and a
receiving connector do: the worker and the inbox loop run while the crash script's events are
handed to Runtime.ingest, every event from the first (the inbox drops those recorded before, as a
connector resuming from its cursor would). When inbox and outbox are empty it prints DONE.

Lines on stdout: READY (built), ACTIVE (holds the lock), DONE. The logs (bot.ops.logs, text)
go to stderr: "standing by", "active", "freed N delivery lease(s)".
"""

from __future__ import annotations

import argparse
import asyncio
import io
import sys
from pathlib import Path

from sqlalchemy import func, select

from alerts.identity import Platform
from bot.runtime.app import build_runtime
from bot.config.settings import load_settings
from bot.config.ops import LoggingSettings
from bot.connectors.base import Outgoing
from bot.ops.leadership import leadership_for
from bot.ops.logs import configure_logging
from storage.tables import inbox
from tests.crash.driver import BATCH, SinkPlatform, messages

LOST = 3  # exit status when the lock was lost


class SlowSink:
    """The crash test's sink, with a pause per send: a platform's round trip, so kills land mid-delivery."""

    platform = Platform.CONSOLE

    def __init__(self, inner: SinkPlatform, delay: float) -> None:
        self._inner = inner
        self._delay = delay

    async def send(self, message: Outgoing) -> str:
        await asyncio.sleep(self._delay)
        return await self._inner.send(message)


def drained(runtime) -> bool:  # noqa: ANN001 - bot.runtime.app.Runtime
    with runtime.uow_factory(read_only=True) as uow:
        waiting = uow.connection.execute(
            select(func.count()).select_from(inbox).where(inbox.c.state == "pending")).scalar_one()
        return waiting == 0 and uow.outbox.depth() == 0


async def run(args: argparse.Namespace) -> int:
    configure_logging(LoggingSettings(), stream=sys.stderr)
    settings = load_settings(Path(args.config))
    runtime = build_runtime(settings, out=io.StringIO(), notice=io.StringIO())
    runtime.connectors[Platform.CONSOLE] = SlowSink(SinkPlatform(Path(args.receipts)), args.send_delay)
    leader = leadership_for(settings, runtime.engine, runtime.clock)
    print("READY", flush=True)
    if not await leader.wait_until_active():
        return 1
    print("ACTIVE", flush=True)
    stop = asyncio.Event()
    tasks = []
    try:
        await runtime.settle()
        tasks = [asyncio.create_task(runtime.worker.run(stop, idle=0.05)),
                 asyncio.create_task(runtime.run_inbox(stop, idle=0.05))]
        pending = messages(args.seed, args.events, runtime.clock)
        for start in range(0, len(pending), BATCH):
            await runtime.ingest(pending[start:start + BATCH], ("failover.cursor", str(start + BATCH)))
            runtime.worker.wake()
            await asyncio.sleep(0)
        while not await runtime.db.run(drained, runtime):
            if leader.lost.is_set():
                return LOST
            runtime.worker.wake()
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        for task in tasks:
            if leader.lost.is_set():
                task.cancel()  # demoted: stop sending at once, do not finish the round
        await asyncio.gather(*tasks, return_exceptions=True)
        await leader.release()
    await runtime.close()
    print("DONE", flush=True)
    return 0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--receipts", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--send-delay", type=float, default=0.005)
    sys.exit(asyncio.run(run(parser.parse_args(argv))))


if __name__ == "__main__":
    main()
