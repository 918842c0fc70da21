"""No update lost or run twice when the bot process is killed (SIGKILL) in the middle of its work.

The bot runs as its own process against the fake server in this one. Alerts are queued as
Telegram updates; the process is killed as a batch of them goes out to it, at several delays (before
it could record them, while recording, while handling and sending), then started again from what it
stored. In the end every alert is an item exactly once and every update is in the inbox exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from storage.tables import inbox, items
from tests.telegram.support import OFFICER, ROOT, TOKEN_ENV, config_data, eventually

pytestmark = pytest.mark.slow


def start_bot(settings_path: Path, token: str) -> subprocess.Popen:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": str(ROOT), TOKEN_ENV: token}
    return subprocess.Popen([sys.executable, "-m", "tests.telegram.bot_process", str(settings_path)], cwd=ROOT,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def counts(url: str) -> tuple[int, list[str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return (conn.execute(select(func.count()).select_from(items)).scalar_one(),
                    list(conn.execute(select(inbox.c.event_id)).scalars()))
    finally:
        engine.dispose()


async def run_until_killed(process: subprocess.Popen, fake, delay: float) -> None:  # noqa: ANN001
    """Kill the process `delay` seconds after the next batch of updates leaves the server."""
    loop = asyncio.get_running_loop()
    fake.after_batch = lambda batch: loop.call_later(delay, process.kill)
    try:
        await eventually(lambda: process.poll() is not None, "the kill", timeout=60)
    finally:
        fake.after_batch = None
    assert process.returncode == -signal.SIGKILL, process.stderr.read().decode()[-2000:]


async def test_no_update_lost_or_run_twice_across_kills(tmp_path, fake) -> None:
    fake.flood.limits = None
    fake.max_batch = 3
    data = config_data(tmp_path, fake.base_url)
    settings_path = tmp_path / "settings.json"
    settings_path.write_text(json.dumps(data), encoding="utf-8")
    url = data["storage"]["url"]
    pushed: list[int] = []
    for round_number, delay in enumerate((0.0, 0.05, 0.3, 0.6)):
        pushed += [fake.says(OFFICER, f"/alert to:TH tlp:green\nCrash round {round_number}, alert {n}")
                   for n in range(4)]
        await run_until_killed(start_bot(settings_path, fake.token), fake, delay)
    polled_before = len([r for r in fake.requests if r.method == "getUpdates"])
    survivor = start_bot(settings_path, fake.token)
    try:
        # The last killed process may have handled every alert already; the survivor still has to be
        # serving (polling, its signal handlers in place) before it is judged on how it stops.
        await eventually(lambda: len([r for r in fake.requests if r.method == "getUpdates"]) > polled_before,
                         "the survivor polling", timeout=120)
        await eventually(lambda: counts(url)[0] >= len(pushed) and not fake.updates, "every alert handled",
                         timeout=120)
        await asyncio.sleep(1.5)  # a little longer: a duplicate, were there one, would show now
        handled, events = counts(url)
    finally:
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(timeout=60)
    assert handled == len(pushed)
    assert sorted(events) == sorted(f"telegram:{update_id}" for update_id in pushed)
    assert survivor.returncode == 0, survivor.stderr.read().decode()[-2000:]
