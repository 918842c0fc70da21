"""Photos and files on Telegram, against the fake Bot API: a captioned photo is an alert with an
attachment, fetched with getFile and sent on with sendPhoto under the item's caveat; past the
configured limits nothing is routed; a 429 on sendPhoto is retried; a RED item's notice has no file;
an escalation to a backup carries the photo with the item."""

from __future__ import annotations

import io
import logging
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from alerts.items import Reference
from bot.config.settings import settings_from_data
from bot.runtime.keys import ensure_keyring
from handlers.followup_reminders import ReminderService
from storage.content import inbox_aad, open_json
from storage.sealing import CaseKeySealer
from storage.tables import attachments, inbox
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.fake_bot_state import User
from tests.telegram.support import (MY_NPOC, OFFICER, TH_NPOC, config_data, eventually, meet, relaxed, running_bot,
                                    settings_for)

PHOTO = bytes(range(256)) * 40 + b"passport page 2"  # some bytes; the fake does not look inside
CAPTION = "/alert to:TH tlp:amber topic:document-fraud\nAltered passport, page 2: see the laminate"


def photos_to(fake: FakeBotApi, chat_id: int) -> list:
    return [s for s in fake.sent_to(chat_id) if s.media == "photo"]


async def test_a_captioned_photo_is_an_alert_and_reaches_thailand_as_a_protected_photo(tmp_path, fake, monkeypatch,
                                                                                       caplog) -> None:
    caplog.set_level(logging.DEBUG)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.sends_photo(OFFICER, PHOTO, CAPTION)
        await eventually(lambda: photos_to(fake, TH_NPOC.id), "the photo to Thailand")
        [photo] = photos_to(fake, TH_NPOC.id)
        assert photo.file == PHOTO  # the largest size was fetched, not the thumbnail
        assert photo.text.startswith("[TLP:AMBER] document-fraud · from Malaysia\n") and "\nA-2026-0001 · " in photo.text
        assert "Altered passport, page 2" in photo.text  # the caption is the body
        assert photo.protect_content  # AMBER: as its text would be
        assert [label for label, _ in photo.buttons()] == ["Acknowledge", "Reply", "Snooze…"]
        assert [r.method for r in fake.requests].count("getFile") == 1
        await eventually(lambda: any("accepted" in s.text for s in fake.sent_to(OFFICER.id)), "the receipt")
        with bot.runtime.engine.connect() as conn:
            [row] = conn.execute(select(attachments)).all()
        assert row.item_reference == "A-2026-0001" and row.size == len(PHOTO)
        assert PHOTO[:64] not in bytes(row.data) and b"passport page 2" not in bytes(row.data)  # sealed at rest
    logged = caplog.text
    assert logged and "photo-" not in logged and "Altered passport" not in logged and "passport page" not in logged


async def test_a_long_body_follows_the_photo_as_a_text_message(tmp_path, fake, monkeypatch) -> None:
    long_body = "Details of the alteration. " * 60  # past the 1024 characters of a caption
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)):
        fake.sends_photo(OFFICER, PHOTO, f"/alert to:TH tlp:green\n{long_body}")
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 2, "the photo and the text")
        photo, text = fake.sent_to(TH_NPOC.id)[:2]
        assert photo.media == "photo" and photo.text == "" and photo.file == PHOTO
        assert text.media is None and "Details of the alteration." in text.text
        assert not photo.protect_content and not text.protect_content  # GREEN
        assert [label for label, _ in text.buttons()] == ["Acknowledge", "Reply", "Snooze…"]


async def test_a_pdf_goes_as_a_document(tmp_path, fake, monkeypatch) -> None:
    pdf = b"%PDF-1.4 manifest " * 100
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)):
        fake.sends_document(OFFICER, pdf, "manifest.pdf", "application/pdf", "/alert to:TH tlp:amber\nManifest XX123")
        await eventually(lambda: fake.sent_to(TH_NPOC.id), "the file to Thailand")
        [document] = fake.sent_to(TH_NPOC.id)
        assert (document.media, document.file_name, document.file) == ("document", "manifest.pdf", pdf)
        assert document.protect_content


async def test_too_large_or_of_another_type_is_refused_and_routes_nothing(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.sends_document(OFFICER, b"x" * 100, "scan.pdf", "application/pdf", "/alert to:TH tlp:amber\nScan",
                            size=25_000_000)  # as Telegram says: never fetched
        fake.sends_document(OFFICER, b"PK\x03\x04", "bundle.zip", "application/zip", "/alert to:TH tlp:amber\nZip")
        await eventually(lambda: len(fake.sent_to(OFFICER.id)) >= 2, "both answers")
        large, zipped = (s.text for s in fake.sent_to(OFFICER.id)[:2])
        assert large.startswith("Not sent: the attachment scan.pdf is 25.0 MB; accepted: up to 10.0 MB each")
        assert zipped.startswith("Not sent: the attachment bundle.zip is of type application/zip")
        assert "image/jpeg" in zipped and "application/pdf" in zipped
        assert [r.method for r in fake.requests].count("getFile") == 0
        assert fake.sent_to(TH_NPOC.id) == [] and bot.items() == 0
        assert [r["reason"].split(":")[0] for r in bot.refusals()] == ["attachments", "attachments"]


async def test_a_429_on_send_photo_is_retried_and_the_photo_arrives_once(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.fail_next("sendPhoto", 429, retry_after=1, chat_id=TH_NPOC.id)
        fake.sends_photo(OFFICER, PHOTO, CAPTION)
        await eventually(lambda: photos_to(fake, TH_NPOC.id), "the photo after the 429")
        assert [r.status for r in fake.requests if r.method == "sendPhoto"] == [429, 200]
        await eventually(lambda: bot.outbox_states().get("pending", 0) == 0 and not bot.outbox_states().get("sending"),
                         "the outbox settled")
        assert len(photos_to(fake, TH_NPOC.id)) == 1


async def test_a_red_photo_gives_a_telegram_recipient_only_the_notice(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC, MY_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)):
        fake.sends_photo(OFFICER, PHOTO, "/alert to:@th-npoc tlp:red\nInformant's photo of the forger")
        await eventually(lambda: any("is held" in s.text for s in fake.sent_to(OFFICER.id)), "the held receipt")
        fake.says(MY_NPOC, "/approve A-2026-0001")  # TLP:RED waits for a second person's release
        await eventually(lambda: fake.sent_to(TH_NPOC.id), "the notice to Thailand")
        await eventually(lambda: any(s.text.startswith("Approved: A-2026-0001") for s in fake.sent_to(MY_NPOC.id)),
                         "the approval")
        [notice] = fake.sent_to(TH_NPOC.id)
        assert notice.media is None and "awaits you" in notice.text
        assert not any(s.media for s in fake.sent)


async def test_a_photo_with_a_command_that_takes_none_is_refused(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)):
        fake.sends_photo(OFFICER, PHOTO, "/whoami")
        await eventually(lambda: fake.sent_to(OFFICER.id), "the answer")
        assert fake.sent_to(OFFICER.id)[0].text.startswith("Not done: /whoami takes no attachment.")


async def test_a_photo_sent_as_a_reply_to_a_delivery_reaches_the_originator_with_the_feedback(tmp_path, fake,
                                                                                              monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, "/alert to:TH tlp:amber topic:document-fraud\nIs this passport known to you?")
        await eventually(lambda: fake.sent_to(TH_NPOC.id), "the delivery to Thailand")
        delivery = fake.sent_to(TH_NPOC.id)[0]
        await eventually(lambda: bot.recorded(TH_NPOC.id, delivery.message_id), "the delivery recorded")
        record = PHOTO[::-1]
        fake.sends_photo(TH_NPOC, record, "Yes: our record of it, issued 2019", reply_to=delivery)
        await eventually(lambda: photos_to(fake, OFFICER.id), "the feedback's photo to the originator")
        [photo] = photos_to(fake, OFFICER.id)
        assert photo.file == record and photo.protect_content
        assert "A-2026-0001" in photo.text and "Yes: our record of it, issued 2019" in photo.text


async def test_an_oversized_photo_reply_is_refused_and_relays_nothing(tmp_path, fake, monkeypatch) -> None:
    settings = settings_for(tmp_path, fake.base_url)
    settings = replace(settings, attachments=replace(settings.attachments, max_bytes=1000))
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings) as bot:
        fake.says(OFFICER, "/alert to:TH tlp:amber topic:document-fraud\nIs this passport known to you?")
        await eventually(lambda: fake.sent_to(TH_NPOC.id), "the delivery to Thailand")
        await eventually(lambda: bot.recorded(TH_NPOC.id, fake.sent_to(TH_NPOC.id)[0].message_id),
                         "the delivery recorded")
        fake.sends_photo(TH_NPOC, PHOTO, "Our record", reply_to=fake.sent_to(TH_NPOC.id)[0])
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 2, "the answer to Somchai")
        answer = fake.sent_to(TH_NPOC.id)[1].text
        assert answer.startswith("Not sent: the attachment photo-") and "accepted: up to 1 kB each" in answer
        assert not photos_to(fake, OFFICER.id)
        assert not any("Our record" in s.text for s in fake.sent_to(OFFICER.id))


async def test_the_bytes_of_a_refused_commands_photo_are_not_kept(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.sends_photo(OFFICER, PHOTO, "/alert to:TH tpl:amber\nAltered passport")  # a typo: refused
        await eventually(lambda: fake.sent_to(OFFICER.id), "the answer")
        assert "did you mean tlp?" in fake.sent_to(OFFICER.id)[0].text
        keyring = ensure_keyring(bot.runtime.settings.keys.path, io.StringIO())
        with bot.runtime.engine.connect() as conn:
            [row] = conn.execute(select(inbox)).all()
            content = open_json(CaseKeySealer(conn, keyring), row.content, aad=inbox_aad(row.platform, row.event_id))
        assert row.state == "done"
        assert content["attachments"] == [{"name": "photo-1.jpg", "mime": "image/jpeg", "size": len(PHOTO)}]


async def test_a_photo_not_sent_when_the_bot_stops_is_sent_after_the_restart(tmp_path, fake, monkeypatch) -> None:
    fake.fail_next("sendPhoto", 502, chat_id=TH_NPOC.id, times=1000)  # Telegram down for Thailand's chat
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)):
        fake.sends_photo(OFFICER, PHOTO, CAPTION)
        await eventually(lambda: any(r.method == "sendPhoto" for r in fake.requests), "a first try")
    assert not photos_to(fake, TH_NPOC.id)
    fake.faults.clear()
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:  # the same database
        await eventually(lambda: photos_to(fake, TH_NPOC.id), "the photo after the restart")
        assert photos_to(fake, TH_NPOC.id)[0].file == PHOTO and bot.items() == 1


async def test_an_album_goes_whole_with_its_caption(tmp_path, fake, monkeypatch) -> None:
    pages = [PHOTO, PHOTO[::-1], PHOTO[::2]]
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.max_batch = 100
        fake.sends_album(OFFICER, pages, "/alert to:TH tlp:amber topic:document-fraud\nThree pages of one passport")
        await eventually(lambda: len(photos_to(fake, TH_NPOC.id)) == 3, "the three photos to Thailand")
        assert [p.file for p in photos_to(fake, TH_NPOC.id)] == pages
        assert "Three pages of one passport" in photos_to(fake, TH_NPOC.id)[0].text
        assert bot.items() == 1 and not any("Not" in s.text for s in fake.sent_to(OFFICER.id))


async def test_an_escalation_to_the_backup_carries_the_items_photo_as_a_first_delivery_does(tmp_path, fake,
                                                                                            monkeypatch) -> None:
    deputy = User(203, "Niran")  # th-immigration, the backup of th-npoc
    data = config_data(tmp_path, fake.base_url)
    for contact in data["network"]["contacts"]:
        if contact["id"] == "th-immigration":
            contact["identities"] = [f"telegram:user:{deputy.id}", *contact["identities"]]
    settings = settings_from_data(data, tmp_path / "config.toml")
    meet(fake, OFFICER, TH_NPOC, deputy)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings) as bot:
        fake.sends_photo(OFFICER, PHOTO, "/alert to:@th-npoc tlp:amber priority:urgent\nAltered passport, page 2")
        await eventually(lambda: photos_to(fake, TH_NPOC.id), "the photo to Thailand")
        # Its send recorded (reminders follow copies that were sent) before the scheduler's tick.
        await eventually(lambda: not {"pending", "sending"} & set(bot.outbox_states()), "the sends recorded")
        runtime = bot.runtime
        with runtime.uow_factory(read_only=True) as uow:
            record = uow.items.get(Reference.parse("A-2026-0001"))
        assert record is not None and record.item.ack_due is not None
        service = ReminderService(runtime.uow_factory, runtime.directory, settings.reminders.policy(),
                                  platforms=runtime.connectors.keys())
        # The scheduler's tick once the acknowledgement is overdue past `backup_after` (30 minutes for
        # urgent), before the coordinators' turn: what its job runs, with the time it would have then.
        await runtime.db.run(service.tick, record.item.ack_due + timedelta(minutes=35))
        runtime.worker.wake()
        await eventually(lambda: photos_to(fake, deputy.id), "the photo to the backup")
        [photo] = photos_to(fake, deputy.id)
        assert photo.file == PHOTO and photo.protect_content  # under the item's caveat, as Thailand's copy
        told = "\n".join(s.text for s in fake.sent_to(deputy.id))
        assert "You may act for them: /ack A-2026-0001" in told and "Altered passport, page 2" in told
        assert [s.media for s in fake.sent_to(deputy.id)][0] == "photo"  # the photo first, as in a delivery
