"""Throughput of the durable path of one alert, next to a raw commit baseline measured in the same run.

    .venv/bin/python bench/pipeline_bench.py [--alerts 300] [--rounds 5] [--dir DIR]
                                             [--postgres postgresql://postgres@127.0.0.1:5432/test]
                                             [--profile] [--record-batch 10]

What is measured, for alerts with 1, 10 and 50 recipients (`to:` lists; the sample network of
config.example.toml plus 40 partner organisations, each with a focal point, so that 50 exist):

  path    one transaction per alert, the durable accept path alone: Dispatcher.handle (parse, sender
          and role check, route under the caveats, number the item, write it and its deliveries,
          one sealed outbox row per delivery and the receipt, the command and item.created audit
          entries, per-case key) and one durable commit. Nothing is sent; no inbox.
  +inbox  one alert at a time through the inbox, as the console submits one: InboxProcessor.record
          (a commit), then process_pending (handle + mark done, a commit). Two commits per alert,
          so 0.5 is its ceiling against the baseline.
  group   the production inbox path under load, with group commit: a backlog recorded as a
          connector records a sync (Runtime.ingest: RECORD_BATCH events and the cursor per
          transaction), then InboxProcessor.process_pending, which handles up to bot.inbox.BATCH
          messages per transaction, each in a savepoint. The header line gives both sizes.
  raw     single-row inserts of 300 bytes, each its own committed transaction: sqlite3 with WAL and
          synchronous=FULL on the same disk, or psycopg on the same PostgreSQL server.

The objects are those bot.app.build_runtime wires (Dispatcher, SqlUnitOfWork, CaseKeySealer,
SqlAuditLog, the database-backed directory, InboxProcessor), built from a configuration file.
Rounds alternate between the variants and the baseline, so drift on a shared machine weighs on all
alike. Goal (issues 4 and 9): 0.5 or more of the raw commit rate for single-recipient alerts,
read on the group row: throughput is what the bot sustains under load, when alerts arrive faster
than one durable commit each and those pending share a commit; path pays one commit per alert by
construction, so its ceiling is the baseline itself less the CPU. Prints; asserts nothing.
--postgres ADMIN_URL makes a temporary database on that server, runs the same there, and drops it.
--profile adds a cProfile of the single-recipient path and group variants on each database.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import os
import pstats
import string
import sys
import tempfile
import tomllib
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from alerts.identity import ChatRef, Platform, UserRef  # noqa: E402
from alerts.messages import InboundMessage  # noqa: E402
from bench.common import RawPostgres, RawSqlite, alternate, libpq_url, temporary_postgres_database  # noqa: E402
from bot.app import Runtime, build_runtime  # noqa: E402
from bot.config import Settings, settings_from_data  # noqa: E402
from storage.tables import outbox  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SENDER = "my-officer"
# Members of the sample network other than the sender's own country, then the partners added here.
SAMPLE = ["TH", "ID", "AU", "PH", "VN", "KH", "LK", "BD", "PK", "IOM", "UNHCR", "UNODC", "NZ", "US", "MV", "MM"]
PARTNERS = ["PT" + a + b for a, b in itertools.islice(itertools.product(string.ascii_uppercase, repeat=2), 40)]
FANOUTS = (1, 10, 50)
RECORD_BATCH = 10  # events a connector records per transaction in the backlog variant (one sync's worth)
BODY = "Two travellers with altered passports, flight XX123 KUL-BKK 14:30 today; names withheld. "


def settings_in(workdir: Path, url: str) -> Settings:
    """config.example.toml with its storage at `url` and 40 partner organisations, each with a focal point."""
    data = tomllib.loads((ROOT / "config.example.toml").read_text())
    data["storage"]["url"] = url
    network = data["network"]
    for code in PARTNERS:
        network["organisations"].append({"code": code, "name": f"Partner {code}", "kind": "organisation"})
        network["contacts"].append({"id": f"{code.lower()}-npoc", "name": "Focal point", "organisation": code,
                                    "roles": ["contact"], "identities": [f"console:{code.lower()}-npoc"],
                                    "timezone": "UTC"})
    return settings_from_data(data, workdir / "config.toml")


class Pipeline:
    """Alerts to `fanout` recipients, through the runtime's own objects."""

    def __init__(self, runtime: Runtime, fanout: int) -> None:
        self.runtime = runtime
        self.fanout = fanout
        self._targets = ",".join((SAMPLE + PARTNERS)[:fanout])
        self._numbers = itertools.count()
        # The dispatcher build_runtime made: exactly the production wiring, private attribute or not.
        self._dispatcher = runtime.inbox._dispatcher  # noqa: SLF001

    def message(self) -> InboundMessage:
        n = next(self._numbers)
        return InboundMessage(
            event_id=f"bench-{uuid.uuid4().hex}",
            sender=UserRef(Platform.CONSOLE, SENDER),
            chat=ChatRef(Platform.CONSOLE, "@" + SENDER),
            text=f"/alert to:{self._targets} topic:document-fraud tlp:amber grade:B2\n{BODY}#{self.fanout}-{n}",
            received_at=datetime.now(timezone.utc),
        )

    def path(self, n: int) -> None:
        for _ in range(n):
            with self.runtime.uow_factory() as uow:
                self._dispatcher.handle(uow, self.message())
                uow.commit()

    def with_inbox(self, n: int) -> None:
        for _ in range(n):
            self.runtime.inbox.record(self.message())
            self.runtime.inbox.process_pending()

    def backlog(self, n: int) -> None:
        """`n` alerts recorded as a connector records a sync (Runtime.ingest: RECORD_BATCH messages and
        the cursor in one transaction), then handled by process_pending with group commit."""
        for start in range(0, n, RECORD_BATCH):
            batch = [self.message() for _ in range(min(RECORD_BATCH, n - start))]
            self.runtime._record_batch(batch, ("bench.cursor", str(start)))  # noqa: SLF001 - ingest's own step
        handled = self.runtime.inbox.process_pending(limit=n)
        if handled != n:
            raise SystemExit(f"process_pending handled {handled} of {n} alerts")

    def check_fanout(self) -> None:
        """One alert, then count its delivery rows: a bench of the wrong fan-out would mislead."""
        self.path(1)
        with self.runtime.uow_factory(read_only=True) as uow:
            last = uow.connection.execute(  # the receipt is the last row an accepted alert queues
                select(outbox.c.reference).where(outbox.c.kind == "receipt").order_by(outbox.c.id.desc()).limit(1)
            ).scalar_one()
            n = uow.connection.execute(select(func.count()).select_from(outbox).where(
                outbox.c.reference == last, outbox.c.kind == "delivery")).scalar_one()
        if n != self.fanout:
            raise SystemExit(f"an alert to {self.fanout} organisations made {n} deliveries: fix the bench's network")


def measure(label: str, runtime: Runtime, raw: RawSqlite | RawPostgres, alerts: int, rounds: int) -> None:
    per_round = max(1, alerts // rounds)
    batch = runtime.inbox._batch  # noqa: SLF001 - the production batch size, reported as measured
    print(f"{label}: {per_round * rounds} alerts per fan-out and per variant, {rounds} alternating rounds")
    print(f"  group = the inbox backlog with group commit: {RECORD_BATCH} recorded per transaction, then "
          f"process_pending, up to {min(batch, per_round)} alerts per transaction (batch {batch})")
    print("  the goal is read on group (the inbox under load); path commits each alert alone, so its "
          "ceiling is the baseline itself")
    print(f"  {'recipients':>10} {'variant':>7} {'alerts/s':>9} {'deliveries/s':>13} {'raw commits/s':>14} "
          f"{'ratio':>6}")
    for fanout in FANOUTS:
        pipeline = Pipeline(runtime, fanout)
        pipeline.check_fanout()
        pipeline.path(3)  # warm: statement caches, the directory snapshot
        raw.commits(20)
        ours, inboxed, grouped, baseline = alternate(rounds, pipeline.path, pipeline.with_inbox, pipeline.backlog,
                                                     raw.commits, per_round=per_round)
        done = per_round * rounds
        raw_rate = done / baseline
        for variant, seconds in (("path", ours), ("+inbox", inboxed), ("group", grouped)):
            rate = done / seconds
            goal = "  (goal >= 0.5)" if fanout == 1 and variant == "group" else ""
            print(f"  {fanout:>10} {variant:>7} {rate:>9.0f} {rate * fanout:>13.0f} {raw_rate:>14.0f} "
                  f"{rate / raw_rate:>6.3f}{goal}")


def run(label: str, workdir: Path, url: str, raw: RawSqlite | RawPostgres, alerts: int, rounds: int,
        profile: bool) -> None:
    runtime = build_runtime(settings_in(workdir, url), out=io.StringIO(), notice=io.StringIO())
    try:
        measure(label, runtime, raw, alerts, rounds)
        if profile:
            profile_variant(runtime, "path", max(100, alerts // 2))
            profile_variant(runtime, "group", max(100, alerts // 2))
    finally:
        raw.close()
        runtime.db.close()
        runtime.engine.dispose()


def run_sqlite(workdir: Path, alerts: int, rounds: int, profile: bool) -> None:
    run(f"SQLite (WAL, synchronous=FULL) in {workdir}", workdir, f"sqlite:///{workdir / 'bot.sqlite'}",
        RawSqlite(workdir / "raw.sqlite"), alerts, rounds, profile)


def run_postgres(workdir: Path, admin_url: str, alerts: int, rounds: int, profile: bool) -> None:
    with temporary_postgres_database(admin_url) as url:
        raw = RawPostgres(libpq_url(url))
        sync = raw.setting("synchronous_commit")
        run(f"PostgreSQL ({url.rsplit('@', 1)[-1]}, synchronous_commit={sync})", workdir, url, raw, alerts, rounds,
            profile)


def profile_variant(runtime: Runtime, variant: str, alerts: int) -> None:
    pipeline = Pipeline(runtime, 1)
    run_it = pipeline.path if variant == "path" else pipeline.backlog
    profiler = cProfile.Profile()
    profiler.enable()
    run_it(alerts)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(r"/work|liaison|handlers|storage|alerts|bot", 40)
    print(f"cProfile of {alerts} single-recipient alerts ({variant}); own time by area, per alert:")
    by_area: dict[str, float] = {}
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        by_area[area(filename, name)] = by_area.get(area(filename, name), 0.0) + tottime
    total = sum(by_area.values())
    for name, seconds in sorted(by_area.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<44} {seconds / alerts * 1e6:8.0f} us  {seconds / total:6.1%}")
    print(out.getvalue())


def area(filename: str, name: str) -> str:
    """Where a profiled function belongs, coarsely."""
    if name.startswith("<method 'commit'"):
        return "sqlite3/psycopg commit (the durable write)"
    if "execute" in name and filename == "~":
        return "driver execute (SQL run by SQLite/PostgreSQL)"
    for part, label in (("sqlalchemy/sql/", "SQLAlchemy: statement building, cache keys"),
                        ("sqlalchemy/engine/", "SQLAlchemy: execution, results"),
                        ("sqlalchemy/", "SQLAlchemy: other"), ("cryptography/", "cryptography (AES-GCM)"),
                        ("psycopg/", "psycopg: round trips to the server, waiting"),
                        ("/json/", "json"), ("/storage/", "storage/ (our code)"), ("/handlers/", "handlers/ (our code)"),
                        ("/alerts/", "alerts/ (our code)"), ("/bot/", "bot/ (our code)")):
        if part in filename:
            return label
    return "other (stdlib, builtins)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=300, help="alerts per fan-out and per variant")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite files go (default: a temp dir)")
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="also run on PostgreSQL, in a temporary database")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the single-recipient path and group variants")
    parser.add_argument("--record-batch", type=int, default=RECORD_BATCH,
                        help="events recorded per transaction in the group variant (a connector's sync)")
    parser.add_argument("--no-sqlite", action="store_true", help="only the PostgreSQL run (with --postgres)")
    args = parser.parse_args()
    globals()["RECORD_BATCH"] = max(1, args.record_batch)  # read by Pipeline.backlog and measure
    print(f"cpus: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="pipeline-bench-", dir=args.dir) as tmp:
        for name in ("sqlite", "postgres"):
            (Path(tmp) / name).mkdir()
        if not args.no_sqlite:
            run_sqlite(Path(tmp) / "sqlite", args.alerts, args.rounds, args.profile)
        if args.postgres:
            run_postgres(Path(tmp) / "postgres", args.postgres, args.alerts, args.rounds, args.profile)


if __name__ == "__main__":
    main()
