"""The database engine from the settings: the password, when there is one, comes from its secret."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from bot.config.settings import Settings
from storage.db import create_engine_for


def engine_for(settings: Settings) -> Engine:
    url = settings.storage.url
    if settings.storage.password is not None:
        # Kept in the engine's URL (in memory only; SQLAlchemy masks it in reprs and logs), so the
        # scheduler's and the instance lock's own engines, built from that URL, connect too.
        url = make_url(url).set(password=settings.storage.password.read()).render_as_string(hide_password=False)
    return create_engine_for(url)
