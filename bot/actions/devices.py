"""Device trust actions carried out on Matrix, after the /device command that planned them committed.

1. /device (handlers/devices.py) records the admin's request in the audit log and plans the action
   as an outbox row of kind DEVICE (alerts.devices), in the command's transaction.
2. The delivery worker leases it like any other row (retries, back-off, retry-after) and hands a
   DEVICE row to DeviceActions.carry_out, registered for that kind in the runtime's `actions`
   (bot/runtime/app.py), instead of to a connector's send().
3. DeviceActions asks the connector (devices, verify_device, blacklist_device) and then, in one
   transaction, answers the admin in the chat the command came from. After a verify or blacklist,
   the deliveries that were waiting for a device decision are made due now rather than at their next
   retry, minutes later; one still held back by another device just waits again. The connector's
   security hook audits the decision itself (bot/connectors/matrix/wiring.py); a failure is audited
   here. The answer's key is made from the action's, so a retry after a crash answers once.

/device is offered once a connector has attached its device trust (`attach`); the Matrix wiring does
so for its connector. Until then the handlers get no DeviceDesk, so no DEVICE row is planned.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from alerts.audit import AuditAction, AuditEvent, BOT_ACTOR
from alerts.clock import Clock
from alerts.devices import DeviceAction, DeviceOp
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing import Destination
from bot.connectors.base import Outgoing
from bot.runtime.dbthread import DatabaseThread
from bot.connectors.errors import PermanentFailure, PlatformError
from handlers.ports import UnitOfWorkFactory

TRUST_WORDS = {"verified": "verified", "tofu": "trusted on first use, not verified", "blacklisted": "blacklisted",
               "unverified": "unverified"}
CHECK_KEY = "Before you verify one, check its key with its owner: their app shows it for that session."


class DeviceView(Protocol):
    """Read-only, as a frozen dataclass (bot.connectors.matrix.model.DeviceInfo) is."""

    @property
    def device_id(self) -> str: ...

    @property
    def display_name(self) -> str: ...

    @property
    def ed25519(self) -> str: ...

    @property
    def trust(self) -> str: ...  # "verified", "tofu", "blacklisted" or "unverified"


class DeviceTrustPort(Protocol):
    """What a connector offers for device trust (bot.connectors.matrix.MatrixConnector)."""

    async def devices(self, user_id: str) -> Sequence[DeviceView]: ...

    async def verify_device(self, user_id: str, device_id: str, by: str = "") -> bool: ...

    async def blacklist_device(self, user_id: str, device_id: str, by: str = "") -> bool: ...


def fingerprint(ed25519: str) -> str:
    """The key in groups of four, as Matrix clients show a session key, to read out over the phone."""
    return " ".join(ed25519[i:i + 4] for i in range(0, len(ed25519), 4))


def listing(user_id: str, devices: Sequence[DeviceView]) -> str:
    if not devices:
        return f"The homeserver knows no devices with encryption keys for {user_id}."
    lines = [f"Devices of {user_id} ({len(devices)}):"]
    for device in sorted(devices, key=lambda d: d.device_id):
        name = f' "{device.display_name}"' if device.display_name else ""
        lines.append(f"• {device.device_id}{name} · {TRUST_WORDS.get(device.trust, device.trust)} · "
                     f"key {fingerprint(device.ed25519)}")
    lines.append(CHECK_KEY)
    return "\n".join(lines)


class DeviceActions:
    """Carries out one DEVICE outbox row and answers the admin (see the module docstring)."""

    def __init__(self, db: DatabaseThread, uow_factory: UnitOfWorkFactory, clock: Clock, *,
                 max_attempts: int = 8) -> None:
        self._db = db
        self._uow_factory = uow_factory
        self._trust: DeviceTrustPort | None = None  # until a connector attaches its own
        self._clock = clock
        self._waiting_code = ""  # the outbox error code of a delivery held back by a device
        self._max_attempts = max_attempts

    def attach(self, trust: DeviceTrustPort, *, waiting_code: str) -> None:
        """/device works from now on: its actions go to `trust`."""
        self._trust = trust
        self._waiting_code = waiting_code

    @property
    def attached(self) -> bool:
        """Whether /device can be carried out (the units of work offer the handlers a DeviceDesk)."""
        return self._trust is not None

    async def carry_out(self, message: Outgoing) -> str:
        action = DeviceAction.from_json(message.text)
        user_id = action.user.user_id
        try:
            trust = self._trust
            if trust is None:  # planned by a run that had a connector's device trust, carried out by one without
                raise PermanentFailure("no-device-trust", "no device trust attached")
            if action.op is DeviceOp.LIST:
                text = listing(user_id, await trust.devices(user_id))
            else:
                decide = trust.verify_device if action.op is DeviceOp.VERIFY else trust.blacklist_device
                assert action.device_id is not None
                changed = await decide(user_id, action.device_id, by=action.requested_by)
                text = await self._decided(trust, action, changed)
        except PlatformError as error:
            last = not error.retried_after(message.attempt, self._max_attempts)
            if last:
                await self._db.run(self._record, action, _failure(action, error), error.code)
            raise
        await self._db.run(self._record, action, text, None)
        return f"device:{action.op.value}"

    async def _decided(self, trust: DeviceTrustPort, action: DeviceAction, changed: bool) -> str:
        user_id, device_id = action.user.user_id, action.device_id
        key = next((d.ed25519 for d in await trust.devices(user_id) if d.device_id == device_id), "")
        shown = f" (key {fingerprint(key)})" if key else ""
        if action.op is DeviceOp.VERIFY:
            if not changed:
                return f"{user_id}'s device {device_id}{shown} was verified already."
            return f"Verified {user_id}'s device {device_id}{shown}."
        if not changed:
            return f"{user_id}'s device {device_id}{shown} was blacklisted already."
        return f"Blacklisted {user_id}'s device {device_id}{shown}: it gets no keys from now on."

    def _record(self, action: DeviceAction, text: str, error_code: str | None) -> None:
        now = self._clock.now()
        with self._uow_factory() as uow:
            if error_code is not None:
                uow.audit.record(AuditEvent(
                    action=AuditAction.KEY, at=now, actor=BOT_ACTOR, recipients=(), channel=str(action.user),
                    detail={"event": "device-action-failed", "op": action.op.value, "user": str(action.user),
                            "device": action.device_id or "", "requested_by": action.requested_by,
                            "error": error_code}))
            elif action.op is not DeviceOp.LIST:
                released = uow.outbox.release_held(self._waiting_code, now)
                if released:
                    text += (f" {released} deliver{'ies' if released != 1 else 'y'} waiting for a device decision "
                             f"{'are' if released != 1 else 'is'} tried again now.")
            uow.outbox.enqueue(OutboundMessage(
                key="dev-" + hashlib.sha256(action.key.encode()).hexdigest()[:48], kind=MessageKind.NOTICE,
                destination=Destination.parse(f"chat:{action.reply_chat}"), text=text,
                contact=action.requested_by or None))
            uow.commit()


def _failure(action: DeviceAction, error: PlatformError) -> str:
    if error.code == "unknown-device":
        return (f"{action.user.user_id} has no device {action.device_id} that the homeserver knows of. "
                f"/device list {action.user.user_id} shows their devices.")
    return f"Could not {action.describe()} ({error.code}). Try again later."
