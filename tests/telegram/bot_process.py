"""`liaison-bot run` with the Telegram connector, as a process the crash test can kill.

    python -m tests.telegram.bot_process SETTINGS.json

SETTINGS.json is tests.telegram.support.config_data(...) as JSON; the token is in the environment.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from pathlib import Path

from bot.runtime.app import add_receiver, build_runtime, vocabulary_for
from bot.runtime.serve import serve
from bot.config.settings import settings_from_data
from bot.connectors.telegram import telegram_connector_for
from tests.telegram.support import generous_limiter


def main(path: str) -> None:
    settings = settings_from_data(json.loads(Path(path).read_text(encoding="utf-8")), Path(path).with_suffix(".toml"))
    runtime = build_runtime(settings, out=io.StringIO(), notice=io.StringIO())
    connector = telegram_connector_for(runtime, vocabulary_for(settings), limiter=generous_limiter(), poll_timeout=1)
    add_receiver(runtime, connector)
    asyncio.run(serve(runtime))


if __name__ == "__main__":
    main(sys.argv[1])
