"""[health], [logging] and [failover]: defaults, values, and one clear line per mistake."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config.settings import ConfigError, settings_from_toml
from bot.config.ops import LogFormat, LogLevel

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "config.example.toml").read_text()


def load(extra: str):  # noqa: ANN201
    return settings_from_toml(EXAMPLE + "\n" + extra, ROOT / "config.toml")


def test_defaults_of_the_example() -> None:
    settings = load("")
    assert not settings.health.enabled and settings.health.listen == "127.0.0.1:9464"
    assert settings.logging.format is LogFormat.TEXT and settings.logging.level is LogLevel.INFO
    assert settings.failover.enabled and settings.failover.poll == timedelta(seconds=1)


def test_values() -> None:
    settings = load('[health]\nenabled = true\nlisten = "[::1]:9100"\nmax_outbox_age = "5m"\n'
                    '[logging]\nformat = "json"\nlevel = "debug"\n'
                    '[failover]\nenabled = false\npoll = "2s"\nkeepalive = "3s"\n')
    assert settings.health.enabled and settings.health.host == "::1" and settings.health.port == 9100
    assert settings.health.listen == "[::1]:9100" and settings.health.max_outbox_age == timedelta(minutes=5)
    assert settings.logging.format is LogFormat.JSON and settings.logging.level is LogLevel.DEBUG
    assert not settings.failover.enabled and settings.failover.keepalive == timedelta(seconds=3)
    assert settings.warnings == ()


def test_listening_beyond_this_machine_is_a_warning() -> None:
    settings = load('[health]\nenabled = true\nlisten = "0.0.0.0:9464"\n')
    assert any("health.listen" in w and "no authentication" in w for w in settings.warnings)


@pytest.mark.parametrize("extra, expected", [
    ('[health]\nlisten = "9464"\n', "health.listen: expected an address like"),
    ('[health]\nlisten = "metrics.example.org:9464"\n', "the host must be an IP address"),
    ('[logging]\nformat = "xml"\n', 'logging.format: expected one of "text", "json"'),
    ('[failover]\npoll = "5m"\n', "failover.poll: expected a duration from 1s to 1m"),
    ('[failover]\nkeep_alive = "1s"\n', "failover.keep_alive: unknown key (did you mean keepalive?)"),
])
def test_mistakes_are_named(extra: str, expected: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(extra)
    assert expected in str(raised.value)
