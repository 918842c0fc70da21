"""Helpers shared by the benchmarks: raw commit baselines, a throwaway PostgreSQL database, timing.

A raw baseline is the floor a durable path is compared with: single-row inserts, each in its own
committed transaction, through the plain driver (sqlite3 with WAL and synchronous=FULL; psycopg on
PostgreSQL), on the same disk or server and in the same run as what it is compared with.
"""

from __future__ import annotations

import os
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PAYLOAD = 300  # bytes per raw row: about one sealed item body


class RawSqlite:
    """sqlite3, WAL, synchronous=FULL, autocommit off by hand: BEGIN; INSERT one row; COMMIT."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("CREATE TABLE IF NOT EXISTS raw (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)")
        self._payload = os.urandom(PAYLOAD)

    def commits(self, n: int) -> None:
        for _ in range(n):
            self._db.execute("BEGIN")
            self._db.execute("INSERT INTO raw (payload) VALUES (?)", (self._payload,))
            self._db.execute("COMMIT")

    def close(self) -> None:
        self._db.close()


class RawPostgres:
    """psycopg 3 (the driver the bot uses): INSERT one row; COMMIT, each in its own transaction."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._db = psycopg.connect(url)
        self._db.execute("CREATE TABLE IF NOT EXISTS raw (id BIGSERIAL PRIMARY KEY, payload BYTEA NOT NULL)")
        self._db.commit()
        self._payload = os.urandom(PAYLOAD)

    def commits(self, n: int) -> None:
        for _ in range(n):
            self._db.execute("INSERT INTO raw (payload) VALUES (%s)", (self._payload,))
            self._db.commit()

    def setting(self, name: str) -> str:
        value = self._db.execute("SELECT current_setting(%s)", (name,)).fetchone()[0]
        self._db.commit()
        return value

    def close(self) -> None:
        self._db.close()


def libpq_url(url: str) -> str:
    """A SQLAlchemy-style URL (postgresql+psycopg://...) as libpq takes it."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@contextmanager
def temporary_postgres_database(admin_url: str, prefix: str = "liaison_bench") -> Iterator[str]:
    """A new, empty database on the server of `admin_url` (its URL), dropped on exit."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(libpq_url(admin_url), autocommit=True, connect_timeout=5)
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()


def alternate(rounds: int, *runs: Callable[[int], None], per_round: int) -> list[float]:
    """Seconds spent in each of `runs`, called in turn for `rounds` rounds of `per_round` operations,
    so that a disk or a neighbour whose speed drifts (shared machines) weighs on all of them alike."""
    spent = [0.0] * len(runs)
    for _ in range(rounds):
        for i, run in enumerate(runs):
            started = time.perf_counter()
            run(per_round)
            spent[i] += time.perf_counter() - started
    return spent


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile, nearest rank (p95 of 20 values is the 19th smallest)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def postgres_answers(admin_url: str) -> bool:
    try:
        import psycopg

        psycopg.connect(libpq_url(admin_url), connect_timeout=2).close()
        return True
    except Exception:
        return False
