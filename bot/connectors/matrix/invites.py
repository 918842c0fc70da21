"""Invites to the bot, answered during each sync round.

Accepted from a room registered in the directory, from a directory contact with the admin or
coordinator role, or, for a direct chat (is_direct), from any directory contact. Anything else is
rejected. Both outcomes go to the security hook (the lead audits them).
"""

from __future__ import annotations

import logging

from nio import InviteMemberEvent, SyncResponse

from alerts.identity import ChatRef, Platform, UserRef
from alerts.roles import Role
from bot.connectors.matrix.core import ConnectorCore
from bot.connectors.matrix.model import SecurityEvent, SecurityKind
from bot.connectors.errors import PlatformError

log = logging.getLogger(__name__)


class Invites(ConnectorCore):
    async def _handle_invites(self, response: SyncResponse) -> None:
        for room_id, info in response.rooms.invite.items():
            if room_id in self._invites_done:
                continue
            inviter, is_direct = None, False
            for event in info.invite_state:
                # nio moves an invite member event's content out of its source, into .content
                if isinstance(event, InviteMemberEvent) and event.state_key == self._user_id:
                    inviter = event.sender
                    is_direct = bool((event.content or {}).get("is_direct"))
            accept, why = self._invite_allowed(room_id, inviter, is_direct)
            self._invites_done.add(room_id)
            try:
                if accept:
                    if is_direct and inviter:
                        self._direct_inviters[room_id] = inviter
                    await self._join(room_id)
                else:
                    assert self.client is not None
                    await self._call(self.client.room_leave(room_id), "reject invite", request_sent=True)
            except PlatformError as error:
                log.warning("Matrix: answering the invite to %s failed: %s", room_id, error)
                self._invites_done.discard(room_id)
                continue
            kind = SecurityKind.INVITE_ACCEPTED if accept else SecurityKind.INVITE_REFUSED
            log.info("Matrix: invite to %s from %s %s (%s)", room_id, inviter, kind.value, why)
            await self._security(SecurityEvent(kind, inviter or "", room_id=room_id, detail=why))

    def _invite_allowed(self, room_id: str, inviter: str | None, is_direct: bool) -> tuple[bool, str]:
        directory = self._directory.current()
        if directory.room(ChatRef(Platform.MATRIX, room_id)) is not None:
            return True, "a registered room"
        contact = None
        if inviter:
            try:
                contact = directory.contact_for(UserRef.parse(f"matrix:{inviter}"))
            except ValueError:
                contact = None
        if contact is None:
            return False, "neither a registered room nor an inviter in the directory"
        if contact.has(Role.ADMIN) or contact.has(Role.COORDINATOR):
            return True, f"invited by {contact.id} ({'admin' if contact.has(Role.ADMIN) else 'coordinator'})"
        if is_direct:
            return True, f"a direct chat with {contact.id}"
        return False, f"{contact.id} may only open a direct chat with the bot; rooms are added by admins"
