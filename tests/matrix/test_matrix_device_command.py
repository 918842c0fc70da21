"""/device typed in Matrix, on a real Synapse, under device_trust = "verified": a delivery held back by
a device nobody verified goes on as soon as an admin verifies it with /device verify (not at its next
retry, ten minutes later); /device list shows the key the device's owner has on their phone; a
non-admin's /device is refused and the refusal is in the audit log."""

from __future__ import annotations

import asyncio
import io
import time
from typing import Any

import pytest
import pytest_asyncio

from alerts.identity import ChatRef, Platform
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing import Destination
from bot.actions.devices import fingerprint
from bot.runtime.keys import ensure_keyring
from storage.audit.trail import read_entries
from tests.matrix.people import Person
from tests.matrix.synapse import Synapse
from tests.matrix.world import RunningBot, verified_only_world

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

RETRY = 600.0  # seconds before a held delivery is tried again by itself: far beyond any wait below
HELD = "Held until an admin decides on Somchai's phone"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def device_world(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory):
    async with verified_only_world(synapse, tmp_path_factory.mktemp("matrix-device-command"), "device", sync_timeout_ms=3000, unverified_retry=RETRY) as world:
        yield world


def audit(bot: RunningBot) -> list[Any]:
    keyring = ensure_keyring(bot.runtime.settings.keys.path, io.StringIO())
    with bot.runtime.engine.connect() as conn:
        return list(read_entries(conn, keyring))


async def eventually(found, timeout: float = 60.0, what: str = ""):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while not (value := found()):
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:.0f}s in vain for {what}")
        await asyncio.sleep(0.2)
    return value


def bodies(person: Person, room: str) -> list[str]:
    return [event.body for _, event in person.messages(room) if getattr(event, "decrypted", False)]


async def test_an_admins_device_verify_in_matrix_lets_a_waiting_delivery_go_on(device_world) -> None:
    bot, th, admin, room = device_world
    th_device = th.account.device_id
    runtime = bot.runtime
    with runtime.uow_factory() as uow:
        uow.outbox.enqueue(OutboundMessage(key="device-held-1", kind=MessageKind.NOTICE, text=HELD,
                                           destination=Destination.chat(ChatRef(Platform.MATRIX, room))))
        uow.commit()
    runtime.worker.wake()

    # The delivery is held back, and the admins are told in their direct chats with the bot, where the
    # admin's own phone, unverified too, holds the alert back as well: the admin verifies it first,
    # with /device in that chat, as the README says.
    await admin.wait_for(lambda: admin.invites, what="the admin's direct chat")
    (dm,) = admin.invites
    await admin.join(dm)
    await admin.say(dm, f"/device verify {admin.user_id} {admin.account.device_id}")
    await admin.wait_for(lambda: [b for b in bodies(admin, dm) if b.startswith(f"Verified {admin.user_id}'s device")],
                         what="the admin's own device verified")
    [alert] = await admin.wait_for(lambda: [b for b in bodies(admin, dm) if th_device in b], what="the admin alert")
    assert f"!device verify {th.user_id} {th_device}" in alert  # Matrix hints use ! commands

    # Somchai is not an admin: his /device is refused, and the refusal recorded.
    await th.say(room, f"/device verify {th.user_id} {th_device}")
    refusals = await eventually(lambda: [e for e in audit(bot) if e.action == "refusal"
                                         and (e.detail or {}).get("command") == "device"], what="the refusal")
    assert [r.actor for r in refusals] == ["th-npoc"]
    assert [d.trust for d in await bot.connector.trust.devices(th.user_id)] == ["unverified"]

    # The admin looks: the key shown is the one on Somchai's phone.
    await admin.say(dm, f"/device list {th.user_id}")
    [listing] = await admin.wait_for(lambda: [b for b in bodies(admin, dm) if b.startswith(f"Devices of {th.user_id}")],
                                     what="the device list")
    phone_key = th.client.olm.account.identity_keys["ed25519"]
    assert f"• {th_device} · unverified · key {fingerprint(phone_key)}" in listing

    started = time.monotonic()
    await admin.say(dm, f"/device verify {th.user_id} {th_device}")
    [done] = await admin.wait_for(lambda: [b for b in bodies(admin, dm) if b.startswith(f"Verified {th.user_id}")],
                                  what="the answer")
    assert f"Verified {th.user_id}'s device {th_device} (key {fingerprint(phone_key)})." in done
    assert "tried again now" in done
    got = await th.wait_for(lambda: [b for b in bodies(th, room) if HELD in b], what="the held delivery")
    assert len(got) == 1 and time.monotonic() - started < RETRY / 2
    # The answer to his refused command was held back with it, and follows it now.
    await th.wait_for(lambda: [b for b in bodies(th, room) if "!device needs one of these roles: admin" in b],
                      what="the refusal's answer")

    entries = audit(bot)
    asked = [e for e in entries if e.action == "admin" and (e.detail or {}).get("command") == "device verify"]
    assert [(e.actor, e.detail["user"], e.detail["device"]) for e in asked] == [
        ("rso-admin", f"matrix:{admin.user_id}", admin.account.device_id),
        ("rso-admin", f"matrix:{th.user_id}", th_device)]
    decided = [e for e in entries if e.action == "key" and (e.detail or {}).get("event") == "device-verified"
               and e.detail.get("device") == th_device]
    assert [d.detail.get("detail") for d in decided] == ["by rso-admin"]
