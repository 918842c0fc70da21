"""The fake Bot API server for each test, on 127.0.0.1 and a free port."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.support import MY_NPOC, OFFICER, STRANGER, TH_NPOC, meet


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # PTB 22 warns, each time Telegram answers 429, that retry_after will become a timedelta;
    # bot.connectors.telegram.errors handles both forms (and filters it outside the tests).
    for item in items:
        if "tests/telegram" in str(item.path):
            item.add_marker(pytest.mark.filterwarnings("ignore:.*retry_after.*:DeprecationWarning"))


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotApi]:
    server = FakeBotApi()
    await server.start()
    meet(server, OFFICER, TH_NPOC, MY_NPOC, STRANGER)
    try:
        yield server
    finally:
        await server.close()
