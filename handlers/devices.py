"""/device list, /device verify and /device blacklist: an admin's decisions on Matrix devices.

Where only verified devices may receive (device_trust = "verified"), a device nobody verified holds
back every delivery to the rooms its owner is in, and the admins are told. An admin then looks at
the owner's devices, checks the key with its owner, and verifies or blacklists it.

The handler checks what it can without the homeserver, records the request in the audit log and
plans the action (an outbox row of kind DEVICE, handlers.ports.DeviceDesk) in the command's
transaction. bot/actions/devices.py carries it out after the commit and gives the one answer, in
the chat the command came from: the devices with their trust and keys, or what was decided. The
decision itself is audited again when the connector makes it (a KEY entry).
"""

from __future__ import annotations

from alerts.audit import AuditAction
from alerts.devices import DeviceAction, DeviceOp
from handlers.commands import DeviceCommand
from handlers.context import CommandContext

NOT_SET_UP = "Device trust is not set up in this deployment: it needs the Matrix connector."


def device(ctx: CommandContext, command: DeviceCommand) -> None:
    desk = ctx.uow.devices
    if desk is None:
        ctx.answer(NOT_SET_UP)
        return
    owner = ctx.directory.contact_for(command.user)
    action = DeviceAction(command.op, command.user, command.device_id, ctx.actor, ctx.channel, ctx.new_key())
    detail = {"command": f"device {command.op.value}", "user": str(command.user)}
    if command.device_id:
        detail["device"] = command.device_id
    # Looking at someone's devices changes nothing, as /rooms; a decision is an administrative act.
    ctx.audit(AuditAction.CONSULTATION if command.op is DeviceOp.LIST else AuditAction.ADMIN,
              recipients=(owner.id,) if owner else (), detail=detail)
    desk.plan(action)
