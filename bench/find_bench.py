"""What a search costs when content is sealed: /find over 1,000 items a person may see, on SQLite.

    .venv/bin/python bench/find_bench.py [--items 1000] [--runs 7]

Thailand's point of contact has received ITEMS alerts (posted through the inbox, as the console
posts them). /find looks for a word only the oldest one holds, so every candidate is opened: the
command's whole handling is timed (the inbox row recorded, then parse, the candidates chosen by
metadata, each candidate's sealed content opened and searched, the answer and the audit entry
queued, the commit), one search at a time.

The baseline, like for like in the same run: the same bodies kept in clear in a plain SQLite table
(WAL, synchronous=FULL, same disk), searched with one `SELECT … WHERE body LIKE '%word%'`, plus one
single-row commit (a search is recorded in the audit log, so it commits too). What the difference
costs is the per-item opening of sealed content (AES-256-GCM under the case key, the case key
unwrapped under the master key) and reading each item's deliveries.

Goal: /find over 1,000 visible items answers in < 1 s (median). Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import statistics
import sys
import tempfile
import time
import tomllib
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.identity import ChatRef, Platform, UserRef  # noqa: E402
from alerts.messages import InboundMessage  # noqa: E402
from bot.config.settings import settings_from_data  # noqa: E402
from bot.runtime.app import Runtime, build_runtime  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BODY = "Two travellers with altered passports, flight XX{n} KUL-BKK 14:30 today; names withheld."
NEEDLE = "zanzibar-needle"
GOAL_S = 1.0


def runtime_for(workdir: Path) -> Runtime:
    data = tomllib.loads((ROOT / "config.example.toml").read_text())
    data["storage"]["url"] = f"sqlite:///{workdir / 'bot.sqlite'}"
    data["keys"]["path"] = str(workdir / "keys" / "liaison.keys")
    data["audit"]["witness_path"] = str(workdir / "witness.log")
    return build_runtime(settings_from_data(data, workdir / "config.toml"), out=io.StringIO(), notice=io.StringIO())


def say(runtime: Runtime, who: str, text: str) -> None:
    message = InboundMessage(event_id=f"bench-{uuid.uuid4().hex}", sender=UserRef(Platform.CONSOLE, who),
                             chat=ChatRef(Platform.CONSOLE, "@" + who), text=text,
                             received_at=datetime.now(timezone.utc))
    runtime._record_batch([message], None)  # noqa: SLF001 - Runtime.ingest's own step
    if runtime.inbox.process_pending() != 1:
        raise SystemExit("the inbox did not handle the message: the bench's configuration is wrong")


def answer_to(runtime: Runtime, who: str) -> str:
    """The last answer queued for `who`'s direct chat, opened as the delivery worker would."""
    from sqlalchemy import select

    from storage.content import open_json, outbox_aad
    from storage.tables import outbox

    with runtime.uow_factory() as uow:
        row = uow.connection.execute(select(outbox).where(outbox.c.destination == f"chat:console:@{who}")
                                     .order_by(outbox.c.id.desc()).limit(1)).one()
        return open_json(uow._sealer, row.content, aad=outbox_aad(row.key), case=row.reference)["text"]  # noqa: SLF001


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="find-bench-") as tmp:
        work = Path(tmp)
        runtime = runtime_for(work)
        raw = sqlite3.connect(work / "raw.sqlite", isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=FULL")
        raw.execute("CREATE TABLE items (reference TEXT PRIMARY KEY, created_at TEXT, body TEXT)")
        raw.execute("CREATE TABLE log (id INTEGER PRIMARY KEY, at TEXT)")
        try:
            started = time.perf_counter()
            for n in range(args.items):
                body = BODY.format(n=n) + (f" {NEEDLE}" if n == 0 else "")
                say(runtime, "my-officer", f"/alert to:TH tlp:amber topic:document-fraud\n{body}")
                raw.execute("INSERT INTO items VALUES (?, ?, ?)", (f"A-2026-{n + 1:04d}", str(n), body))
            print(f"{args.items} items posted to Thailand in {time.perf_counter() - started:.1f} s")
            say(runtime, "th-npoc", f"/find {NEEDLE}")  # warm: the directory snapshot, the statement cache
            found = answer_to(runtime, "th-npoc")
            if "A-2026-0001" not in found:
                raise SystemExit(f"/find did not find the oldest item: {found!r}")
            ours, floor = [], []
            for _ in range(args.runs):  # alternating, so a neighbour's load weighs on both alike
                started = time.perf_counter()
                say(runtime, "th-npoc", f"/find {NEEDLE}")
                ours.append(time.perf_counter() - started)
                started = time.perf_counter()
                rows = raw.execute("SELECT reference FROM items WHERE body LIKE ? ORDER BY created_at DESC",
                                   (f"%{NEEDLE}%",)).fetchall()
                raw.execute("INSERT INTO log (at) VALUES (?)", (str(time.time()),))
                floor.append(time.perf_counter() - started)
                assert rows == [("A-2026-0001",)]
        finally:
            raw.close()
            runtime.db.close()
            runtime.engine.dispose()
    median, base = statistics.median(ours), statistics.median(floor)
    print(f"/find over {args.items} visible items, every one opened ({args.runs} runs, median, s)")
    print(f"  {'/find (record + handle, sealed content)':<44} {median:>8.3f}  (min {min(ours):.3f}, "
          f"max {max(ours):.3f}); {median / args.items * 1000:.2f} ms per item")
    print(f"  {'baseline: plain table, LIKE, one commit':<44} {base:>8.3f}")
    print(f"goal /find over {args.items} visible items < {GOAL_S:.0f} s: {'met' if median < GOAL_S else 'NOT met'} "
          f"(median {median:.3f} s)")


if __name__ == "__main__":
    main()
