"""handlers.ports.PortalAccess on SQLAlchemy: login links and sessions, stored by hash only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from storage.portal_tables import portal_links, portal_sessions


class SqlPortalAccess:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add_link(self, token_hash: str, contact: str, expires_at: datetime, at: datetime) -> None:
        self._conn.execute(portal_links.insert().values(token_hash=token_hash, contact=contact, created_at=at,
                                                        expires_at=expires_at))

    def redeem_link(self, token_hash: str, now: datetime) -> str | None:
        c = portal_links.c
        # One statement marks it used only while it is unused and live: two redemptions racing get one winner.
        used = self._conn.execute(update(portal_links).where(c.token_hash == token_hash, c.used_at.is_(None),
                                                             c.expires_at > now).values(used_at=now))
        if used.rowcount != 1:
            return None
        return self._conn.execute(select(c.contact).where(c.token_hash == token_hash)).scalar_one()

    def live_link(self, token_hash: str, now: datetime) -> str | None:
        c = portal_links.c
        return self._conn.execute(select(c.contact).where(c.token_hash == token_hash, c.used_at.is_(None),
                                                          c.expires_at > now)).scalar_one_or_none()

    def add_session(self, session_hash: str, contact: str, expires_at: datetime, at: datetime) -> None:
        self._conn.execute(portal_sessions.insert().values(session_hash=session_hash, contact=contact, created_at=at,
                                                           expires_at=expires_at))

    def session(self, session_hash: str, now: datetime) -> str | None:
        c = portal_sessions.c
        return self._conn.execute(select(c.contact).where(c.session_hash == session_hash, c.ended_at.is_(None),
                                                          c.expires_at > now)).scalar_one_or_none()

    def end_session(self, session_hash: str, at: datetime) -> None:
        c = portal_sessions.c
        self._conn.execute(update(portal_sessions).where(c.session_hash == session_hash, c.ended_at.is_(None))
                           .values(ended_at=at))

    def end_sessions(self, contact: str, at: datetime) -> int:
        c, links = portal_sessions.c, portal_links.c
        self._conn.execute(portal_links.delete().where(links.contact == contact, links.used_at.is_(None)))
        ended = self._conn.execute(update(portal_sessions).where(c.contact == contact, c.ended_at.is_(None))
                                   .values(ended_at=at))
        return ended.rowcount
