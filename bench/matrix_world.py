"""A liaison network on a local Synapse for the Matrix benchmarks: officers and recipients are real
matrix-nio clients (end-to-end encrypted, each with its own store) in this process; the bot is a
process of its own (tests/matrix/run_bot.py: the production runtime with the Matrix connector), so
it can be killed with SIGKILL and started again.

Recipients sync all the time (long polls, as a phone does) and note when each benchmark token first
reaches them decrypted. Officers write to the bot in a direct chat (encrypted); the bot posts each
alert in the recipient's country room (encrypted), as `post = "rooms"` routes it.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from nio import MegolmEvent, RoomCreateResponse, RoomPreset

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.matrix.people import ENCRYPTION, Person  # noqa: E402
from tests.matrix.synapse import Synapse  # noqa: E402

TOKEN = re.compile(r"\b(bench-[0-9a-z]+-[0-9]+)\b")
PICKLE_KEY = "bench-pickle-key-0123456789"
SKIP_ENV = "LIAISON_BENCH_NO_SYNAPSE"


def synapse_unavailable(flag: bool) -> str | None:
    """Why the Synapse benchmarks cannot run here, or None when they can."""
    if flag or os.environ.get(SKIP_ENV):
        return f"Synapse skipped (--no-synapse or {SKIP_ENV})"
    if importlib.util.find_spec("synapse") is None:
        return "matrix-synapse is not installed (pip install -e '.[test]' installs it)"
    return None


class Listener:
    """A Person whose client syncs in the background and stamps each token when it is first readable."""

    def __init__(self, person: Person) -> None:
        self.person = person
        self.seen: dict[str, float] = {}  # token -> perf_counter() when it was first decrypted here
        self.server_ts: dict[str, int] = {}  # token -> origin_server_ts (ms) of that event
        self.counts: dict[str, int] = {}  # token -> decrypted events carrying it (doubles show as 2)
        self._done = 0
        self._undecrypted: list[tuple[str, MegolmEvent]] = []
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                await self.person.sync(timeout_ms=10000)
            except asyncio.CancelledError:
                raise
            except Exception:  # a passing fault of the homeserver: sync again
                await asyncio.sleep(0.2)
                continue
            self.take_new()

    def take_new(self) -> None:
        now = time.perf_counter()
        events = self.person.events
        fresh, self._done = events[self._done:], len(events)
        still = []
        for room_id, event in self._undecrypted:
            try:
                decrypted = self.person.client.decrypt_event(event)
            except Exception:
                still.append((room_id, event))
                continue
            fresh.append((room_id, decrypted))
        self._undecrypted = still
        for room_id, event in fresh:
            if isinstance(event, MegolmEvent):
                self._undecrypted.append((room_id, event))
                continue
            body = getattr(event, "body", None)
            if not isinstance(body, str):
                continue
            for token in TOKEN.findall(body):
                self.counts[token] = self.counts.get(token, 0) + 1
                self.seen.setdefault(token, now)
                self.server_ts.setdefault(token, getattr(event, "server_timestamp", 0))

    async def until_seen(self, tokens: list[str], timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        while any(t not in self.seen for t in tokens):
            if time.monotonic() > deadline:
                missing = [t for t in tokens if t not in self.seen]
                raise TimeoutError(f"{self.person.user_id} never read {len(missing)} of {len(tokens)} messages")
            await asyncio.sleep(0.002)


class BotProcess:
    """The bot as `liaison-bot run` runs it, with the Matrix connector; SIGKILL and start again."""

    def __init__(self, code_root: Path, config: Path, password: str) -> None:
        self.code_root, self.config, self.password = code_root, config, password
        self.log = config.parent / "bot.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.mark = 0

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(self.code_root), "LIAISON_TEST_MATRIX_PASSWORD": self.password,
               "LIAISON_TEST_MATRIX_PICKLE_KEY": PICKLE_KEY}
        self.mark = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen([sys.executable, "-m", "tests.matrix.run_bot", str(self.config)],
                                            cwd=self.config.parent, env=env, stdout=out, stderr=subprocess.STDOUT)

    async def connected(self, timeout: float = 300.0) -> float:
        """Wait for this start's "Matrix: connected" line; the wall-clock time it was logged at."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"the bot exited with {self.process.returncode}:\n{self.tail()}")
            for line in self.log.read_bytes()[self.mark:].decode(errors="replace").splitlines():
                if "Matrix: connected" in line:
                    return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            await asyncio.sleep(0.05)
        raise RuntimeError(f"the bot did not connect within {timeout:.0f}s:\n{self.tail()}")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


ORGS = ["TH", "ID", "PH", "VN", "KH", "LA", "MM", "SG"]


def network_toml(homeserver: str, bot: str, officers: list[str], recipients: list[str],
                 rooms: list[str]) -> str:
    orgs = "\n".join(f'  {{ code = "{code}", name = "Country {code}", kind = "country" }},'
                     for code in ORGS[:len(recipients)])
    people = "\n".join(
        f'[[network.contacts]]\nid = "officer-{i:02d}"\nname = "Officer {i}"\norganisation = "MY"\n'
        f'roles = ["officer"]\nidentities = ["matrix:{user}"]\n' for i, user in enumerate(officers))
    people += "\n".join(
        f'[[network.contacts]]\nid = "poc-{code.lower()}"\nname = "Contact {code}"\norganisation = "{code}"\n'
        f'roles = ["contact"]\nidentities = ["matrix:{user}"]\n' for code, user in zip(ORGS, recipients))
    room_blocks = "\n".join(
        f'[[network.rooms]]\nchat = "matrix:{room}"\nname = "Room {code}"\npurpose = "country"\n'
        f'organisations = ["{code}"]\n' for code, room in zip(ORGS, rooms))
    return f"""\
[bot]
name = "liaison-bot"
[storage]
url = "sqlite:///var/liaison.sqlite"
[keys]
path = "var/keys/liaison.keys"
[audit]
witness_path = "var/audit/witness.log"
[console]
enabled = false
[matrix]
enabled = false   # tests/matrix/run_bot.py attaches the connector
homeserver = "{homeserver}"
user_id = "{bot}"
password = {{ env = "LIAISON_TEST_MATRIX_PASSWORD" }}
pickle_key = {{ env = "LIAISON_TEST_MATRIX_PICKLE_KEY" }}
store_path = "var/matrix"
[network]
name = "Bench network"
topics = ["document-fraud"]
organisations = [
  {{ code = "MY", name = "Malaysia", kind = "country" }},
{orgs}
]
{people}
{room_blocks}
[routing]
post = "rooms"
"""


class World:
    """`officers` officers and `recipients` recipients (one per country) on a fresh Synapse."""

    def __init__(self, root: Path, officers: int, recipients: int, code_root: Path = ROOT,
                 postgres: bool = False) -> None:
        self.root = root
        self.n_officers, self.n_recipients = officers, recipients
        self.code_root = code_root
        self.synapse = Synapse(root / "synapse", postgres=postgres)
        self.officers: list[Person] = []
        self.recipients: list[Listener] = []
        self.bot_dm: list[str] = []  # each officer's direct chat with the bot
        self.country_rooms: list[str] = []  # each recipient's room with the bot
        self.bot: BotProcess | None = None
        self.bot_user = ""

    async def start(self) -> None:
        self.synapse.start()
        account = self.synapse.register("bench-bot")
        self.synapse.override_ratelimit(account.user_id, 0, 0)  # as the README tells admins to do
        self.bot_user = account.user_id
        self.officers = [Person(self.synapse.url, self.synapse.register(f"bench-officer-{i:02d}"),
                                self.root / "people" / f"officer-{i:02d}") for i in range(self.n_officers)]
        self.recipients = [Listener(Person(self.synapse.url, self.synapse.register(f"bench-poc-{i}"),
                                           self.root / "people" / f"poc-{i}")) for i in range(self.n_recipients)]
        await asyncio.gather(*(p.login() for p in self.officers), *(r.person.login() for r in self.recipients))
        self.country_rooms = list(await asyncio.gather(
            *(r.person.create_room([self.bot_user], encrypted=True, name=f"Room {code}")
              for code, r in zip(ORGS, self.recipients))))
        self.bot_dm = list(await asyncio.gather(*(direct_chat(o, self.bot_user) for o in self.officers)))
        config = self.root / "bot" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(network_toml(self.synapse.url, self.bot_user, [o.user_id for o in self.officers],
                                       [r.person.user_id for r in self.recipients], self.country_rooms))
        self.bot = BotProcess(self.code_root, config, account.password)
        self.bot.start()
        await self.bot.connected()
        for person, room in [*zip(self.officers, self.bot_dm), *((r.person, room) for r, room in
                                                                  zip(self.recipients, self.country_rooms))]:
            await person.wait_for(lambda p=person, r=room: self.bot_user in p.client.rooms[r].users
                                  and not p.client.rooms[r].users[self.bot_user].invited, timeout=300,
                                  what="the bot joining")
        for listener in self.recipients:
            listener.start()

    async def close(self) -> None:
        for listener in self.recipients:
            await listener.stop()
        if self.bot is not None:
            self.bot.stop()
        await asyncio.gather(*(p.close() for p in self.officers), *(r.person.close() for r in self.recipients),
                             return_exceptions=True)
        self.synapse.stop()

    async def group_room(self, officer: Person, listeners: list[Listener]) -> str:
        """An encrypted room of `officer` with `listeners`, all joined: the floor's direct path."""
        room = await officer.create_room([lst.person.user_id for lst in listeners], encrypted=True)
        for listener in listeners:
            await until(lambda lst=listener: room in lst.person.invites, f"the invite to {room}")
            response = await listener.person.client.join(room)
            if not hasattr(response, "room_id"):
                raise RuntimeError(f"joining {room} failed: {response}")
            await until(lambda lst=listener: room in lst.person.client.rooms, f"joined {room}")
        await officer.wait_for(lambda: all(lst.person.user_id in officer.client.rooms[room].users
                                           and not officer.client.rooms[room].users[lst.person.user_id].invited
                                           for lst in listeners), timeout=300, what="everyone joined")
        return room

    def alert(self, token: str, recipients: list[int]) -> str:
        return (f"!alert to:{','.join(ORGS[i] for i in recipients)} tlp:amber topic:document-fraud\n"
                f"Two travellers with altered passports, flight XX123 KUL-BKK 14:30 today. {token}")


async def direct_chat(person: Person, other: str) -> str:
    response = await person.client.room_create(invite=[other], is_direct=True, preset=RoomPreset.trusted_private_chat,
                                               initial_state=[ENCRYPTION])
    if not isinstance(response, RoomCreateResponse):
        raise RuntimeError(f"creating a direct chat failed: {response}")
    await person.wait_for(lambda: response.room_id in person.client.rooms, what="the direct chat")
    return response.room_id


async def until(condition: Any, what: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"never happened: {what}")
        await asyncio.sleep(0.01)


async def send(person: Person, room: str, text: str) -> float:
    """Send `text`; the perf_counter() just before the send began (the clock every latency starts on)."""
    started = time.perf_counter()
    await person.say(room, text)
    return started
