"""The bot is killed (SIGKILL) mid-stream and started again: no event is lost or handled twice, no
message is delivered twice, and what was said before its very first start is not replayed.

The bot runs as a process (tests/matrix/run_bot.py) with a sync timeline limit of 3, so the messages
posted while it is dead (more than 3) can only be read by filling the gap with /messages.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import pytest_asyncio

from tests.matrix.people import Person
from tests.matrix.synapse import Synapse
from tests.matrix.world import network_toml, write_config

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
REF = re.compile(r"\b(A-\d{4}-\d{4})\b")
PROBES = 10


class BotProcess:
    def __init__(self, config: Path, password: str, log: Path) -> None:
        self.config, self.password, self.log = config, password, log
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "LIAISON_TEST_MATRIX_PASSWORD": self.password,
               "LIAISON_TEST_MATRIX_PICKLE_KEY": "restart-pickle-key", "LIAISON_TEST_TIMELINE_LIMIT": "3"}
        self.mark = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "tests.matrix.run_bot", str(self.config)],
                                            cwd=self.config.parent, env=env, stdout=out, stderr=subprocess.STDOUT)

    async def connected(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the bot exited with {self.process.returncode}:\n{self.tail()}")
            if b"Matrix: connected" in self.log.read_bytes()[self.mark:]:
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"the bot did not connect within {timeout:.0f}s:\n{self.tail()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def tail(self, lines: int = 60) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def people(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("matrix-restart")
    officer = Person(synapse.url, synapse.register("restart-officer"), root / "officer")
    th = Person(synapse.url, synapse.register("restart-th"), root / "th")
    await asyncio.gather(officer.login(), th.login())
    try:
        yield root, officer, th
    finally:
        await asyncio.gather(officer.close(), th.close())


async def test_killed_mid_stream_and_restarted_nothing_is_lost_or_doubled(synapse: Synapse, people) -> None:
    root, officer, th = people
    bot = synapse.register("restart-bot")
    synapse.override_ratelimit(bot.user_id, 0, 0)
    room = await officer.create_room([bot.user_id, th.user_id], name="Network")
    await th.wait_for(lambda: room in th.invites, what="invite")
    await th.join(room)
    # The bot's account is in the room before the bot ever runs; what is said now is history.
    status, body = synapse.request("POST", f"/_matrix/client/v3/rooms/{quote(room)}/join", {}, bot.access_token)
    assert status == 200, body
    await officer.say(room, "!whoami")

    config = write_config(root / "bot", network_toml(
        homeserver=synapse.url, bot=bot.user_id, officer=officer.user_id, th=th.user_id,
        admin="@restart-nobody:localhost", rooms=[(room, "Network", "network", '["all"]')], post="direct"))
    process = BotProcess(config, bot.password, root / "bot.log")

    def receipts() -> list:
        return [e for _, e in officer.messages(room, sender=bot.user_id) if " accepted (" in e.body]

    def deliveries() -> list:
        return [e for _, e in th.messages(sender=bot.user_id) if "Probe #" in e.body]

    try:
        process.start()
        await process.connected()
        for i in range(PROBES // 2):
            await officer.say(room, f"!alert to:TH tlp:amber topic:document-fraud\nProbe #{i} travellers")
        await officer.wait_for(lambda: receipts(), what="a first receipt")
        process.kill()  # mid-stream: commands still pending, deliveries in flight
        for i in range(PROBES // 2, PROBES):  # more than the timeline limit, while the bot is dead
            await officer.say(room, f"!alert to:TH tlp:amber topic:document-fraud\nProbe #{i} travellers")
        process.start()
        await process.connected()
        dm = await th.wait_for(lambda: [r for r, inv in th.invites.items() if inv["sender"] == bot.user_id],
                               timeout=180, what="the bot's direct chat")
        for invited in dm:
            await th.join(invited)
        await officer.wait_for(lambda: len({REF.search(e.body).group(1) for e in receipts()}) >= PROBES,
                               timeout=240, what=f"{PROBES} receipts")
        try:
            await th.wait_for(lambda: len({e.body for e in deliveries()}) >= PROBES, timeout=240,
                              what=f"{PROBES} deliveries")
        except AssertionError as error:
            raise AssertionError(f"{error}; got {sorted(e.body[-30:] for e in deliveries())}, "
                                 f"{len(th.undecrypted())} undecrypted; invites {th.invites}; rooms "
                                 f"{[(r, len([1 for rr, _ in th.events if rr == r])) for r in th.client.rooms]}; "
                                 f"types {[(r[:6], type(e).__name__) for r, e in th.events][-30:]}\n{process.tail(200)}") from None
        # The restarted bot answers new commands, once (/whoami in a room: the line saying where it went).
        await officer.say(room, "!whoami")
        await officer.wait_for(lambda: [e for _, e in officer.messages(room, sender=bot.user_id)
                                        if "answered in your direct chat" in e.body], what="the answer to !whoami")
        for _ in range(3):  # give any duplicate a chance to show up
            await officer.sync(timeout_ms=1000)
            await th.sync(timeout_ms=1000)
    finally:
        process.terminate()

    refs = [REF.search(e.body).group(1) for e in receipts()]
    assert len(refs) == PROBES and len(set(refs)) == PROBES, f"receipts: {refs}\n{process.tail()}"
    for i in range(PROBES):
        copies = [e for e in deliveries() if f"Probe #{i} travellers" in e.body]
        assert len(copies) == 1, f"Probe #{i} delivered {len(copies)} times\n{process.tail()}"
    assert all(e.decrypted for e in deliveries()), "direct chats are encrypted"
    answers = [e for _, e in officer.messages(room, sender=bot.user_id) if "answered in your direct chat" in e.body]
    assert len(answers) == 1, "the !whoami from before the bot's first start was not replayed"
    assert len([r for r, inv in th.invites.items() if inv["sender"] == bot.user_id]) == 1, "one direct chat"
    with sqlite3.connect(config.parent / "var" / "liaison.sqlite") as db:
        (inbox,) = db.execute("SELECT count(*) FROM inbox WHERE platform = 'matrix'").fetchone()
        (items,) = db.execute("SELECT count(*) FROM items").fetchone()
    assert (inbox, items) == (PROBES + 1, PROBES)
    assert "Matrix: filled a gap of" in process.log.read_text(), "the restart read the gap with /messages"

