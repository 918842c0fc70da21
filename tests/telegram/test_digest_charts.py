"""The coordinators' daily digest and the monthly bulletin on Telegram, against the fake Bot API: each
carries its chart as a photo (sendPhoto, the text as its caption), protected as its text is; a digest
queued while Telegram cannot take it still brings its chart after a restart."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from bot.config.settings import Settings, settings_from_data
from bot.scheduling.scheduler import reminder_service
from storage.tables import outbox_files
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.support import NETWORK_GROUP, OFFICER, Bot, config_data, eventually, relaxed, running_bot

PNG = b"\x89PNG\r\n\x1a\n"
GROUP = f"telegram:{NETWORK_GROUP.id}"


def digest_in_the_group(tmp_path, fake: FakeBotApi, portal: bool = True) -> Settings:  # noqa: ANN001
    data = config_data(tmp_path, fake.base_url)
    data["portal"]["enabled"] = portal
    data["reminders"]["digest_room"] = GROUP
    data["reminders"]["bulletin_room"] = GROUP
    return settings_from_data(data, tmp_path / "config.toml")


def photos_to(fake: FakeBotApi, chat_id: int) -> list:
    return [s for s in fake.sent_to(chat_id) if s.media == "photo"]


async def alert_and_digest(bot: Bot, fake: FakeBotApi) -> None:
    fake.says(OFFICER, "/alert to:TH tlp:amber topic:document-fraud\nForged visas")
    await eventually(lambda: any("accepted" in s.text for s in fake.sent_to(OFFICER.id)), "the receipt")
    service = reminder_service(bot.runtime)  # what the scheduler's digest job runs
    now = bot.runtime.clock.now()
    assert await bot.runtime.db.run(service.digest, now, now.date())
    bot.runtime.worker.wake()


async def test_the_digest_and_the_bulletin_each_carry_their_chart_as_a_photo(tmp_path, fake, monkeypatch) -> None:
    settings = digest_in_the_group(tmp_path, fake)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings) as bot:
        await alert_and_digest(bot, fake)
        await eventually(lambda: photos_to(fake, NETWORK_GROUP.id), "the digest's chart")
        [chart] = photos_to(fake, NETWORK_GROUP.id)
        assert chart.file.startswith(PNG)
        assert chart.text.startswith("Daily digest, ")  # the digest's text is the photo's caption
        assert chart.protect_content is False  # as the digest's text: not a protected item
        service = reminder_service(bot.runtime)
        now = bot.runtime.clock.now()
        assert await bot.runtime.db.run(service.bulletin, now, date(now.year, now.month, 1))
        bot.runtime.worker.wake()
        await eventually(lambda: len(photos_to(fake, NETWORK_GROUP.id)) == 2, "the bulletin's chart")
        bulletin = photos_to(fake, NETWORK_GROUP.id)[1]
        assert bulletin.file.startswith(PNG) and bulletin.file != chart.file
        assert f"{now:%B %Y}" in "".join(s.text for s in fake.sent_to(NETWORK_GROUP.id)[1:])
        await eventually(lambda: bot.count(outbox_files) == 0, "the charts removed once sent")


async def test_a_digest_queued_before_a_restart_brings_its_chart_after_it(tmp_path, fake, monkeypatch) -> None:
    settings = digest_in_the_group(tmp_path, fake)
    fake.fail_next("sendPhoto", 502, chat_id=NETWORK_GROUP.id, times=1000)  # Telegram down for the group
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings) as bot:
        await alert_and_digest(bot, fake)
        await eventually(lambda: any(r.method == "sendPhoto" for r in fake.requests), "a first try")
        with bot.runtime.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(outbox_files)).scalar_one() == 1
    assert not photos_to(fake, NETWORK_GROUP.id)
    fake.faults.clear()
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings):
        await eventually(lambda: photos_to(fake, NETWORK_GROUP.id), "the chart after the restart")
        [chart] = photos_to(fake, NETWORK_GROUP.id)
        assert chart.file.startswith(PNG) and chart.text.startswith("Daily digest, ")


async def test_without_the_portal_the_digest_still_carries_its_chart(tmp_path, fake, monkeypatch) -> None:
    # The README's word: the charts go with the messages as images, portal or not.
    settings = digest_in_the_group(tmp_path, fake, portal=False)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings) as bot:
        assert bot.runtime.portal_url is None
        await alert_and_digest(bot, fake)
        await eventually(lambda: photos_to(fake, NETWORK_GROUP.id), "the digest's chart")
        [chart] = photos_to(fake, NETWORK_GROUP.id)
        assert chart.file.startswith(PNG) and chart.text.startswith("Daily digest, ")
        assert "Charts (coordinators" not in chart.text  # no link to a portal that is not served
