"""Audit checkpoints posted to the coordinators' room: a second witness outside the database.

The post is an outbox row keyed by the tree size, so a checkpoint published twice (a retry after a
crash) is posted once. A witness room on a platform the bot does not run would keep it waiting
forever: it goes to the admins instead, headed by one line saying so, and nothing is queued for the
room (logged when no admin can be told either).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Set as AbstractSet
from typing import Callable, Sequence

from alerts.identity import ChatRef, Platform
from alerts.messages import MessageKind, OutboundMessage
from alerts.reachability import configured_room_not_run
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


log = logging.getLogger(__name__)


def room_witness(uow_factory: UnitOfWorkFactory, room: ChatRef, platforms: AbstractSet[Platform] | None = None,
                 admins: Callable[[], Sequence[tuple[Destination, str | None]]] = lambda: ()
                 ) -> Callable[[Checkpoint], None]:
    """`platforms`: those the bot runs (None: every one), a live view; `admins`: where admins are
    told things (bot.runtime.admins), for a room on a platform not run."""
    def publish(checkpoint: Checkpoint) -> None:
        key, text = f"checkpoint:{checkpoint.tree_size}", checkpoint_text(checkpoint)
        aside = configured_room_not_run("witness room", room, platforms)
        if aside is None:
            posts = [OutboundMessage(key=key, kind=MessageKind.NOTICE, destination=Destination.chat(room), text=text)]
        else:
            posts = [OutboundMessage(key=f"{key}:admins:{n}", kind=MessageKind.NOTICE, destination=destination,
                                     text=f"{aside}\n{text}", contact=contact)
                     for n, (destination, contact) in enumerate(admins())]
            if not posts:
                log.warning("the witness room is on a platform this bot does not run and no admin can be told (no "
                            "management room or admin chat on a connected platform): %s not posted", key)
        with uow_factory() as uow:
            uow.outbox.enqueue_many(posts)
            uow.commit()

    return publish
