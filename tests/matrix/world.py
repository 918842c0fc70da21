"""A small network on the test homeserver: a test config in the shape of config.example.toml, whose
contacts are the Matrix users the test registered, and the real runtime built from it."""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.runtime.app import Runtime, add_receiver, build_runtime
from bot.runtime.serve import serve
from bot.config.settings import load_settings
from bot.connectors.matrix import MatrixConnector, SecurityEvent
from bot.connectors.matrix.room_reports import attach_room_admin
from bot.connectors.matrix.wiring import matrix_connector_for


# The sections every test bot shares: its files under the working directory the test gives it.
BASE_SECTIONS = """\
[bot]
name = "liaison-bot"
default_timezone = "Asia/Bangkok"

[storage]
url = "sqlite:///var/liaison.sqlite"

[keys]
path = "var/keys/liaison.keys"

[audit]
witness_path = "var/audit/witness.log"

# These worlds test other things: TLP:RED goes at once here. Two-person release is tested end to end
# in tests/unit/test_release.py, tests/e2e/test_release_console.py and tests/telegram/test_release.py.
[release]
required = []
"""


def both_platforms_sections(homeserver: str, bot: str, api_url: str) -> str:
    """[bot] to [telegram] of a config whose runtime serves the test Synapse and the fake Bot API."""
    return f"""\
{BASE_SECTIONS}
[console]
enabled = false

[matrix]
enabled = true
homeserver = "{homeserver}"
user_id = "{bot}"
password = {{ env = "LIAISON_TEST_MATRIX_PASSWORD" }}
pickle_key = {{ env = "LIAISON_TEST_MATRIX_PICKLE_KEY" }}
store_path = "var/matrix"

[telegram]
enabled = true
token = {{ env = "LIAISON_TEST_TELEGRAM_TOKEN" }}
api_url = "{api_url}"
"""


def network_toml(*, homeserver: str, bot: str, officer: str, th: str, admin: str, rooms: list[tuple[str, str, str, str]],
                 post: str = "rooms", device_trust: str = "tofu", extra_contacts: str = "") -> str:
    """rooms: (room id, name, purpose, organisations as TOML list text); extra_contacts: more
    [[network.contacts]] tables, as TOML text."""
    room_blocks = "\n".join(
        f'[[network.rooms]]\nchat = "matrix:{room_id}"\nname = "{name}"\npurpose = "{purpose}"\n'
        f"organisations = {orgs}\n"
        for room_id, name, purpose, orgs in rooms
    )
    return f"""\
{BASE_SECTIONS}
[delivery]
max_attempts = 10
retry_base_seconds = 1
retry_max_seconds = 30

[console]
enabled = false

[matrix]
enabled = false   # start_bot attaches the connector itself, with the test's options
homeserver = "{homeserver}"
user_id = "{bot}"
password = {{ env = "LIAISON_TEST_MATRIX_PASSWORD" }}
pickle_key = {{ env = "LIAISON_TEST_MATRIX_PICKLE_KEY" }}
store_path = "var/matrix"
device_trust = "{device_trust}"

[network]
name = "Test liaison network"
topics = ["document-fraud", "people-smuggling"]
organisations = [
  {{ code = "MY", name = "Malaysia", kind = "country" }},
  {{ code = "TH", name = "Thailand", kind = "country" }},
  {{ code = "RSO", name = "Regional Support Office", kind = "coordinator" }},
]

[[network.contacts]]
id = "my-officer"
name = "Aminah"
organisation = "MY"
roles = ["officer"]
identities = ["matrix:{officer}"]

[[network.contacts]]
id = "th-npoc"
name = "Somchai"
organisation = "TH"
roles = ["contact"]
identities = ["matrix:{th}"]

[[network.contacts]]
id = "rso-admin"
name = "Admin"
organisation = "RSO"
roles = ["admin", "coordinator"]
identities = ["matrix:{admin}"]

{extra_contacts}
{room_blocks}
[routing]
post = "{post}"
"""


class UntilStopped:
    """A stand-in for the console session: serve() runs until `stop` is set."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()

    async def run(self) -> None:
        await self.stop.wait()


@dataclass
class RunningBot:
    runtime: Runtime
    connector: MatrixConnector
    task: asyncio.Task[None]
    session: UntilStopped
    security: list[SecurityEvent] = field(default_factory=list)

    async def close(self) -> None:
        # serve() runs until a signal once platforms are served; cancelling it runs its shutdown path
        # (receivers stopped, worker and inbox ended, instance lock released, runtime closed).
        self.session.stop.set()
        self.task.cancel()
        await asyncio.wait_for(asyncio.gather(self.task, return_exceptions=True), timeout=120)


def write_config(directory: Path, toml: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.toml"
    path.write_text(toml)
    return path


async def start_bot(config: Path, password: str, pickle_key: str, *, room_admin: bool = False,
                    **options: Any) -> RunningBot:
    """The real runtime (bot.runtime.app.build_runtime), the Matrix connector wired as the lead will wire it,
    served by bot.runtime.app.serve, in this event loop."""
    os.environ["LIAISON_TEST_MATRIX_PASSWORD"] = password
    os.environ["LIAISON_TEST_MATRIX_PICKLE_KEY"] = pickle_key
    settings = load_settings(config)
    runtime = build_runtime(settings)
    connector = matrix_connector_for(runtime, **options)
    security: list[SecurityEvent] = []
    recorder = connector.session.on_security

    async def hook(event: SecurityEvent) -> None:
        security.append(event)
        if recorder is not None:
            await recorder(event)

    connector.session.on_security = hook
    add_receiver(runtime, connector)
    if room_admin:  # as bot/cli/main.py wires it: the room watch also tells routing which rooms are encrypted
        attach_room_admin(runtime, connector)
    session = UntilStopped()
    task = asyncio.create_task(serve(runtime, session))
    while not connector.connected:
        if task.done():
            task.result()
        await asyncio.sleep(0.1)
    return RunningBot(runtime, connector, task, session, security)


@contextlib.asynccontextmanager
async def verified_only_world(synapse: Any, root: Path, name: str, **options: Any):  # noqa: ANN201
    """A bot under device_trust = "verified" in Thailand's encrypted room, with Thailand's contact and
    an admin logged in: yields (bot, th, admin, room id). `options` go to the connector."""
    from tests.matrix.people import Person

    bot_account = synapse.register(f"{name}-bot")
    synapse.override_ratelimit(bot_account.user_id, 0, 0)
    th = Person(synapse.url, synapse.register(f"{name}-th"), root / "th")
    admin = Person(synapse.url, synapse.register(f"{name}-admin"), root / "admin")
    await asyncio.gather(th.login(), admin.login())
    room = await th.create_room([bot_account.user_id], encrypted=True, name="Thailand")
    config = write_config(root / "bot", network_toml(
        homeserver=synapse.url, bot=bot_account.user_id, officer=f"@{name}-officer:localhost", th=th.user_id,
        admin=admin.user_id, rooms=[(room, "Thailand", "country", '["TH"]')], device_trust="verified"))
    bot = await start_bot(config, bot_account.password, f"{name}-pickle", **options)
    try:
        await th.wait_for(lambda: bot_account.user_id in th.client.rooms[room].users
                          and not th.client.rooms[room].users[bot_account.user_id].invited, what="the bot joining")
        yield bot, th, admin, room
    finally:
        await bot.close()
        await asyncio.gather(th.close(), admin.close())
