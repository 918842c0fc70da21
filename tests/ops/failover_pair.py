"""Two real bot processes on one database (tests/ops/failover_driver.py), driven from outside.

Used by tests/ops/test_failover.py and bench/failover_bench.py: start an instance, wait for a line
in its output, count what the sink received, SIGKILL one, and read the crash test's findings.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.config.settings import load_settings
from tests.crash.checks import Findings, check, read_receipts
from tests.crash.driver import script

ROOT = Path(__file__).resolve().parents[2]


def write_config(workdir: Path, database_url: str | None) -> Path:
    """config.example.toml in `workdir`, on `database_url` (PostgreSQL) or its own SQLite file."""
    text = (ROOT / "config.example.toml").read_text()
    if database_url is not None:
        old = 'url = "sqlite:///var/liaison.sqlite"'
        assert old in text, "config.example.toml's storage URL moved"
        text = text.replace(old, f'url = "{database_url}"')
    config = workdir / "config.toml"
    config.write_text(text)
    return config


@dataclass
class Instance:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


@dataclass
class Pair:
    workdir: Path
    database_url: str | None
    seed: int
    events: int
    send_delay: float = 0.005
    instances: list[Instance] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config = write_config(self.workdir, self.database_url)
        self.receipts = self.workdir / "receipts.jsonl"

    def spawn(self, name: str) -> Instance:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "tests.ops.failover_driver", "--config", str(self.config),
                 "--receipts", str(self.receipts), "--seed", str(self.seed), "--events", str(self.events),
                 "--send-delay", str(self.send_delay)],
                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out, stderr=subprocess.STDOUT)
        instance = Instance(name, proc, log)
        self.instances.append(instance)
        return instance

    def wait_for(self, instance: Instance, text: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while text not in instance.output():
            if instance.proc.poll() is not None:
                raise AssertionError(f"{instance.name} ended ({instance.proc.returncode}) before "
                                     f"{text!r}:\n{instance.output()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{instance.name}: no {text!r} in {timeout} s:\n{instance.output()[-3000:]}")
            time.sleep(0.02)

    def receipt_lines(self) -> int:
        if not self.receipts.exists():
            return 0
        with self.receipts.open("rb") as handle:
            return sum(1 for _ in handle)

    def wait_receipts(self, at_least: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.receipt_lines() < at_least:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {at_least} sends in {timeout} s")
            time.sleep(0.01)

    def stop_all(self) -> None:
        for instance in self.instances:
            if instance.proc.poll() is None:
                instance.kill()

    def findings(self) -> Findings:
        verify = subprocess.run(
            [sys.executable, "-m", "tests.crash.driver", "verify", "--config", str(self.config),
             "--seed", str(self.seed), "--events", str(self.events)],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
        assert verify.returncode == 0, verify.stderr[-4000:]
        receipts, torn = read_receipts(self.receipts)
        findings = check(script(self.seed, self.events), json.loads(verify.stdout), receipts,
                         load_settings(self.config).directory())
        findings.counts["torn_lines"] = torn
        return findings


def fresh_workdir(base: Path, name: str) -> Path:
    path = base / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path
