"""/correct on Telegram, against the fake Bot API server: the earlier copy is edited in place to say it
is superseded (editMessageText, or editMessageCaption for a photo), its buttons gone, before the new
revision arrives; a copy that cannot be edited is followed by the one-line notice instead; an edit
planned before a restart is made after it."""

from __future__ import annotations

from sqlalchemy import select

from storage.tables import outbox
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.fake_bot_state import Sent
from tests.telegram.support import OFFICER, TH_NPOC, Bot, eventually, meet, relaxed, running_bot
from tests.telegram.test_caveats_on_telegram import texts

ALERT = "/alert to:TH tlp:amber topic:document-fraud Two travellers with altered passports"
REF = "A-2026-0001"
CORRECTION = f"/correct {REF}\n\nTwo travellers with altered visas"
MARK = f"Superseded by {REF} rev 2 — see the new copy\n[TLP:AMBER] document-fraud · from Malaysia"
NOTICE = f"[TLP:AMBER] {REF} rev 1 is superseded by {REF} rev 2, sent to you now: acknowledge and act on that one."
PHOTO = bytes(range(256)) * 40


async def recorded(bot: Bot) -> None:
    """The first copy's send recorded: a correction meets the copy as sent (not as a send in flight)."""
    await eventually(lambda: not {"pending", "sending"} & set(bot.outbox_states()), "the sends recorded")


def copy_of(fake: FakeBotApi, words: str) -> Sent:
    [sent] = [s for s in fake.sent_to(TH_NPOC.id) if words in s.text]
    return sent


def revised(fake: FakeBotApi) -> list[Sent]:
    return [s for s in fake.sent_to(TH_NPOC.id) if f"{REF} rev 2 · alert from" in s.text]


def calls(fake: FakeBotApi, *methods: str) -> list[str]:
    """The methods asked of the fake for Thailand's chat, in order (and answered)."""
    return [r.method for r in fake.requests if r.method in methods and r.params.get("chat_id") == TH_NPOC.id
            and r.status == 200]


async def test_the_earlier_copy_is_edited_to_say_it_is_superseded_before_the_new_one_comes(tmp_path, fake,
                                                                                          monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, ALERT)
        await eventually(lambda: any("altered passports" in t for t in texts(fake, TH_NPOC.id)), "the delivery")
        first = copy_of(fake, "altered passports")
        assert first.buttons()  # Acknowledge, Reply, Snooze
        await recorded(bot)
        fake.says(OFFICER, CORRECTION)
        await eventually(lambda: revised(fake), "rev 2")
        assert first.text == MARK
        assert "altered passports" in first.edits[0]  # what it read before
        assert first.buttons() == []  # nothing to acknowledge on a copy that is no longer current
        assert not any(NOTICE in t for t in texts(fake, TH_NPOC.id))  # edited, so no line after it
        # In Thailand's chat the edit is made before the new copy is posted.
        assert calls(fake, "editMessageText", "sendMessage")[-2:] == ["editMessageText", "sendMessage"]
        [rev2] = revised(fake)
        assert "Two travellers with altered visas" in rev2.text and rev2.buttons()
        await eventually(lambda: any("1 marked superseded" in t for t in texts(fake, OFFICER.id)), "the answer")


async def test_a_photo_copy_has_its_caption_edited_and_the_new_revision_carries_the_photo(tmp_path, fake,
                                                                                          monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.sends_photo(OFFICER, PHOTO, "/alert to:TH tlp:amber topic:document-fraud\nAltered passports, page 2")
        await eventually(lambda: [s for s in fake.sent_to(TH_NPOC.id) if s.media == "photo"], "the photo")
        [first] = [s for s in fake.sent_to(TH_NPOC.id) if s.media == "photo"]
        await recorded(bot)
        fake.says(OFFICER, CORRECTION)
        await eventually(lambda: revised(fake), "rev 2")
        assert first.media == "photo" and first.text == MARK and first.buttons() == []
        assert [r.status for r in fake.requests if r.method == "editMessageText"] == [400]  # Telegram: no text
        assert [r.status for r in fake.requests if r.method == "editMessageCaption"] == [200]
        [rev2] = revised(fake)
        assert rev2.media == "photo" and rev2.file == PHOTO  # the item's photo goes with its new revision


async def test_a_copy_that_cannot_be_edited_is_followed_by_the_line_instead(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, ALERT)
        await eventually(lambda: any("altered passports" in t for t in texts(fake, TH_NPOC.id)), "the delivery")
        first = copy_of(fake, "altered passports")
        fake.world.deleted.add((first.chat_id, first.message_id))  # the reader deleted it
        await recorded(bot)
        fake.says(OFFICER, CORRECTION)
        await eventually(lambda: NOTICE in texts(fake, TH_NPOC.id), "the line")
        assert [r.status for r in fake.requests if r.method == "editMessageText"] == [400]
        assert "altered passports" in first.text and not first.edits
        assert len(revised(fake)) == 1 and texts(fake, TH_NPOC.id).count(NOTICE) == 1


def supersede_rows(bot: Bot) -> list[tuple[str, int]]:
    with bot.runtime.engine.connect() as conn:
        return [(r.state, r.attempts) for r in conn.execute(
            select(outbox.c.state, outbox.c.attempts).where(outbox.c.kind == "supersede"))]


async def test_an_edit_that_failed_before_a_restart_is_made_after_it(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, ALERT)
        await eventually(lambda: any("altered passports" in t for t in texts(fake, TH_NPOC.id)), "the delivery")
        first = copy_of(fake, "altered passports")
        fake.fail_next("editMessageText", 502, chat_id=TH_NPOC.id, times=100)  # Telegram down for edits
        await recorded(bot)
        fake.says(OFFICER, CORRECTION)
        await eventually(lambda: supersede_rows(bot) and supersede_rows(bot)[0][1] >= 1
                         and supersede_rows(bot)[0][0] == "pending", "the edit failed once and waits")
    assert first.text != MARK and not revised(fake)  # the new copy waits its turn behind the edit
    fake.faults.clear()
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        await eventually(lambda: revised(fake), "rev 2 after the restart")
        assert first.text == MARK
        assert supersede_rows(bot) == [("sent", supersede_rows(bot)[0][1])]
        assert not any(NOTICE in t for t in texts(fake, TH_NPOC.id))


async def test_a_copy_whose_send_was_in_flight_when_corrected_is_edited_once_it_lands(tmp_path, fake,
                                                                                      monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    # Thailand's copy is posted at once but answered 4 s later (within the client's timeout): its send
    # is in flight meanwhile.
    fake.stall_next("sendMessage", 4.0, chat_id=TH_NPOC.id)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), request_timeout=10.0) as bot:
        fake.says(OFFICER, ALERT)
        await eventually(lambda: any("altered passports" in t for t in texts(fake, TH_NPOC.id)), "the delivery")
        first = copy_of(fake, "altered passports")
        assert "sending" in bot.outbox_states()  # not recorded yet
        fake.says(OFFICER, CORRECTION)
        # The correction met the copy in flight: nothing to mark then, and its send cannot be stopped
        # any more, so the answer counts it apart, as what becomes of it if it lands.
        await eventually(lambda: any("0 marked superseded, 0 taken back, 0 unsent cancelled, 1 being sent: marked "
                                     "superseded if it lands." in t for t in texts(fake, OFFICER.id)), "the answer")
        await eventually(lambda: revised(fake), "rev 2")
        await eventually(lambda: first.text == MARK, "the late copy marked superseded")
        assert first.buttons() == []
        await recorded(bot)
        assert supersede_rows(bot) == [("sent", 1)]  # planned once, made once
        assert not any(NOTICE in t for t in texts(fake, TH_NPOC.id))
        assert len(revised(fake)) == 1


async def test_a_copy_cancelled_mid_send_has_the_photo_that_reached_its_reader_marked_superseded(
        tmp_path, fake, monkeypatch) -> None:
    """The copy's photo went, then the correction came while its text was being sent, and the text was
    refused: what reached the reader (the photo) is marked superseded, as a copy that lands late is."""
    long_body = "Details of the alteration. " * 60  # past a caption's 1024 characters: the text follows
    meet(fake, OFFICER, TH_NPOC)
    # The photo goes; the text after it is refused, but only 4 s later: its send is in flight meanwhile.
    fake.fail_next("sendMessage", 400, chat_id=TH_NPOC.id, after=4.0)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), request_timeout=10.0) as bot:
        fake.sends_photo(OFFICER, PHOTO, f"/alert to:TH tlp:amber topic:document-fraud\n{long_body}")
        await eventually(lambda: any(r.method == "sendMessage" and r.params.get("chat_id") == TH_NPOC.id
                                     for r in fake.requests), "the photo sent, its text asked for")
        [photo] = fake.sent_to(TH_NPOC.id)
        assert photo.media == "photo" and "sending" in bot.outbox_states()
        fake.says(OFFICER, CORRECTION)
        await eventually(lambda: any("1 being sent: marked superseded if it lands." in t
                                     for t in texts(fake, OFFICER.id)), "the answer")
        await eventually(lambda: revised(fake), "rev 2")
        await eventually(lambda: photo.text == MARK, "the photo that went marked superseded")
        assert photo.buttons() == []
        await recorded(bot)
        assert supersede_rows(bot) == [("sent", 1)]  # planned once, made once
        assert not any(NOTICE in t for t in texts(fake, TH_NPOC.id))
        assert not any("failed" in t for t in texts(fake, OFFICER.id))  # cancelled, as planned: no failure told


LONG_BODY = " ".join(f"Traveller {n} held an altered passport." for n in range(110))[:4000]


def deleted(fake: FakeBotApi) -> set[tuple[int, int]]:
    """The messages in Thailand's chat that deleteMessage took out."""
    return {(int(r.params["chat_id"]), int(r.params["message_id"])) for r in fake.requests
            if r.method == "deleteMessage" and r.status == 200 and int(r.params.get("chat_id", 0)) == TH_NPOC.id}


async def test_a_long_copy_has_its_first_part_marked_and_its_further_parts_deleted(tmp_path, fake,
                                                                                   monkeypatch) -> None:
    # Each part repeats the banner: left as it was, part 2 would read as current beside the mark.
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, f"/alert to:TH tlp:amber topic:document-fraud {LONG_BODY}")
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 2, "the copy, in two parts")
        first, second = fake.sent_to(TH_NPOC.id)[:2]
        assert "Traveller 0 held" in first.text and "Traveller 0 held" not in second.text
        assert second.text.startswith("[TLP:AMBER]")  # a part keeps the banner
        await recorded(bot)
        fake.says(OFFICER, CORRECTION)
        await eventually(lambda: revised(fake), "rev 2")
        assert first.text == MARK and first.buttons() == []
        assert deleted(fake) == {(second.chat_id, second.message_id)}  # the rest is gone, the mark stays
        assert not second.edits
        assert calls(fake, "deleteMessage", "editMessageText", "sendMessage")[-3:] == [
            "deleteMessage", "editMessageText", "sendMessage"]  # both before the new copy
        assert not any(NOTICE in t for t in texts(fake, TH_NPOC.id))
        await eventually(lambda: any("1 marked superseded" in t for t in texts(fake, OFFICER.id)), "the answer")


async def test_past_48_hours_the_further_parts_are_marked_superseded_too(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, f"/alert to:TH tlp:amber topic:document-fraud {LONG_BODY}")
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 2, "the copy, in two parts")
        first, second = fake.sent_to(TH_NPOC.id)[:2]
        await recorded(bot)
        now = fake.world.now
        fake.world.now = lambda: now() + 49 * 3600  # Telegram deletes no more; it still edits
        fake.says(OFFICER, CORRECTION)
        await eventually(lambda: revised(fake), "rev 2")
        assert first.text == MARK and second.text == MARK  # nothing of rev 1 reads as current
        assert "(continued 2/2)" in second.edits[0] and second.buttons() == []
        assert [r.status for r in fake.requests if r.method == "deleteMessage"] == [400]
        assert not deleted(fake) and not any(NOTICE in t for t in texts(fake, TH_NPOC.id))


async def test_a_text_that_followed_its_photo_is_marked_and_the_photo_deleted(tmp_path, fake, monkeypatch) -> None:
    long_body = "Details of the alteration. " * 60  # past a caption's 1024 characters: the text follows
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.sends_photo(OFFICER, PHOTO, f"/alert to:TH tlp:amber topic:document-fraud\n{long_body}")
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 2, "the photo and the text")
        photo, text = fake.sent_to(TH_NPOC.id)[:2]
        assert photo.media == "photo" and text.media is None
        await recorded(bot)
        fake.says(OFFICER, CORRECTION)
        await eventually(lambda: revised(fake), "rev 2")
        assert text.text == MARK and text.buttons() == []  # the banner, and the copy's text, are there
        assert deleted(fake) == {(photo.chat_id, photo.message_id)} and not photo.edits
        assert [r.method for r in fake.requests if r.method.startswith("editMessage")] == ["editMessageText"]
        assert [s.media for s in revised(fake)] == ["photo"]  # rev 2 carries the item's photo again
        assert not any(NOTICE in t for t in texts(fake, TH_NPOC.id))


async def test_a_withdrawal_deletes_the_earlier_copy_its_line_and_the_new_copy(tmp_path, fake, monkeypatch) -> None:
    """The rev 1 copy could not be edited (Telegram refused), so it still reads as sent and the line
    followed it: /withdraw deletes both, and the rev 2 copy, and its reader is told once."""
    from tests.telegram.test_withdraw import audit, with_room_admin  # noqa: PLC0415 - one test's helpers

    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        with_room_admin(bot)
        fake.says(OFFICER, ALERT)
        await eventually(lambda: any("altered passports" in t for t in texts(fake, TH_NPOC.id)), "the delivery")
        first = copy_of(fake, "altered passports")
        fake.fail_next("editMessageText", 400, chat_id=TH_NPOC.id)  # "message can't be edited"
        await recorded(bot)
        fake.says(OFFICER, CORRECTION)
        await eventually(lambda: NOTICE in texts(fake, TH_NPOC.id) and revised(fake), "the line and rev 2")
        await recorded(bot)
        [line] = [s for s in fake.sent_to(TH_NPOC.id) if s.text == NOTICE]
        [rev2] = revised(fake)
        assert "altered passports" in first.text  # not edited: what it said is still there
        fake.says(OFFICER, f"/withdraw {REF} wrong document")
        gone = {(s.chat_id, s.message_id) for s in (first, line, rev2)}
        await eventually(lambda: gone <= fake.world.deleted, "every copy and the line deleted")
        deleted = [(r.params.get("chat_id"), r.params.get("message_id")) for r in fake.requests
                   if r.method == "deleteMessage" and r.status == 200]
        assert {(int(c), int(m)) for c, m in deleted} == gone
        await eventually(lambda: any("wrong document" in t for t in texts(fake, TH_NPOC.id)), "the reader told")
        assert [t for t in texts(fake, TH_NPOC.id) if "wrong document" in t] == [
            t for t in texts(fake, TH_NPOC.id) if "wrong document" in t and t.endswith("the bot removes its copy.")]
        assert len([t for t in texts(fake, TH_NPOC.id) if "wrong document" in t]) == 1
        await eventually(lambda: any(t.startswith(f"Withdrew {REF}. 2 delivered copies (1 of an earlier revision) "
                                                  "and 1 line saying an earlier copy was superseded to be removed")
                                     for t in texts(fake, OFFICER.id)), "the officer answered")
        [withdrawal] = [e for e in audit(bot) if e.action == "withdrawal"]
        assert (withdrawal.detail["copies_removed"], withdrawal.detail["earlier_copies_removed"],
                withdrawal.detail["superseded_lines_removed"]) == ("2", "1", "1")
        await eventually(lambda: len([e for e in audit(bot) if (e.detail or {}).get("event") == "message-removed"]) == 3,
                         "each removal audited")
