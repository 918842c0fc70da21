"""The digest's and the bulletin's charts on Matrix, on a real Synapse: each is an m.image before its
text, uploaded encrypted in an encrypted room (as an item's photo is) and plain in a plain room."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import pytest
import pytest_asyncio

from alerts.identity import ChatRef, Platform
from alerts.reminder_policy import ReminderPolicy
from bot.portal.chat_charts import PngCharts
from handlers.followup_reminders import ReminderService
from tests.matrix.synapse import Synapse
from tests.matrix.test_matrix_network import World

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.slow]

PNG = b"\x89PNG\r\n\x1a\n"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(synapse: Synapse, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    w = World(synapse, Path(tmp_path_factory.mktemp("matrix-charts")), suffix="-charts")
    await w.setup()
    try:
        yield w
    finally:
        await w.close()


async def test_the_digest_and_the_bulletin_arrive_with_their_charts_as_images(world: World) -> None:
    assert world.bot is not None
    runtime = world.bot.runtime
    # The rounds as the scheduler runs them, with the digest in Thailand's (encrypted) room and the
    # bulletin in the (plain) network room.
    service = ReminderService(runtime.uow_factory, runtime.directory, ReminderPolicy(),
                              digest_room=ChatRef(Platform.MATRIX, world.th_room),
                              bulletin_room=ChatRef(Platform.MATRIX, world.network_room),
                              charts=PngCharts(runtime.uow_factory, runtime.directory))
    now = runtime.clock.now()
    assert await runtime.db.run(service.digest, now, now.date())
    assert await runtime.db.run(service.bulletin, now, date(now.year, now.month, 1))
    runtime.worker.wake()

    def images(room: str) -> list:
        return [e for _, e in world.bot_messages(world.th, room) if e.source["content"].get("msgtype") == "m.image"]

    for room, encrypted, name, text in ((world.th_room, True, f"overdue-{now.date().isoformat()}.png", "Daily digest"),
                                        (world.network_room, False, f"items-by-topic-{now:%Y-%m}.png",
                                         "Monthly bulletin")):
        [image] = await world.th.wait_for(lambda r=room: images(r), what=f"the chart in {room}")
        content = image.source["content"]
        assert content["info"]["mimetype"] == "image/png" and content["body"] == name
        assert ("file" in content) is encrypted and ("url" in content) is not encrypted
        assert (await world.th.fetch_file(image)).startswith(PNG)
        await world.th.wait_for(lambda r=room, t=text: [e for _, e in world.bot_messages(world.th, r)
                                                       if t in getattr(e, "body", "")], what="the text after it")
