"""/device end to end on SQLite: the real runtime, inbox, outbox and worker, the gateway
(bot/actions/devices.py) carrying out the planned action through a fake of the Matrix connector's
device trust, the answer in the admin's (console) chat, and the deliveries that were waiting."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from alerts.identity import ChatRef, Platform
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing import Destination
from bot.connectors.base import Outgoing
from bot.connectors.errors import PermanentFailure
from storage.tables import outbox
from tests.ops_member.support import ConsoleBot, settings_for

TH = "@th:example.org"
KEY = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcdefg"  # 43 characters, as an ed25519 key in base64
WAITING = "unverified-device"


@dataclass(frozen=True)
class Device:
    device_id: str
    display_name: str
    ed25519: str
    trust: str


class FakeMatrix:
    """The Matrix connector as the worker and the gateway see it: sends are recorded, devices kept."""

    platform = Platform.MATRIX

    def __init__(self) -> None:
        self.known = {TH: [Device("PHONE", "Somchai's phone", KEY, "unverified")]}
        self.sent: list[Outgoing] = []
        self.decisions: list[tuple[str, str, str, str]] = []

    async def send(self, message: Outgoing) -> str:
        self.sent.append(message)
        return f"$event{len(self.sent)}"

    async def devices(self, user_id: str) -> list[Device]:
        return list(self.known.get(user_id, []))

    async def verify_device(self, user_id: str, device_id: str, by: str = "") -> bool:
        return self._decide("verified", user_id, device_id, by)

    async def blacklist_device(self, user_id: str, device_id: str, by: str = "") -> bool:
        return self._decide("blacklisted", user_id, device_id, by)

    def _decide(self, trust: str, user_id: str, device_id: str, by: str) -> bool:
        devices = self.known.get(user_id, [])
        found = next((d for d in devices if d.device_id == device_id), None)
        if found is None:
            raise PermanentFailure("unknown-device", f"{user_id} has no device {device_id}")
        self.decisions.append((trust, user_id, device_id, by))
        self.known[user_id] = [replace(d, trust=trust) if d is found else d for d in devices]
        return found.trust != trust


def run(coroutine):  # noqa: ANN001, ANN201
    return asyncio.run(asyncio.wait_for(coroutine, timeout=120))


@pytest.fixture
def bot(tmp_path: Path):  # noqa: ANN201
    bot = ConsoleBot(settings_for(tmp_path))
    yield bot
    run(bot.runtime.close())


@pytest.fixture
def matrix(bot: ConsoleBot) -> FakeMatrix:
    fake = FakeMatrix()
    bot.runtime.connectors[Platform.MATRIX] = fake
    bot.runtime.device_actions.attach(fake, waiting_code=WAITING)
    return fake


def hold_a_delivery(bot: ConsoleBot, key: str) -> None:
    """A notice to a Matrix room that a device nobody verified held back: due again only in an hour."""
    runtime = bot.runtime
    with runtime.uow_factory() as uow:
        uow.outbox.enqueue(OutboundMessage(key=key, kind=MessageKind.NOTICE, text="Held back",
                                           destination=Destination.chat(ChatRef(Platform.MATRIX, "!th:example.org"))))
        # leased by the worker, whose send the device gate held back (only a row being sent is retried)
        uow.connection.execute(update(outbox).where(outbox.c.key == key).values(state="sending"))
        assert uow.outbox.retry_later(key, runtime.clock.now() + timedelta(hours=1), WAITING)
        uow.commit()


def row_state(bot: ConsoleBot, kind: str) -> list[str]:
    with bot.runtime.engine.connect() as conn:
        return list(conn.execute(select(outbox.c.state).where(outbox.c.kind == kind)).scalars())


def test_an_admin_sees_the_devices_with_their_trust_and_keys(bot: ConsoleBot, matrix: FakeMatrix) -> None:
    printed = run(bot.says("rso-admin", f"/device list {TH}"))
    assert f"Devices of {TH} (1):" in printed
    assert '• PHONE "Somchai\'s phone" · unverified · key AbCd EfGh IjKl MnOp QrSt UvWx Yz01 2345 6789 abcd efg' \
        in printed
    assert "check its key with its owner" in printed
    assert printed.count("Devices of") == 1 and matrix.decisions == []
    assert any(e.action == "consultation" and e.detail.get("command") == "device list" for e in bot.audit())


def test_verifying_lets_the_waiting_deliveries_go_on_at_once(bot: ConsoleBot, matrix: FakeMatrix) -> None:
    hold_a_delivery(bot, "held-1")
    printed = run(bot.says("rso-admin", f"/device verify {TH} PHONE"))
    assert f"Verified {TH}'s device PHONE (key AbCd EfGh" in printed
    assert "1 delivery waiting for a device decision is tried again now." in printed
    assert matrix.decisions == [("verified", TH, "PHONE", "rso-admin")]
    assert [m.key for m in matrix.sent] == ["held-1"]  # not in an hour: now
    assert row_state(bot, "device") == ["sent"]
    again = run(bot.says("rso-admin", f"/device verify {TH} PHONE"))
    assert "was verified already" in again and "tried again" not in again


def test_blacklisting_is_done_and_said(bot: ConsoleBot, matrix: FakeMatrix) -> None:
    printed = run(bot.says("rso-admin", f"/device blacklist {TH} PHONE"))
    assert f"Blacklisted {TH}'s device PHONE" in printed and "it gets no keys from now on" in printed
    assert matrix.known[TH][0].trust == "blacklisted"
    decisions = [e for e in bot.audit() if e.action == "admin" and e.detail.get("command") == "device blacklist"]
    assert [(d.actor, d.detail["device"]) for d in decisions] == [("rso-admin", "PHONE")]


def test_an_unknown_device_is_answered_recorded_and_not_retried(bot: ConsoleBot, matrix: FakeMatrix) -> None:
    hold_a_delivery(bot, "held-2")
    printed = run(bot.says("rso-admin", f"/device verify {TH} NOPE"))
    assert f"{TH} has no device NOPE that the homeserver knows of. /device list {TH} shows their devices." in printed
    assert "Traceback" not in printed and matrix.sent == []  # nothing decided, nothing released
    assert row_state(bot, "device") == ["failed"]
    failed = [e for e in bot.audit() if e.action == "key" and e.detail.get("event") == "device-action-failed"]
    assert [(f.detail["device"], f.detail["error"], f.detail["requested_by"]) for f in failed] == \
        [("NOPE", "unknown-device", "rso-admin")]


def test_a_retry_after_a_crash_answers_once(bot: ConsoleBot, matrix: FakeMatrix) -> None:
    run(bot.says("rso-admin", f"/device verify {TH} PHONE"))
    # A crash after the answer was recorded but before the row was marked sent: the row comes again.
    with bot.runtime.engine.begin() as conn:
        conn.execute(outbox.update().where(outbox.c.kind == "device").values(state="pending", not_before=None))
    with bot.runtime.uow_factory() as uow:
        [leased] = [m for m in uow.outbox.lease(bot.runtime.clock.now(), 100, timedelta(seconds=30))
                    if m.kind is MessageKind.DEVICE]
        uow.commit()
    message = Outgoing(key=leased.key, kind=leased.kind, destination=leased.destination, text=leased.text,
                       reference=None, contact=leased.contact, protect_content=False, reply_to=None, attempt=2)
    assert run(bot.runtime.actions[MessageKind.DEVICE](message)) == "device:verify"
    with bot.runtime.engine.connect() as conn:
        answers = conn.execute(select(outbox.c.key).where(outbox.c.key.like("dev-%"))).scalars().all()
    assert len(answers) == 1


def test_without_matrix_the_command_says_it_is_not_set_up(bot: ConsoleBot) -> None:
    printed = run(bot.says("rso-admin", f"/device list {TH}"))
    assert "Device trust is not set up in this deployment" in printed
    assert row_state(bot, "device") == []
