"""Audit log benchmarks, each next to a raw baseline measured in the same run. Prints; asserts nothing.

    python bench/audit_bench.py [--entries 200000] [--appends 1000] [--dir DIR] [--workers N]

(a) Appends with durable commits: each SqlAuditLog append in its own transaction on SQLite with
    WAL and synchronous=FULL, against single-row inserts of the same size each committed in a
    plain sqlite3 loop with the same PRAGMAs. Goal: ratio >= 0.5.
(b) verify() over --entries entries, in one process and with its default worker processes
    (one per CPU for large logs), against a raw loop over the same rows (plain sqlite3 cursor,
    AES-GCM decrypt of every sealed part, one SHA-256 per entry). Goal: ratio >= 0.5, and a
    million entries in under 10 s (measured with --entries 1000000, else extrapolated).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
from datetime import timedelta
from hashlib import sha256
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alerts.audit import AuditAction, AuditEvent  # noqa: E402
from alerts.clock import ManualClock  # noqa: E402
from storage import keyring as keyfile  # noqa: E402
from storage.audit import SqlAuditLog, verify  # noqa: E402
from storage.audit.tables import audit_checkpoints, audit_entries, audit_head  # noqa: E402
from storage.db import create_engine_for, sqlite_url  # noqa: E402
from storage.case_keys import case_keys, unwrap  # noqa: E402
from storage.schema import metadata  # noqa: E402
from sqlalchemy import event as sqlalchemy_event  # noqa: E402

event_listen = sqlalchemy_event.listen

BODY = "Two travellers with altered passports, flight XX123 KUL-BKK 14:30 today; names withheld. " * 2


def event(clock: ManualClock, i: int) -> AuditEvent:
    clock.advance(timedelta(milliseconds=10))
    return AuditEvent(
        action=AuditAction.DELIVERY, at=clock.now(), actor="matrix:@officer:example.org",
        recipients=("th-npoc",), channel="direct:matrix:@th-npoc:example.org",
        reference=f"A-2026-{i // 5:06d}", caveat="TLP:AMBER", purpose="identity check for prosecution",
        detail={"body": BODY, "platform_message_id": f"$event{i}"},
    )


def new_database(directory: Path, name: str):  # noqa: ANN201 - an Engine
    engine = create_engine_for(sqlite_url(directory / f"{name}.sqlite"))
    metadata.create_all(engine, tables=[audit_entries, audit_head, audit_checkpoints, case_keys])
    return engine


def bench_appends(directory: Path, keyring: keyfile.Keyring, appends: int, rounds: int = 10) -> float:
    """Rounds alternate between ours and the baseline, so that a disk whose fsync latency drifts
    (shared machines) weighs on both alike."""
    engine = new_database(directory, "appends")
    clock = ManualClock()
    raw = sqlite3.connect(directory / "raw_appends.sqlite", isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.execute("PRAGMA synchronous=FULL")
    raw.execute("CREATE TABLE entries (seq INTEGER PRIMARY KEY, recorded_at_us INTEGER, action TEXT, "
                "reference TEXT, payload BLOB, entry_hash BLOB)")
    payload = os.urandom(420)  # about the size of our two sealed parts
    ours = baseline = 0.0
    per_round = max(1, appends // rounds)
    done = 0
    with engine.connect() as connection:  # like the baseline, one connection; a transaction per append
        for _ in range(rounds):
            started = time.perf_counter()
            for i in range(done, done + per_round):
                with connection.begin():  # BEGIN IMMEDIATE ... COMMIT: one durable commit per append
                    SqlAuditLog(connection, keyring, clock).record(event(clock, i))
            ours += time.perf_counter() - started
            started = time.perf_counter()
            for i in range(done, done + per_round):
                raw.execute("BEGIN")
                raw.execute("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)",
                            (i + 1, i, "delivery", f"A-2026-{i // 5:06d}", payload, os.urandom(32)))
                raw.execute("COMMIT")
            baseline += time.perf_counter() - started
            done += per_round
    raw.close()
    engine.dispose()
    print(f"(a) appends, durable commits (WAL, synchronous=FULL), {done} each, {rounds} alternating rounds:")
    print(f"    SqlAuditLog      {done / ours:9.0f} appends/s")
    print(f"    raw sqlite3      {done / baseline:9.0f} inserts/s")
    print(f"    ratio            {baseline / ours:9.2f}   (goal >= 0.5)")
    return baseline / ours


def fill(path: Path, keyring: keyfile.Keyring, entries: int) -> None:
    engine = create_engine_for(sqlite_url(path))
    # Only to build the data set quickly; runs after storage.db's own PRAGMAs, so it wins.
    event_listen(engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA synchronous=OFF"))
    clock = ManualClock()
    with engine.begin() as connection:
        log = SqlAuditLog(connection, keyring, clock)
        for i in range(entries):
            log.record(event(clock, i))
    engine.dispose()


def raw_verify_loop(path: Path, keyring: keyfile.Keyring) -> int:
    """The floor: fetch every row, AES-GCM-decrypt every sealed part, one SHA-256 per entry."""
    db = sqlite3.connect(path)
    masters = keyring.aeads()
    cases = {ref: (kid.encode(), unwrap(keyring, ref, kid, mk, wrapped))
             for ref, kid, mk, wrapped in db.execute("SELECT reference, key_id, master_key_id, wrapped_key "
                                                     "FROM case_keys")}
    n = 0
    cursor = db.execute("SELECT seq, recorded_at_us, action, reference, key_id, schema_version, case_ref, "
                        "sealed_meta, sealed_detail, prev_hash, entry_hash FROM audit_entries ORDER BY seq")
    while rows := cursor.fetchmany(4096):
        for seq, rec, action, ref, kid, sv, case, meta, detail, prev, ehash in rows:
            k = kid.encode()
            aad = b"audit_entries|%d|%s|%d|" % (seq, k, sv)
            masters[k].decrypt(meta[2 + len(k):14 + len(k)], meta[14 + len(k):], k + b"|" + aad + b"meta")
            ckid, aead = cases[case]
            m = 2 + len(ckid)
            aead.decrypt(detail[m:m + 12], detail[m + 12:], ckid + b"|" + case.encode() + b"|" + aad + b"detail")
            sha256(meta + detail + prev).digest()
            n += 1
    db.close()
    return n


def bench_verify(directory: Path, keyring: keyfile.Keyring, entries: int, requested_workers: int | None) -> bool:
    engine = new_database(directory, "verify")
    started = time.perf_counter()
    fill(directory / "verify.sqlite", keyring, entries)
    print(f"(b) verify over {entries} entries (built in {time.perf_counter() - started:.1f} s):")
    timings = {}
    for workers in dict.fromkeys([1, requested_workers]):  # one process, then the default (or asked) count
        started = time.perf_counter()
        report = verify(engine, keyring, None, workers=workers)
        timings[workers] = time.perf_counter() - started
        if not report.ok:
            print(f"    verify FAILED: {report.summary()}")
    started = time.perf_counter()
    n = raw_verify_loop(directory / "verify.sqlite", keyring)
    baseline = time.perf_counter() - started
    print(f"    raw loop         {baseline:7.2f} s  {n / baseline:9.0f} entries/s  (one process)")
    for workers, seconds in timings.items():
        label = "auto" if workers is None else workers
        print(f"    verify(workers={label}) {seconds:7.2f} s  {entries / seconds:9.0f} entries/s  "
              f"ratio {baseline / seconds:5.2f} (goal >= 0.5)  1M: {seconds * 1_000_000 / entries:6.2f} s "
              f"({'measured' if entries == 1_000_000 else 'extrapolated'}; goal < 10 s)")
    engine.dispose()
    best = min(timings.values())
    return baseline / best >= 0.5 and best * 1_000_000 / entries < 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=200_000)
    parser.add_argument("--appends", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=None, help="verify processes (default: auto)")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        directory = Path(tmp)
        keyring = keyfile.generate(directory / "keys.json")
        print(f"cpus: {os.cpu_count()}, databases in {directory}")
        ratio = bench_appends(directory, keyring, args.appends)
        verified = bench_verify(directory, keyring, args.entries, args.workers)
    print(f"goal audit appends >= 0.5 of raw inserts: {'met' if ratio >= 0.5 else 'NOT met'}")
    print(f"goal audit verify >= 0.5 of the raw loop and 1M entries < 10 s: {'met' if verified else 'NOT met'}")


if __name__ == "__main__":
    main()
