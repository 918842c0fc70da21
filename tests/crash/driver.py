"""The process the crash test kills: the real runtime, a scripted stream of alerts, a durable sink.

    python -m tests.crash.driver run    --config DIR/config.toml --receipts FILE --seed S --events N
                                        [--restart K] [--crash-after-sends M] [--broken new-key|no-dedupe]
    python -m tests.crash.driver verify --config DIR/config.toml --seed S --events N   # JSON on stdout

`run` builds the runtime with bot.runtime.app.build_runtime from the given config, swaps the console
connector for SinkPlatform, and then does what a receiving connector and `serve` do: the delivery
worker and the inbox loop run in the background while the script's events are handed to
Runtime.ingest in small batches, every event of the script from the first, each time the process
starts (the inbox must drop those it recorded before). When all are in, it waits until the inbox
and the outbox are empty, prints DONE and exits 0. The test SIGKILLs it anywhere on the way.

SinkPlatform is a platform that de-duplicates by transaction id, as Matrix does with the outbox
key: every send attempt is appended to the receipt file and fsync'ed *before* the message id is
returned, so a crash after the platform accepted a message and before the worker marked its row
sent is possible, and its resend is visible in the file. Some first attempts are answered with a
rate limit (retry-after 0.1 s), so retries are crashed into too.

Restart K runs on a clock K x (lease + 5 s) ahead of the wall clock: as if each restart came after
the lease of the killed process ran out (a real restart within the lease waits for it, which is
correct but would make the test slow). Everything else is the production wiring.

--crash-after-sends M kills the process itself right after the M-th send the sink accepted: the
window between the platform's acceptance and the worker's mark, hit on purpose.
--broken selects a deliberately broken variant for the test that shows the checks can fail:
`new-key` makes a fresh key at send time (what the outbox must never do), `no-dedupe` gives every
event a new event id on each start (what a connector must never do).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import hashlib
import io
import json
import os
import random
import signal
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select

from alerts.identity import ChatRef, Platform, UserRef
from alerts.items import Reference
from alerts.messages import InboundMessage
from bot.runtime.app import build_runtime
from bot.config.settings import load_settings
from bot.connectors.base import Outgoing
from bot.runtime.delivery import RetryPolicy
from bot.connectors.errors import RateLimited
from storage import keyring as keyring_file
from storage.audit.tables import audit_entries
from storage.audit.verify import verify as audit_verify
from storage.tables import inbox, items, outbox

OFFICERS = ("my-officer", "au-officer", "th-officer")
# Member organisations of config.example.toml's network (Canada, an observer, would be refused).
TARGETS = ("TH", "MY", "ID", "AU", "PH", "VN", "KH", "LK", "BD", "PK", "IOM", "UNODC", "UNHCR",
           "TH/immigration", "MY/police", "ID/immigration", "AU/police")
TOPICS = ("document-fraud", "people-smuggling", "irregular-migration", "identity-check", "modus-operandi")
BATCH = 10  # events handed to ingest at a time, as a connector hands over one sync


@dataclasses.dataclass(frozen=True)
class ScriptEvent:
    index: int
    sender: str
    to: tuple[str, ...]
    urgent: bool
    text: str


def marker(index: int) -> str:
    """What each event's body carries, delimited so that #event-1 never matches #event-17."""
    return f"#event-{index};"


def script(seed: int, events: int) -> list[ScriptEvent]:
    """The same alerts, in the same order, on every start for a seed."""
    rng = random.Random(f"crash-script-{seed}")
    out = []
    for i in range(events):
        sender = rng.choice(OFFICERS)
        to = tuple(rng.sample(TARGETS, rng.choice((1, 1, 2, 3))))
        urgent = rng.random() < 0.2
        tlp = rng.choice(("green", "amber", "clear"))
        topic = rng.choice(TOPICS)
        head = f"/alert to:{','.join(to)} topic:{topic} tlp:{tlp}" + (" priority:urgent" if urgent else "")
        text = f"{head}\nTravellers with altered documents, flight XX{100 + i} {marker(i)}"
        out.append(ScriptEvent(i, sender, to, urgent, text))
    return out


class OffsetClock:
    def __init__(self, offset: timedelta) -> None:
        self._offset = offset

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self._offset


class SinkPlatform:
    """A platform that accepts everything, de-duplicates by key, and writes each attempt down durably."""

    platform = Platform.CONSOLE

    def __init__(self, receipts: Path, crash_after: int | None = None) -> None:
        self._fd = os.open(receipts, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._crash_after = crash_after
        self.accepted = 0

    async def send(self, message: Outgoing) -> str:
        if message.attempt == 1 and hashlib.sha256(message.key.encode()).digest()[0] < 8:  # about 3%
            raise RateLimited("sink.429", retry_after=0.1)
        line = json.dumps({
            "key": message.key,
            "destination": str(message.destination),
            "reference": message.reference,
            "contact": message.contact,
            "kind": message.kind.value,
        })
        os.write(self._fd, (line + "\n").encode())
        os.fsync(self._fd)
        self.accepted += 1
        if self._crash_after is not None and self.accepted >= self._crash_after:
            os.kill(os.getpid(), signal.SIGKILL)
        return f"sink-{message.key}"  # the same id for the same key: the platform's de-duplication


class FreshKeyAtSend:
    """BROKEN on purpose: a key made at send time, so a resend looks new to the platform."""

    def __init__(self, inner: SinkPlatform) -> None:
        self.platform = inner.platform
        self._inner = inner

    async def send(self, message: Outgoing) -> str:
        return await self._inner.send(dataclasses.replace(message, key=uuid.uuid4().hex))


def lease_gap() -> timedelta:
    return RetryPolicy().lease + timedelta(seconds=5)


def messages(seed: int, events: int, clock: OffsetClock, suffix: str = "") -> list[InboundMessage]:
    return [
        InboundMessage(
            event_id=f"crash-{seed}-{e.index}{suffix}",
            sender=UserRef(Platform.CONSOLE, e.sender),
            chat=ChatRef(Platform.CONSOLE, "@" + e.sender),
            text=e.text,
            received_at=clock.now(),
        )
        for e in script(seed, events)
    ]


async def run(args: argparse.Namespace) -> None:
    clock = OffsetClock(lease_gap() * args.restart)
    runtime = build_runtime(load_settings(Path(args.config)), out=io.StringIO(), clock=clock, notice=io.StringIO())
    sink = SinkPlatform(Path(args.receipts), args.crash_after_sends)
    # The worker holds the same dict, so this is the connector it sends through.
    runtime.connectors[Platform.CONSOLE] = FreshKeyAtSend(sink) if args.broken == "new-key" else sink
    suffix = f"-{uuid.uuid4().hex[:8]}" if args.broken == "no-dedupe" else ""
    print("READY", flush=True)
    await runtime.settle()  # as bot.runtime.app.serve starts: what the last process left goes first
    stop = asyncio.Event()
    tasks = [asyncio.create_task(runtime.worker.run(stop, idle=0.05)),
             asyncio.create_task(runtime.run_inbox(stop, idle=0.05))]
    try:
        pending = messages(args.seed, args.events, clock, suffix)
        for start in range(0, len(pending), BATCH):
            await runtime.ingest(pending[start:start + BATCH], ("crash.cursor", str(start + BATCH)))
            runtime.worker.wake()
            await asyncio.sleep(0)
        while not await runtime.db.run(_drained, runtime):
            runtime.worker.wake()
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    await runtime.close()
    print("DONE", flush=True)


def _drained(runtime) -> bool:  # noqa: ANN001 - bot.runtime.app.Runtime
    with runtime.uow_factory(read_only=True) as uow:
        waiting = uow.connection.execute(
            select(func.count()).select_from(inbox).where(inbox.c.state == "pending")).scalar_one()
        return waiting == 0 and uow.outbox.depth() == 0


def verify(args: argparse.Namespace) -> None:
    """What the database holds, as JSON: items with bodies and deliveries, outbox and inbox by state,
    audit entries by reference and action, and what `audit verify` says of the chain and checkpoints."""
    settings = load_settings(Path(args.config))
    runtime = build_runtime(settings, out=io.StringIO(), notice=io.StringIO())
    with runtime.uow_factory(read_only=True) as uow:
        conn = uow.connection
        found = []
        for (reference,) in conn.execute(select(items.c.reference).order_by(items.c.reference)):
            record = uow.items.get(Reference.parse(reference))
            assert record is not None
            found.append({
                "reference": reference,
                "body": record.item.draft.body,
                "originator": record.item.originator,
                "deliveries": [{"contact": d.contact, "destination": d.destination, "key": d.outbox_key,
                                "state": d.state, "platform_message_id": d.platform_message_id}
                               for d in record.deliveries],
            })
        outbox_rows = [dict(row._mapping) for row in conn.execute(
            select(outbox.c.key, outbox.c.kind, outbox.c.state, outbox.c.reference, outbox.c.contact,
                   outbox.c.destination, outbox.c.platform_message_id))]
        inbox_states = dict(conn.execute(select(inbox.c.state, func.count()).group_by(inbox.c.state)).all())
        audit: dict[str, dict[str, int]] = {}
        for reference, action, n in conn.execute(
                select(audit_entries.c.reference, audit_entries.c.action, func.count())
                .where(audit_entries.c.reference.is_not(None))
                .group_by(audit_entries.c.reference, audit_entries.c.action)):
            audit.setdefault(reference, {})[action] = n
    report = audit_verify(runtime.engine, keyring_file.load(settings.keys.path), settings.audit.witness_path,
                          workers=1)
    runtime.db.close()
    runtime.engine.dispose()
    json.dump({"items": found, "outbox": outbox_rows, "inbox": inbox_states, "audit": audit,
               "audit_verify": {"ok": report.ok, "summary": report.summary()}}, sys.stdout)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=("run", "verify"))
    parser.add_argument("--config", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--receipts")
    parser.add_argument("--restart", type=int, default=0)
    parser.add_argument("--crash-after-sends", type=int)
    parser.add_argument("--broken", choices=("new-key", "no-dedupe"))
    args = parser.parse_args(argv)
    if args.mode == "run":
        asyncio.run(run(args))
    else:
        verify(args)


if __name__ == "__main__":
    main()
