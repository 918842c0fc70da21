"""A bot in a folder of its own (config.example.toml, its SQLite file or a PostgreSQL database, its
keys), built by bot.runtime.app.build_runtime, with a sink that records what it was asked to send."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from alerts.clock import Clock
from alerts.identity import Platform
from bot.runtime.app import Runtime, build_runtime
from bot.config.settings import load_settings
from bot.connectors.base import Outgoing
from tests.ops.failover_pair import write_config


class RecordingSink:
    """A platform that accepts everything and keeps what it got (keys, texts) for the assertions."""

    platform = Platform.CONSOLE

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> str:
        self.sent.append(message)
        return f"sink-{message.key}"


def bot_runtime(config: Path, clock: Clock | None = None) -> tuple[Runtime, RecordingSink]:
    runtime = build_runtime(load_settings(config), out=io.StringIO(), clock=clock, notice=io.StringIO())
    sink = RecordingSink()
    runtime.connectors[Platform.CONSOLE] = sink  # the worker holds the same dict
    return runtime, sink


@pytest.fixture
def bot_config(tmp_path: Path) -> Path:
    """config.example.toml in a folder of its own, on SQLite."""
    return write_config(tmp_path, None)
