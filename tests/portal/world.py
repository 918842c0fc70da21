"""A bot with its web portal, running in a thread of its own (its own event loop), so that blocking
clients (Selenium driving Chromium, urllib) can talk to it from the test's thread.

    with PortalWorld(tmp_path) as world:
        world.say("my-officer", "/alert to:TH tlp:red topic:document-fraud Body")
        url = world.login_link("rso-coordinator")
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import re
import threading
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

from alerts.clock import ManualClock
from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import InboundMessage
from bot.config.portal import PortalSettings
from bot.config.settings import load_settings
from bot.portal.server import PortalServer, start_portal
from bot.runtime.app import Runtime, build_runtime
from tests.ops.conftest import RecordingSink
from tests.ops.failover_pair import write_config

T = TypeVar("T")
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/login/[A-Za-z0-9_-]+)")


class PortalWorld:
    def __init__(self, workdir: Path, database_url: str | None = None, **portal: Any) -> None:
        config = write_config(workdir, database_url)
        settings = load_settings(config)
        # The pages are about items as delivered: a TLP:RED one is not held for a second person's release.
        self.settings = dataclasses.replace(
            settings, portal=PortalSettings(**{"enabled": True, "listen": "127.0.0.1:0", **portal}),
            release=dataclasses.replace(settings.release, required=()))
        self.clock = ManualClock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="portal-world", daemon=True)
        self.runtime: Runtime
        self.portal: PortalServer
        self.sink = RecordingSink()
        self._n = 0

    def __enter__(self) -> PortalWorld:
        self._thread.start()
        self.call(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.call(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=120)

    async def _start(self) -> None:
        self.runtime = build_runtime(self.settings, out=io.StringIO(), clock=self.clock, notice=io.StringIO())
        self.runtime.connectors[Platform.CONSOLE] = self.sink
        portal = await start_portal(self.runtime, self.settings.portal)
        assert portal is not None
        self.portal = portal
        self.runtime.portal_url = portal.base_url

    async def _stop(self) -> None:
        await self.portal.close()
        await self.runtime.close()

    @property
    def url(self) -> str:
        """Where the portal listens (its public URL may be a reverse proxy's that does not exist here)."""
        return f"http://127.0.0.1:{self.portal.port}"

    def say(self, sender: str, text: str, chat: str | None = None) -> list[str]:
        """`sender` types `text` (in their direct chat unless `chat`); what the bot sent back to that chat."""
        self._n += 1
        where = ChatRef.parse(chat) if chat else ChatRef(Platform.CONSOLE, "@" + sender)
        message = InboundMessage(f"portal-test-{self._n}", UserRef(Platform.CONSOLE, sender), where, text,
                                 self.clock.now())
        before = len(self.sink.sent)
        self.call(self.runtime.submit(message))
        return [m.text for m in self.sink.sent[before:] if str(m.destination).endswith(str(where))]

    def login_link(self, contact: str) -> str:
        answers = self.say(contact, "/portal")
        found = [m.group(1) for a in answers if (m := LINK.search(a))]
        assert found, answers
        return found[-1]

    def advance(self, span: timedelta) -> None:
        self.clock.advance(span)
