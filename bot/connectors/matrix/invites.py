"""Invites to the bot, answered during each sync round.

Which are accepted is sansio/rooms.invite_decision's to say (a registered room; an admin or
coordinator; a direct chat from any directory contact); anything else is rejected. Both outcomes go
to the security hook (the lead audits them).
"""

from __future__ import annotations

import logging

from nio import InviteMemberEvent, SyncResponse

from bot.connectors.errors import PlatformError
from bot.connectors.matrix.core import Session
from bot.connectors.matrix.model import SecurityEvent, SecurityKind
from bot.connectors.matrix.sansio.rooms import invite_decision
from handlers.ports import DirectorySource

log = logging.getLogger(__name__)


class Invites:
    def __init__(self, session: Session, directory: DirectorySource, direct_inviters: dict[str, str]) -> None:
        self._session = session
        self._directory = directory
        self._direct_inviters = direct_inviters  # the Receiver's: it reads the inviter's first messages
        self._done: set[str] = set()

    async def handle(self, response: SyncResponse) -> None:
        for room_id, info in response.rooms.invite.items():
            if room_id in self._done:
                continue
            inviter, is_direct = None, False
            for event in info.invite_state:
                # nio moves an invite member event's content out of its source, into .content
                if isinstance(event, InviteMemberEvent) and event.state_key == self._session.user_id:
                    inviter = event.sender
                    is_direct = bool((event.content or {}).get("is_direct"))
            accept, why = invite_decision(self._directory.current(), room_id, inviter, is_direct)
            self._done.add(room_id)
            try:
                if accept:
                    if is_direct and inviter:
                        self._direct_inviters[room_id] = inviter
                    await self._session.join(room_id)
                else:
                    assert self._session.client is not None
                    await self._session.call(self._session.client.room_leave(room_id), "reject invite",
                                             request_sent=True)
            except PlatformError as error:
                log.warning("Matrix: answering the invite to %s failed: %s", room_id, error)
                self._done.discard(room_id)
                continue
            kind = SecurityKind.INVITE_ACCEPTED if accept else SecurityKind.INVITE_REFUSED
            log.info("Matrix: invite to %s from %s %s (%s)", room_id, inviter, kind.value, why)
            await self._session.security(SecurityEvent(kind, inviter or "", room_id=room_id, detail=why))
