"""A network for membership administration across platforms: the real Synapse and the fake Telegram
Bot API server, served by one runtime wired as bot/cli/main.py wires it (room admins on both platforms,
the Matrix room watch).

Rooms are made by a room maker who gives the bot its power level, invites everyone, and leaves, as a
homeserver admin would set rooms up for the bot:

    Admins      management room (the admin and the bot): where the admin works and is told things
    Network     every organisation; Thailand, everyone on Matrix joined; the bot at level 50
    Thailand    Thailand, encrypted; Somchai and Kanya joined; the bot at level 50
    Malaysia    Malaysia; Aminah joined; the bot at level 0, so it cannot remove anyone there
    and two Telegram groups (the network, Thailand) on the fake server.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest

from alerts.identity import ChatRef
from alerts.items import Reference
from bot.runtime.app import add_receiver, build_runtime, vocabulary_for
from bot.config.settings import load_settings
from bot.connectors.matrix.room_reports import attach_room_admin
from bot.connectors.matrix.wiring import matrix_connector_for
from bot.connectors.telegram import telegram_connector_for
from bot.connectors.telegram.membership import TelegramRoomAdmin
from bot.runtime.keys import ensure_keyring
from bot.runtime.serve import serve
from storage.audit.trail import read_entries
from storage.roster import SqlRoomRoster
from tests.matrix.people import ENCRYPTION, Person
from tests.matrix.synapse import Synapse
from tests.matrix.world import UntilStopped, both_platforms_sections, write_config
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.fake_bot_state import Chat
from tests.telegram.support import NETWORK_GROUP, TH_GROUP, TH_NPOC, eventually, relaxed


def membership_toml(world: MembershipWorld) -> str:
    m = {name: p.user_id for name, p in world.people.items()}
    rooms = [("Admins", "management", '["RSO"]'), ("Network", "network", '["all"]'),
             ("Thailand", "country", '["TH"]'), ("Malaysia", "country", '["MY"]')]
    blocks = "".join(f'[[network.rooms]]\nchat = "matrix:{world.rooms[name]}"\nname = "{name}"\n'
                     f'purpose = "{purpose}"\norganisations = {orgs}\n\n' for name, purpose, orgs in rooms)
    return f"""\
{both_platforms_sections(world.synapse.url, world.bot_account.user_id, world.telegram.base_url)}

[network]
name = "Test liaison network"
topics = ["document-fraud", "people-smuggling"]
organisations = [
  {{ code = "MY", name = "Malaysia", kind = "country" }},
  {{ code = "TH", name = "Thailand", kind = "country", desks = ["immigration", "police"] }},
  {{ code = "RSO", name = "Regional Support Office", kind = "coordinator" }},
]

[[network.contacts]]
id = "my-officer"
name = "Aminah"
organisation = "MY"
roles = ["officer", "contact"]
identities = ["matrix:{m['aminah']}"]

[[network.contacts]]
id = "th-npoc"
name = "Somchai"
organisation = "TH"
roles = ["contact", "officer"]
identities = ["telegram:user:{TH_NPOC.id}", "matrix:{m['somchai']}"]
backup = "th-deputy"

[[network.contacts]]
id = "th-deputy"
name = "Kanya"
organisation = "TH"
roles = ["officer"]
identities = ["matrix:{m['kanya']}"]

[[network.contacts]]
id = "rso-admin"
name = "Admin"
organisation = "RSO"
roles = ["admin", "coordinator"]
identities = ["matrix:{m['admin']}"]

{blocks}[[network.rooms]]
chat = "telegram:{NETWORK_GROUP.id}"
name = "Network (Telegram)"
purpose = "network"
organisations = ["all"]

[[network.rooms]]
chat = "telegram:{TH_GROUP.id}"
name = "Thailand (Telegram)"
purpose = "country"
organisations = ["TH"]

[routing]
post = "direct"
"""


class MembershipWorld:
    def __init__(self, synapse: Synapse, root: Path) -> None:
        self.synapse = synapse
        self.root = root
        self.bot_account = synapse.register("liaison-bot-m")
        synapse.override_ratelimit(self.bot_account.user_id, 0, 0)
        self.people = {name: Person(synapse.url, synapse.register(f"{name}-m"), root / "people" / name)
                       for name in ("maker", "admin", "aminah", "somchai", "kanya", "niran", "mallory")}
        self.telegram = FakeBotApi()
        self.rooms: dict[str, str] = {}
        self._asked = 0

    def __getattr__(self, name: str) -> Person:
        people = self.__dict__.get("people", {})
        if name in people:
            return people[name]
        raise AttributeError(name)

    @property
    def bot(self) -> str:
        return self.bot_account.user_id

    async def make_room(self, name: str, members: list[Person], *, bot_level: int, encrypted: bool = False) -> str:
        maker = self.maker.client
        users = {self.admin.user_id: 100, self.bot: bot_level}
        response = await maker.room_create(
            name=name, invite=[self.bot, *(p.user_id for p in members)],
            initial_state=[ENCRYPTION] if encrypted else [],
            power_level_override={"users": users, "invite": 0, "kick": 50, "ban": 50, "events_default": 0,
                                  "state_default": 50})
        room_id = response.room_id
        for person in members:
            await person.wait_for(lambda p=person: room_id in p.invites, what=f"the invite to {name}")
            await person.join(room_id)
        await maker.room_leave(room_id)  # the rooms are the network's, not the maker's
        return room_id

    async def start(self, monkeypatch: pytest.MonkeyPatch) -> None:
        await self.telegram.start()
        for chat in (Chat(TH_NPOC.id, "private", TH_NPOC.first_name), NETWORK_GROUP, TH_GROUP):
            self.telegram.world.chat(chat)
        limiter = relaxed(self.telegram)
        await asyncio.gather(*(p.login() for p in self.people.values()))
        a, s, k, m = self.admin, self.somchai, self.kanya, self.aminah
        self.rooms["Admins"] = await self.make_room("Admins", [a], bot_level=50)
        self.rooms["Network"] = await self.make_room("Network", [a, m, s, k], bot_level=50)
        self.rooms["Thailand"] = await self.make_room("Thailand", [s, k], bot_level=50, encrypted=True)
        self.rooms["Malaysia"] = await self.make_room("Malaysia", [m], bot_level=0)
        config = write_config(self.root / "bot", membership_toml(self))
        monkeypatch.setenv("LIAISON_TEST_MATRIX_PASSWORD", self.bot_account.password)
        monkeypatch.setenv("LIAISON_TEST_MATRIX_PICKLE_KEY", "membership-pickle-key")
        monkeypatch.setenv("LIAISON_TEST_TELEGRAM_TOKEN", self.telegram.token)
        settings = load_settings(config)
        self.runtime = build_runtime(settings, notice=io.StringIO())
        self.matrix = matrix_connector_for(self.runtime, sync_timeout_ms=2000)
        self.telegram_connector = telegram_connector_for(self.runtime, vocabulary_for(settings), limiter=limiter,
                                                         poll_timeout=1, request_timeout=2.0)
        add_receiver(self.runtime, self.telegram_connector)
        self.runtime.room_actions.add(TelegramRoomAdmin.for_connector(self.telegram_connector))
        add_receiver(self.runtime, self.matrix)
        attach_room_admin(self.runtime, self.matrix, invite_spacing=0.2)
        self.session = UntilStopped()
        self.task = asyncio.create_task(serve(self.runtime, self.session))
        await eventually(lambda: (self.matrix.connected and self.telegram_connector.connected) or self.task.done(),
                         "both connectors to start", timeout=120)
        if self.task.done():
            self.task.result()
        for room_id in self.rooms.values():
            await self.admin.wait_for(lambda r=room_id: self.roster(f"matrix:{r}") is not None,
                                      what="the bot's first look at its rooms")

    async def close(self) -> None:
        self.session.stop.set()
        await asyncio.wait_for(asyncio.gather(self.task, return_exceptions=True), timeout=120)
        await asyncio.gather(*(p.close() for p in self.people.values()))
        await self.telegram.close()

    # --- talking to the bot ----------------------------------------------------------------------

    def bot_said(self, person: Person, room: str) -> list[str]:
        return [e.body for _, e in person.messages(self.rooms.get(room, room), sender=self.bot)]

    async def says(self, person: Person, room: str, text: str, expect: str) -> str:
        """`person` types `text` in `room`; the bot's first answer there, after it, that holds `expect`."""
        before = len(self.bot_said(person, room))
        await person.say(self.rooms.get(room, room), text)
        try:
            found = await person.wait_for(lambda: [b for b in self.bot_said(person, room)[before:] if expect in b],
                                          what=f"the answer to {text.split()[0]} holding {expect!r}")
        except AssertionError as failed:
            raise AssertionError(f"{failed}; the bot said: {self.bot_said(person, room)[before:]}") from None
        return found[0]

    # --- what the bot recorded ---------------------------------------------------------------------

    def roster(self, chat: str) -> dict[str, str] | None:
        with self.runtime.engine.connect() as conn:
            present = SqlRoomRoster(conn).present(ChatRef.parse(chat))
        return None if present is None else {str(k): v for k, v in present.items()}

    def audit(self) -> list[Any]:
        keyring = ensure_keyring(self.runtime.settings.keys.path, io.StringIO())
        with self.runtime.engine.connect() as conn:
            return list(read_entries(conn, keyring))

    def delivery_state(self, reference: str, contact: str) -> str | None:
        with self.runtime.uow_factory(read_only=True) as uow:
            record = uow.items.get(Reference.parse(reference))
            delivery = record.delivery_to(contact) if record else None
            return delivery.state if delivery else None

    def membership_in(self, person: Person, room: str) -> str | None:
        """The person's membership in a room as the bot's homeserver view has it."""
        room_id = self.rooms[room]
        users = self.matrix.client.rooms[room_id].users if room_id in self.matrix.client.rooms else {}
        user = users.get(person.user_id)
        return None if user is None else "invited" if user.invited else "joined"


async def wait_until(condition: Any, what: str, timeout: float = 90.0) -> None:
    await eventually(condition, what, timeout=timeout)
