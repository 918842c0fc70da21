"""What one message costs in process: accepting an alert, one at a time, beside a raw commit.

    .venv/bin/python bench/accept_bench.py [--alerts 300] [--postgres ADMIN_URL | --no-postgres]

Accepting is everything between a connector handing over a message and its deliveries waiting in
the outbox: the inbox row and the cursor recorded in one transaction (Runtime.ingest's step), then
the inbox processor's round (parse, sender and role check, route under the caveats, number the
item, seal its outbox rows and audit entries, commit). Nothing is sent. One alert at a time, to
one recipient, each measured alone (latency, not throughput): p50, p95, p99.

The baseline, in the same run on the same database: one single-row insert of 300 bytes, each its
own committed transaction, timed alone (sqlite3 with WAL and synchronous=FULL on the same disk;
psycopg on the same PostgreSQL server). Accepting commits twice (record, then handle), so about
twice the baseline is its floor. The objects are those bot.runtime.app.build_runtime wires.
It also prints the statements one accept sends (each a round trip to PostgreSQL; COMMITs not
counted, nor the BEGIN psycopg sends before each transaction's first), which a neighbour's load does
not change: 15 on PostgreSQL, 17 on SQLite (its BEGINs).

Goal: accept p99 < 20 ms on SQLite and on PostgreSQL. Prints; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import tomllib
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.identity import ChatRef, Platform, UserRef  # noqa: E402
from alerts.messages import InboundMessage  # noqa: E402
from bench.common import RawPostgres, RawSqlite, libpq_url, percentile, postgres_answers, temporary_postgres_database  # noqa: E402
from bot.runtime.app import Runtime, build_runtime  # noqa: E402
from bot.config.settings import settings_from_data  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SENDER = "my-officer"
BODY = "Two travellers with altered passports, flight XX123 KUL-BKK 14:30 today; names withheld. "
GOAL_MS = 20.0


def runtime_for(workdir: Path, url: str) -> Runtime:
    data = tomllib.loads((ROOT / "config.example.toml").read_text())
    data["storage"]["url"] = url
    return build_runtime(settings_from_data(data, workdir / "config.toml"), out=io.StringIO(), notice=io.StringIO())


def accept_one(runtime: Runtime, n: int) -> None:
    message = InboundMessage(
        event_id=f"bench-{uuid.uuid4().hex}",
        sender=UserRef(Platform.CONSOLE, SENDER),
        chat=ChatRef(Platform.CONSOLE, "@" + SENDER),
        text=f"/alert to:TH topic:document-fraud tlp:amber grade:B2\n{BODY}#{n}",
        received_at=datetime.now(timezone.utc),
    )
    runtime._record_batch([message], ("bench.cursor", str(n)))  # noqa: SLF001 - Runtime.ingest's own step
    if runtime.inbox.process_pending() != 1:
        raise SystemExit("the inbox did not handle the alert: the bench's configuration is wrong")


def latencies(run, n: int) -> list[float]:  # noqa: ANN001
    spent = []
    for i in range(n):
        started = time.perf_counter()
        run(i)
        spent.append((time.perf_counter() - started) * 1000)
    return spent


def measure(label: str, runtime: Runtime, raw: RawSqlite | RawPostgres, alerts: int) -> bool:
    try:
        for i in range(10):  # warm: statement caches, the directory snapshot, the case keys
            accept_one(runtime, -1 - i)
        raw.commits(10)
        ours: list[float] = []
        floor: list[float] = []
        statements = [0]

        def count(*_: object) -> None:
            statements[0] += 1

        event.listen(runtime.engine, "before_cursor_execute", count)
        for start in range(0, alerts, 10):  # alternating, so a neighbour's load weighs on both alike
            ours += latencies(lambda i: accept_one(runtime, start + i), min(10, alerts - start))
            floor += latencies(lambda i: raw.commits(1), min(10, alerts - start))
        event.remove(runtime.engine, "before_cursor_execute", count)
    finally:
        raw.close()
        runtime.db.close()
        runtime.engine.dispose()
    p99 = percentile(ours, 99)
    print(f"{label}: {alerts} alerts, one at a time (ms)")
    print(f"  {'':<36} {'p50':>7} {'p95':>7} {'p99':>7}")
    print(f"  {'accept (record + handle, 2 commits)':<36} {percentile(ours, 50):>7.2f} {percentile(ours, 95):>7.2f} "
          f"{p99:>7.2f}")
    print(f"  {'baseline: raw single-row commit':<36} {percentile(floor, 50):>7.2f} {percentile(floor, 95):>7.2f} "
          f"{percentile(floor, 99):>7.2f}")
    # Round trips do not depend on a neighbour's load: the figure to compare between machines.
    print(f"  statements per accept: {statements[0] / alerts:.0f} (COMMITs not counted)")
    met = p99 < GOAL_MS
    print(f"goal accept p99 < {GOAL_MS:.0f} ms ({label.split(' ')[0]}): {'met' if met else 'NOT met'} "
          f"(p99 {p99:.2f} ms)")
    return met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=300)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="maintenance database URL; a temporary database is made on that server")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="accept-bench-") as tmp:
        work = Path(tmp)
        measure("SQLite (WAL, synchronous=FULL)", runtime_for(work, f"sqlite:///{work / 'bot.sqlite'}"),
                RawSqlite(work / "raw.sqlite"), args.alerts)
        if args.no_postgres:
            print("goal accept p99 < 20 ms (PostgreSQL): NOT met (not measured: --no-postgres)")
        elif not postgres_answers(args.postgres):
            print(f"goal accept p99 < 20 ms (PostgreSQL): NOT met (not measured: no server answers at {args.postgres})")
        else:
            with temporary_postgres_database(args.postgres) as url:
                raw = RawPostgres(libpq_url(url))
                sync = raw.setting("synchronous_commit")
                measure(f"PostgreSQL (synchronous_commit={sync})", runtime_for(work, url), raw, args.alerts)


if __name__ == "__main__":
    main()
