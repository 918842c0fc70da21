from __future__ import annotations

from pathlib import Path

import pytest

from bot.config.settings import settings_from_toml
from bot.runtime.engine import engine_for

ROOT = Path(__file__).resolve().parents[2]


def test_the_database_password_comes_from_its_secret_and_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "config.example.toml").read_text()
    text = text.replace('url = "sqlite:///var/liaison.sqlite"',
                        'url = "postgresql://liaison@db.example.org/liaison"\npassword = { env = "LIAISON_DB_PASSWORD" }')
    monkeypatch.setenv("LIAISON_DB_PASSWORD", "s3cret-Pw")
    settings = settings_from_toml(text, ROOT / "config.toml")
    engine = engine_for(settings)
    try:
        assert engine.url.password == "s3cret-Pw"
        assert "s3cret-Pw" not in repr(engine) and "s3cret-Pw" not in str(engine.url)
    finally:
        engine.dispose()
