"""How the composition root plugs the Matrix connector into a Runtime.

    from bot.connectors.matrix.wiring import matrix_connector_for
    if settings.matrix.enabled:
        add_receiver(runtime, matrix_connector_for(runtime))

`find_delivery` looks a Matrix event id up among delivered items (for reactions and replies), and
`find_approval` among the approval requests sent (a reaction on one approves), `find_sent` among all
it sent (any event a copy became: `record_parts` records a copy's photos and files with its outbox row);
`on_security` writes device-trust and invite decisions to the audit log and tells the admins when an
unverified device blocks deliveries under device_trust = "verified". The admins' /device command is
carried out by this connector (bot/actions/devices.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from alerts.audit import AuditAction, AuditEvent, BOT_ACTOR
from alerts.identity import Platform
from alerts.messages import MessageKind, OutboundMessage, SentMessage
from alerts.roles import Role
from alerts.routing import Destination
from bot.connectors.matrix.connector import (
    FindDelivery,
    MatrixConnector,
    SecurityEvent,
    SecurityHook,
    SecurityKind,
)
from bot.connectors.matrix.errors import UnverifiedDevices
from bot.connectors.matrix.model import FindApproval, PartsOf, RecordParts
from bot.runtime.dbthread import read, write

if TYPE_CHECKING:
    from bot.runtime.app import Runtime



def matrix_connector_for(runtime: Runtime, **options: Any) -> MatrixConnector:
    """The connector for `runtime.settings.matrix`, wired to the runtime's database and directory,
    and carrying out the runtime's /device actions."""
    connector = MatrixConnector.from_settings(
        runtime.settings.matrix,
        runtime.directory,
        find_delivery=delivery_finder(runtime),
        on_security=security_recorder(runtime),
        **options,
    )
    runtime.device_actions.attach(connector.trust, waiting_code=UnverifiedDevices.CODE)
    connector.receiver.awaits_body = runtime.awaits_body
    connector.receiver.find_approval = approval_finder(runtime)
    connector.receiver.find_sent = sent_finder(runtime)
    connector.sender.record_parts = parts_recorder(runtime)
    connector.sender.parts_of = parts_finder(runtime)
    connector.receiver.attachments = runtime.settings.attachments.policy()
    return connector


def delivery_finder(runtime: Runtime) -> FindDelivery:
    async def find(event_id: str) -> tuple[str, str] | None:
        found = await read(runtime, lambda uow: uow.items.delivery_by_message(event_id))
        return (str(found[0]), found[1]) if found else None

    return find


def approval_finder(runtime: Runtime) -> FindApproval:
    async def find(event_id: str) -> str | None:
        return await read(runtime, lambda uow: uow.outbox.approval_by_message(Platform.MATRIX, event_id))

    return find


def sent_finder(runtime: Runtime) -> Callable[[str], Awaitable[SentMessage | None]]:
    async def find(event_id: str) -> SentMessage | None:
        return await read(runtime, lambda uow: uow.outbox.sent_by_message(Platform.MATRIX, event_id))

    return find


def parts_recorder(runtime: Runtime) -> RecordParts:
    """The events an outbox row became, written with the row by the outbox's one path for parts
    (as bot/connectors/telegram/store.py does), so sent_finder finds the row by any of them."""
    async def record(key: str, parts: Sequence[str]) -> None:
        await write(runtime, lambda uow: uow.outbox.record_parts(key, tuple(parts)))

    return record


def parts_finder(runtime: Runtime) -> PartsOf:
    """Every event of the copy the bot sent as an event id, as record_parts recorded them (its photos and
    files, then its text if that went): what superseding or removing the copy redacts."""
    async def find(event_id: str) -> tuple[str, ...]:
        return await read(runtime, lambda uow: uow.outbox.parts_of(Platform.MATRIX, event_id))

    return find


def security_recorder(runtime: Runtime) -> SecurityHook:
    def record(event: SecurityEvent) -> bool:
        now = runtime.clock.now()
        device = event.kind.value.startswith("device-")
        detail = {"event": event.kind.value, "user": event.user_id}
        if event.device_id:
            detail["device"] = event.device_id
        if event.ed25519:
            detail["ed25519"] = event.ed25519
        if event.detail:
            detail["detail"] = event.detail
        told = False
        with runtime.uow_factory() as uow:
            uow.audit.record(AuditEvent(
                action=AuditAction.KEY if device else AuditAction.MEMBERSHIP,
                at=now,
                actor=BOT_ACTOR,
                recipients=(event.user_id,) if event.user_id else (),
                channel=f"matrix:{event.room_id}" if event.room_id else "matrix",
                detail=detail,
            ))
            if event.kind is SecurityKind.DEVICE_BLOCKING:
                text = (f"Matrix: deliveries to {event.room_id} are waiting: {event.user_id} has a device nobody "
                        f"verified ({event.device_id}, key {event.ed25519}). Check the key with its owner, then "
                        f"/device verify {event.user_id} {event.device_id} (or /device blacklist …).")
                for admin in runtime.directory.current().with_role(Role.ADMIN):
                    if admin.identities:
                        uow.outbox.enqueue(OutboundMessage(
                            key=uuid.uuid4().hex, kind=MessageKind.NOTICE,
                            destination=Destination.direct(admin.identities[0]), text=text, contact=admin.id))
                        told = True
            uow.commit()
        return told

    async def hook(event: SecurityEvent) -> None:
        if await runtime.db.run(record, event):
            runtime.worker.wake()

    return hook
