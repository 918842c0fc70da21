"""Audit checkpoints posted to the coordinators' room: a second witness outside the database.

The post is an outbox row keyed by the tree size, so a checkpoint published twice (a retry after a
crash) is posted once.
"""

from __future__ import annotations

import base64
from typing import Callable

from alerts.identity import ChatRef
from alerts.messages import MessageKind, OutboundMessage
from alerts.routing import Destination
from handlers.ports import UnitOfWorkFactory
from storage.audit.checkpoints import Checkpoint


def checkpoint_text(checkpoint: Checkpoint) -> str:
    root = base64.b64encode(checkpoint.root_hash).decode()
    signature = base64.b64encode(checkpoint.signature).decode()
    return (
        f"Audit checkpoint: {checkpoint.tree_size} entries, root {root}, "
        f"{checkpoint.created_at:%Y-%m-%d %H:%M:%S} UTC, signed by {checkpoint.key_id}: {signature}"
    )


def room_witness(uow_factory: UnitOfWorkFactory, room: ChatRef) -> Callable[[Checkpoint], None]:
    def publish(checkpoint: Checkpoint) -> None:
        with uow_factory() as uow:
            uow.outbox.enqueue(
                OutboundMessage(
                    key=f"checkpoint:{checkpoint.tree_size}",
                    kind=MessageKind.NOTICE,
                    destination=Destination.chat(room),
                    text=checkpoint_text(checkpoint),
                )
            )
            uow.commit()

    return publish
