"""The digest's and the bulletin's charts as PNG for chat: drawn from the same numbers as the portal's
statistics page, the same bytes for the same numbers, and different when the numbers differ."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from alerts.attachments import size_text
from alerts.identity import ChatRef
from alerts.messages import Attachment
from alerts.reminder_policy import ReminderPolicy
from bot.connectors.console import ConsoleConnector
from bot.portal.chat_charts import bulletin_chart_png, digest_chart_png
from bot.scheduling.scheduler import reminder_service
from handlers.followup_reminders import ReminderService
from tests.fakes import MemoryUnitOfWork
from tests.portal.world import PortalWorld
from tests.unit.test_reminder_service import ReminderBot

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def world(tmp_path: Path) -> Iterator[PortalWorld]:
    with PortalWorld(tmp_path) as world:
        yield world


def charts(world: PortalWorld) -> tuple[bytes, bytes]:
    with world.runtime.uow_factory(read_only=True) as uow:
        directory, now = world.runtime.directory.current(), world.clock.now()
        return digest_chart_png(uow, directory, now), bulletin_chart_png(uow, "2026-11", now)


def test_the_digest_and_bulletin_charts_are_png_that_follow_the_numbers(world: PortalWorld) -> None:
    empty_digest, empty_bulletin = charts(world)
    assert empty_digest.startswith(PNG) and empty_bulletin.startswith(PNG)
    assert charts(world) == (empty_digest, empty_bulletin)  # the same numbers draw the same bytes
    world.say("my-officer", "/alert to:TH tlp:amber topic:document-fraud\nForged visas")
    world.advance(timedelta(days=3))  # unanswered: overdue at the end of the days since
    digest, bulletin = charts(world)
    assert digest.startswith(PNG) and bulletin.startswith(PNG)
    assert digest != empty_digest and bulletin != empty_bulletin
    with world.runtime.uow_factory(read_only=True) as uow:  # a month before any item: no bar of November
        assert bulletin_chart_png(uow, "2026-10", world.clock.now()) != bulletin


def test_the_digest_and_bulletin_link_to_the_portals_charts_only_while_it_is_served() -> None:
    served: list[str | None] = [None]
    bot = ReminderBot()
    bot.service = ReminderService(lambda: MemoryUnitOfWork(bot.store), bot.directory_source, ReminderPolicy(),
                                  digest_room=ChatRef.parse("console:#coordination"),
                                  bulletin_room=ChatRef.parse("console:#network"), portal_url=lambda: served[0])
    bot.says("my-officer", "/alert to:TH tlp:amber topic:document-fraud\nForged visas")
    now = bot.clock.now()
    assert bot.service.digest(now, now.date())
    [digest] = bot.store.messages_to("chat:console:#coordination")
    assert "Charts" not in digest.text and "http" not in digest.text
    served[0] = "https://portal.example.org/"
    assert bot.service.digest(now, now.date() + timedelta(days=1))
    assert bot.service.bulletin(now, now.date().replace(day=1))
    digest = bot.store.messages_to("chat:console:#coordination")[-1]
    [bulletin] = bot.store.messages_to("chat:console:#network")
    assert digest.text.endswith("Charts (coordinators, admins and auditors): https://portal.example.org/stats")
    assert bulletin.text.endswith(": https://portal.example.org/stats?period=2026-11")


def test_the_digest_and_bulletin_carry_their_charts_which_the_console_names_with_their_size(
        world: PortalWorld) -> None:
    world.say("my-officer", "/alert to:TH tlp:amber topic:document-fraud\nForged visas")
    world.advance(timedelta(days=3))
    service = reminder_service(world.runtime)  # as the scheduler's jobs run it
    now = world.clock.now()
    assert world.runtime.settings.reminders.digest_room == ChatRef.parse("console:#coordination")
    assert world.call(world.runtime.db.run(service.digest, now, now.date()))
    assert world.call(world.runtime.db.run(service.bulletin, now, now.date().replace(day=1)))
    world.call(world.runtime.settle())
    digest, bulletin = (next(m for m in world.sink.sent if start in m.text.split("\n")[0])
                        for start in ("Daily digest", "Monthly bulletin"))
    with world.runtime.uow_factory(read_only=True) as uow:  # the very charts of their numbers
        assert [f.data for f in digest.attachments] == [digest_chart_png(uow, world.runtime.directory.current(), now)]
        assert [f.data for f in bulletin.attachments] == [bulletin_chart_png(uow, f"{now:%Y-%m}", now)]
    [chart] = digest.attachments
    assert chart.name == f"overdue-{now.date().isoformat()}.png" and chart.mime == "image/png"
    out = io.StringIO()
    world.call(ConsoleConnector(world.runtime.directory, out).send(digest))
    assert f"│ [attachment: overdue-{now.date().isoformat()}.png, image/png, {size_text(chart.size)}]" in out.getvalue()
    assert world.runtime.portal_url and digest.text.endswith(f"{world.runtime.portal_url.rstrip('/')}/stats")  # kept


class BrokenCharts:
    """Charts that cannot be drawn, with content in the error: it must reach neither a log nor a chat."""

    def digest(self, now: datetime, day: date) -> list[Attachment]:
        raise RuntimeError("Forged visas A-2026-0001")

    def bulletin(self, month: str, now: datetime) -> list[Attachment]:
        return [Attachment("broken.png", "image/png", 10)]  # no bytes


def test_charts_that_cannot_be_drawn_never_stop_the_digest_or_the_bulletin(caplog: pytest.LogCaptureFixture) -> None:
    bot = ReminderBot()
    bot.service = ReminderService(lambda: MemoryUnitOfWork(bot.store), bot.directory_source, ReminderPolicy(),
                                  digest_room=ChatRef.parse("console:#coordination"),
                                  bulletin_room=ChatRef.parse("console:#network"), charts=BrokenCharts(),
                                  error_ref=lambda: "ERR-CHART1")
    bot.says("my-officer", "/alert to:TH tlp:amber topic:document-fraud\nForged visas")
    now = bot.clock.now()
    with caplog.at_level(logging.DEBUG):
        assert bot.service.digest(now, now.date())
        assert bot.service.bulletin(now, now.date().replace(day=1))
    [digest] = bot.store.messages_to("chat:console:#coordination")
    [bulletin] = bot.store.messages_to("chat:console:#network")
    assert digest.text.startswith("Daily digest") and digest.files == ()
    assert "Monthly bulletin" in bulletin.text.split("\n")[0] and bulletin.files == ()
    assert "the digest's charts could not be drawn (RuntimeError)" in caplog.text
    assert "the bulletin's charts could not be drawn (ValueError)" in caplog.text
    assert caplog.text.count("ERR-CHART1") == 2 and "Forged" not in caplog.text and "A-2026" not in caplog.text
