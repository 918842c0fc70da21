"""Active/standby: two real processes on one database; SIGKILL the active one mid-delivery.

The standby must take over (it holds the instance lock, frees the dead one's leases) and finish:
every scripted alert made once, every delivery on the platform, under one key per recipient and
item (raw repeats of a key after the kill are what the platform de-duplicates), the audit log
verifying. The checks are the crash test's (tests/crash/checks.py). On SQLite the lock is a flock
beside the database file; on PostgreSQL an advisory lock (skipped when no server answers).
Timing decides only where the kill lands, never whether the test passes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ops.failover_pair import Pair

EVENTS = 120
KILL_AFTER_SENDS = 60  # of roughly 350: well inside the delivery of the script


def _failover(pair: Pair) -> None:
    try:
        active = pair.spawn("a")
        pair.wait_for(active, "ACTIVE")
        standby = pair.spawn("b")
        pair.wait_for(standby, "standing by")
        assert "ACTIVE" not in standby.output()
        pair.wait_receipts(KILL_AFTER_SENDS)
        active.kill()
        sent_by_the_first = pair.receipt_lines()
        standby.proc.wait(timeout=240)
        output = standby.output()
        assert standby.proc.returncode == 0 and "DONE" in output, output[-4000:]
    finally:
        pair.stop_all()
    assert "ACTIVE" in output
    assert pair.receipt_lines() > sent_by_the_first, "the standby delivered nothing after the kill"
    findings = pair.findings()
    print(findings.counts, "| standby:", [line for line in output.splitlines() if "freed" in line])
    assert not findings.problems, "\n".join(findings.problems)
    assert findings.counts["items"] == EVENTS


@pytest.mark.slow
def test_standby_takes_over_on_sqlite(tmp_path: Path) -> None:
    _failover(Pair(tmp_path, None, seed=21, events=EVENTS))


@pytest.mark.slow
@pytest.mark.postgres
def test_standby_takes_over_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    _failover(Pair(tmp_path, postgres_url, seed=22, events=EVENTS))
