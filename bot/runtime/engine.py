"""The database engine from the settings: the password, when there is one, comes from its secret."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from bot.config.settings import Settings
from storage.db import create_engine_for, open_existing


def engine_for(settings: Settings, *, existing: bool = False) -> Engine:
    """`existing`: only a database that is there and holds the bot's tables (storage.db.open_existing,
    raising NoDatabase and creating nothing); else one is made where the settings put it."""
    url = settings.storage.url
    if settings.storage.password is not None:
        # Kept in the engine's URL (in memory only; SQLAlchemy masks it in reprs and logs), so the
        # scheduler's and the instance lock's own engines, built from that URL, connect too.
        url = make_url(url).set(password=settings.storage.password.read()).render_as_string(hide_password=False)
    return open_existing(url) if existing else create_engine_for(url)
