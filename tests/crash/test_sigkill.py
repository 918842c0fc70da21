"""Crash safety: SIGKILL at random points while alerts are routed and delivered.

For each seed, tests/crash/driver.py runs the real runtime on a fresh copy of config.example.toml
and is killed several times: once a random time after it starts (start-up, migrations, the first
batches), three times a random number of sends into its run plus a random few milliseconds (so
wherever it is then: handling the inbox, committing, leasing, sending, marking), and once exactly
between the platform's acceptance of a message and the worker's record of it. All the random
numbers come from the seed. Every restart hands over the whole script again. A last run without a kill drains
the inbox and outbox, and the database and the platform's receipt file must then show 0 lost,
0 duplicate deliveries as the platform sees them, and one item per event. The checks are in
tests/crash/checks.py; the last two tests show that they fail on deliberately broken variants.

Timing only decides where the kills land, never whether the test passes.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.config.settings import load_settings
from tests.crash.checks import Findings, check, read_receipts
from tests.crash.driver import script

ROOT = Path(__file__).resolve().parents[2]
EVENTS = 1000  # alerts per seed
SEEDS = (1, 2, 3)
RUN_TIMEOUT = 240  # seconds for one uninterrupted run: only a hang gets near it


@dataclass
class Crashes:
    """One seed's world: a config folder (database, keys, witness) and the sink's receipt file."""

    workdir: Path
    seed: int
    events: int
    restarts: int = 0
    kills: int = 0
    log: list[str] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.workdir / "config.toml"

    @property
    def receipts(self) -> Path:
        return self.workdir / "receipts.jsonl"

    def _spawn(self, *extra: str) -> subprocess.Popen[bytes]:
        out = open(self.workdir / f"run-{self.restarts}.log", "wb")  # noqa: SIM115 - closed with the process
        cmd = [sys.executable, "-m", "tests.crash.driver", "run", "--config", str(self.config),
               "--receipts", str(self.receipts), "--seed", str(self.seed), "--events", str(self.events),
               "--restart", str(self.restarts), *extra]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        return proc

    def _wait(self, proc: subprocess.Popen[bytes]) -> None:
        """Wait for a run to end by itself; one that hangs is killed and fails the test."""
        try:
            proc.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError(f"run {self.restarts} hung for {RUN_TIMEOUT} s:\n{self._output()[-4000:]}") from None

    def _output(self) -> str:
        return (self.workdir / f"run-{self.restarts}.log").read_text(errors="replace")

    def kill_after(self, seconds: float, *extra: str) -> None:
        """Run, and SIGKILL it after `seconds` unless it finished or died first."""
        proc = self._spawn(*extra)
        try:
            proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        self._after(proc, f"kill after {seconds:.2f}s")

    def kill_after_sends(self, sends: int, jitter: float) -> None:
        """Run until the sink accepted `sends` more messages, wait `jitter` seconds, then SIGKILL it:
        where it is killed depends on progress, not on how fast this machine is today."""
        with open(self.receipts, "ab"):
            pass
        with open(self.receipts, "rb") as receipts:
            receipts.seek(0, os.SEEK_END)
            proc = self._spawn()
            seen, deadline = 0, time.monotonic() + RUN_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline:
                seen += receipts.read().count(b"\n")
                if seen >= sends:
                    time.sleep(jitter)
                    proc.send_signal(signal.SIGKILL)
                    break
                time.sleep(0.005)
            self._wait(proc)
        self._after(proc, f"kill {jitter * 1000:.0f} ms after send {sends}")

    def crash_in_window(self, sends: int, *extra: str) -> None:
        """Run until the sink accepted `sends` messages; the driver then kills itself before the mark."""
        proc = self._spawn("--crash-after-sends", str(sends), *extra)
        self._wait(proc)
        self._after(proc, f"crash after send {sends}")

    def finish(self, *extra: str) -> None:
        proc = self._spawn(*extra)
        self._wait(proc)
        output = self._output()
        assert proc.returncode == 0 and "DONE" in output, f"the last run failed ({proc.returncode}):\n{output[-4000:]}"
        self.log.append("finished")
        self.restarts += 1

    def _after(self, proc: subprocess.Popen[bytes], what: str) -> None:
        output = self._output()
        if proc.returncode == -signal.SIGKILL:
            self.kills += 1
            self.log.append(what)
        else:  # it got to the end before the kill: fine, as long as it did not fail on its own
            assert proc.returncode == 0 and "DONE" in output, f"run {self.restarts} failed:\n{output[-4000:]}"
            self.log.append(f"{what}: finished first")
        self.restarts += 1

    def findings(self) -> Findings:
        verify = subprocess.run(
            [sys.executable, "-m", "tests.crash.driver", "verify", "--config", str(self.config),
             "--seed", str(self.seed), "--events", str(self.events)],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120,
        )
        assert verify.returncode == 0, verify.stderr[-4000:]
        receipts, torn = read_receipts(self.receipts)
        findings = check(script(self.seed, self.events), json.loads(verify.stdout), receipts,
                         load_settings(self.config).directory())
        findings.counts.update(kills=self.kills, restarts=self.restarts, torn_lines=torn)
        return findings


def crashes(tmp_path: Path, seed: int, events: int) -> Crashes:
    shutil.copy(ROOT / "config.example.toml", tmp_path / "config.toml")
    return Crashes(tmp_path, seed, events)


def report(world: Crashes, findings: Findings) -> str:
    counts = " ".join(f"{k}={v}" for k, v in findings.counts.items())
    return f"seed {world.seed}: {counts}\n  runs: {'; '.join(world.log)}"


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_sigkill_loses_and_duplicates_nothing(tmp_path: Path, seed: int) -> None:
    world = crashes(tmp_path, seed, EVENTS)
    rng = random.Random(f"crash-kills-{seed}")
    # About 3,000 sends make a seed's whole run; the kills below take at most about 1,900 of them.
    world.kill_after(rng.uniform(0.6, 2.0))  # start-up, migrations, the first batches
    world.kill_after_sends(rng.randint(100, 500), rng.uniform(0, 0.03))
    world.crash_in_window(rng.randint(50, 400))
    world.kill_after_sends(rng.randint(100, 500), rng.uniform(0, 0.03))
    world.kill_after_sends(rng.randint(100, 500), rng.uniform(0, 0.03))
    world.finish()
    findings = world.findings()
    print(report(world, findings))
    assert world.kills >= 4, world.log  # the kills must land, or the test proves little
    assert not findings.problems, "\n".join(findings.problems)
    assert findings.counts["items"] == EVENTS


def test_the_checks_catch_a_key_made_at_send_time(tmp_path: Path) -> None:
    world = crashes(tmp_path, seed=7, events=60)
    world.crash_in_window(25, "--broken", "new-key")
    world.finish("--broken", "new-key")
    findings = world.findings()
    assert world.kills == 1
    assert findings.counts["duplicate_pairs"] >= 1, findings.problems
    assert any(p.startswith("duplicate ") for p in findings.problems)


def test_the_checks_catch_an_event_recorded_twice(tmp_path: Path) -> None:
    world = crashes(tmp_path, seed=8, events=60)
    world.crash_in_window(25, "--broken", "no-dedupe")
    world.finish("--broken", "no-dedupe")
    findings = world.findings()
    assert world.kills == 1
    assert any(" produced 2 items" in p for p in findings.problems), findings.problems
