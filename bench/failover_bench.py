"""Failover time: from the active instance's SIGKILL to the standby's first delivery.

    .venv/bin/python bench/failover_bench.py [--runs 5] [--events 120]
                                             [--postgres postgresql://postgres@127.0.0.1:5432/test | --no-postgres]

Each run starts two real instances (tests/ops/failover_driver.py: the production runtime, the
instance lock of bot.ops.leadership with its defaults, poll 1 s and keep-alive 1 s, and a sink platform
that de-duplicates by key) on a fresh database, lets the first one deliver part of the crash
test's script, SIGKILLs it mid-delivery, and times the first send the sink receives after that:
the standby's poll, its taking over of the dead one's leases (on PostgreSQL after a grace of two
keep-alive periods, in case the old holder were alive), and its first delivery round. The run then
finishes and the crash test's checks say whether anything was lost or duplicated.

Goal: median under 10 s. Prints; asserts nothing. SQLite (a flock, two processes on
one machine) and PostgreSQL (an advisory lock; skipped when no server answers).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import temporary_postgres_database  # noqa: E402
from tests.ops.failover_pair import Pair  # noqa: E402

KILL_AFTER_SENDS = 60


def one_run(base: Path, url: str | None, seed: int, events: int) -> tuple[float, str]:
    pair = Pair(base, url, seed=seed, events=events)
    try:
        active = pair.spawn("a")
        pair.wait_for(active, "ACTIVE")
        standby = pair.spawn("b")
        pair.wait_for(standby, "standing by")
        pair.wait_receipts(KILL_AFTER_SENDS)
        killed_at = time.monotonic()
        active.kill()
        seen = pair.receipt_lines()
        while pair.receipt_lines() <= seen:
            if standby.proc.poll() is not None:
                raise RuntimeError(f"the standby ended first:\n{standby.output()[-2000:]}")
            if time.monotonic() - killed_at > 120:
                raise RuntimeError("no delivery within 120 s of the kill")
            time.sleep(0.005)
        failover = time.monotonic() - killed_at
        standby.proc.wait(timeout=300)
    finally:
        pair.stop_all()
    findings = pair.findings()
    freed = next((line.split("(freed ", 1)[1].split(" ", 1)[0] for line in standby.output().splitlines()
                  if "(freed " in line), "0")
    verdict = "ok" if not findings.problems else f"{len(findings.problems)} PROBLEMS: {findings.problems[:3]}"
    return failover, (f"sends {findings.counts['sends']}, raw repeats {findings.counts['raw_repeats']}, "
                      f"leases freed {freed}, checks {verdict}")


def bench(label: str, admin_url: str | None, runs: int, events: int) -> None:
    times = []
    ok: list[bool] = []
    print(f"== {label}: {runs} runs, {events} alerts each, SIGKILL after {KILL_AFTER_SENDS} sends")
    for run in range(runs):
        database = temporary_postgres_database(admin_url, "liaison_failover") if admin_url else nullcontext(None)
        with tempfile.TemporaryDirectory(prefix="liaison-failover-") as workdir, database as url:
            seconds, detail = one_run(Path(workdir), url, seed=100 + run, events=events)
        times.append(seconds)
        ok.append("PROBLEMS" not in detail)
        print(f"  run {run + 1}: failover {seconds:.2f} s ({detail})", flush=True)
    median = statistics.median(times)
    print(f"  median {median:.2f} s, min {min(times):.2f} s, max {max(times):.2f} s")
    print(f"goal failover ({label}): median < 10 s, nothing lost or doubled: "
          f"{'met' if median < 10 and all(ok) else 'NOT met'}")


def postgres_answers(admin_url: str) -> bool:
    try:
        import psycopg

        psycopg.connect(admin_url, connect_timeout=2).close()
        return True
    except Exception:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--events", type=int, default=120)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="maintenance database URL; a temporary database is made per run")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    bench("SQLite (flock)", None, args.runs, args.events)
    if args.no_postgres:
        return
    if not postgres_answers(args.postgres):
        print(f"goal failover (PostgreSQL (advisory lock)): NOT met (not measured: no server answers at {args.postgres})")
        return
    bench("PostgreSQL (advisory lock)", args.postgres, args.runs, args.events)


if __name__ == "__main__":
    main()
