"""The bot as a process, as `liaison-bot run` will run it once bot/runtime/app.py wires Matrix:

    python -m tests.matrix.run_bot CONFIG

The test kills it (SIGKILL) mid-stream and starts it again. LIAISON_TEST_TIMELINE_LIMIT sets the sync
timeline limit, small enough that a restart has to fill the gap with /messages.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

from bot.runtime.app import add_receiver, build_runtime
from bot.runtime.serve import serve
from bot.config.settings import load_settings
from bot.connectors.matrix.room_reports import attach_room_admin
from bot.connectors.matrix.wiring import matrix_connector_for


def main() -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s")
    logging.getLogger("nio").setLevel(logging.WARNING)
    logging.getLogger("peewee").setLevel(logging.WARNING)
    logging.getLogger("bot.connectors.matrix").setLevel(logging.DEBUG)
    settings = load_settings(Path(sys.argv[1]))
    runtime = build_runtime(settings)
    limit = int(os.environ.get("LIAISON_TEST_TIMELINE_LIMIT", "50"))
    matrix = matrix_connector_for(runtime, timeline_limit=limit, sync_timeout_ms=5000)
    add_receiver(runtime, matrix)
    attach_room_admin(runtime, matrix)  # as `liaison-bot run`: room safety, so routing may post in encrypted rooms
    asyncio.run(serve(runtime))


if __name__ == "__main__":
    main()
