"""/portal: a one-time login link to the web portal, given only in a direct chat.

The link is good once, for a few minutes, and only for the person who asked: it opens a session as
them (bot/portal/). Only the token's SHA-256 is stored, so neither the database nor a backup of it
can log anyone in; the token itself is in the asker's direct chat alone, never in a shared one.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from alerts.audit import AuditAction
from handlers.context import CommandContext
from handlers.coordination import in_direct_chat
from handlers.followup import sender_of

LOGIN_PATH = "/login/"


def token_hash(token: str) -> str:
    """What is stored of a token (a link's or a session's): its SHA-256, in hex. The tokens are 256
    random bits, so a plain hash cannot be searched back to one."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class PortalPolicy:
    """Where the portal is and how long a link lives. `base_url` gives its public address as people's
    browsers reach it, or None while it is not being served (its port could not be bound)."""

    base_url: Callable[[], str | None]
    link_lifetime: timedelta = timedelta(minutes=5)
    new_token: Callable[[], str] = field(default=new_token)


def portal_link(ctx: CommandContext, policy: PortalPolicy | None) -> None:
    if policy is None:
        ctx.answer("The web portal is not enabled on this network. Ask an admin ([portal] in the configuration).")
        return
    base_url = policy.base_url()
    if base_url is None:
        ctx.answer("The web portal is not running right now. Tell an admin; try /portal again later.")
        return
    if not in_direct_chat(ctx):
        ctx.answer("Ask for a portal link in your direct chat with the bot: a login link is for you alone, "
                   "never for a shared chat. Example: /portal")
        return
    me = sender_of(ctx)
    token = policy.new_token()
    ctx.uow.portal.add_link(token_hash(token), me.id, ctx.now + policy.link_lifetime, ctx.now)
    ctx.audit(AuditAction.CONSULTATION, detail={"command": "portal", "view": "login link issued"})
    minutes = max(1, int(policy.link_lifetime.total_seconds() // 60))
    ctx.answer(f"Your portal login link, for you alone: it works once, within {minutes} minutes.\n"
               f"{base_url.rstrip('/')}{LOGIN_PATH}{token}\n"
               "Do not forward it. Ask /portal again for a new one.")
