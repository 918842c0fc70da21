"""A copy that is several Telegram messages (its photos, then its text; a long text in parts, each
with the banner), against the fake Bot API: every message of it is recorded as it is sent, so
/withdraw deletes each one (past Telegram's 48 hours its reader is asked once to delete it), a
restart in the middle of the send goes on after what was sent and forgets none of it, and a reply
to any of them (the photo, the text's second part, or the prompt of the Reply button under the last
part) is feedback on the copy. (/correct of such a copy: test_correct.py.)"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import select

from alerts.identity import UserRef
from alerts.messages import Attachment, MessageKind
from alerts.routing import Destination
from bot.connectors.base import POSSIBLE_REPEAT, Outgoing
from bot.connectors.errors import TransientFailure
from bot.connectors.ratelimit import Rate, RateLimiter
from bot.connectors.telegram.chats import ChatMigrations
from bot.connectors.telegram.sender import TelegramSender, _steps
from storage.tables import cursors, outbox
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.fake_bot_state import Sent
from tests.telegram.support import OFFICER, TH_NPOC, Bot, eventually, meet, relaxed, running_bot
from tests.telegram.test_caveats_on_telegram import texts, with_room_admin
from tests.story_clock import StoryClock
from tests.telegram.test_withdraw import HOURS_49, audit

REF = "A-2026-0001"
BODY = " ".join(f"Traveller {n} held an altered passport." for n in range(110))[:4000]  # two parts
LONG = f"/alert to:TH tlp:amber topic:document-fraud {BODY}"
PHOTO = bytes(range(256)) * 40


def deleted(fake: FakeBotApi) -> list[tuple[int, int]]:
    """What deleteMessage took out of Thailand's chat, in order."""
    return [(int(r.params["chat_id"]), int(r.params["message_id"])) for r in fake.requests
            if r.method == "deleteMessage" and r.status == 200 and int(r.params["chat_id"]) == TH_NPOC.id]


def copy_rows(bot: Bot) -> list[tuple[str, str | None, str | None]]:
    with bot.runtime.engine.connect() as conn:
        return [(r.state, r.platform_message_id, r.platform_parts) for r in conn.execute(
            select(outbox.c.state, outbox.c.platform_message_id, outbox.c.platform_parts)
            .where(outbox.c.kind == "delivery"))]


async def recorded(bot: Bot) -> None:
    await eventually(lambda: not {"pending", "sending"} & set(bot.outbox_states()), "the sends recorded")


async def test_withdraw_deletes_every_part_of_a_long_copy(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        with_room_admin(bot)
        fake.says(OFFICER, LONG)
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 2, "the copy, in two parts")
        parts = fake.sent_to(TH_NPOC.id)[:2]
        assert all(p.text.startswith("[TLP:AMBER]") for p in parts)
        await recorded(bot)
        [(_, known_by, recorded_parts)] = copy_rows(bot)
        ids = [f"{p.chat_id}:{p.message_id}" for p in parts]
        assert known_by == ids[0] and recorded_parts == " ".join(ids)
        fake.says(OFFICER, f"/withdraw {REF} sent to the wrong country")
        await eventually(lambda: len(deleted(fake)) == 2, "both parts deleted")
        assert deleted(fake) == [(p.chat_id, p.message_id) for p in parts]
        await eventually(lambda: any("was withdrawn" in t for t in texts(fake, TH_NPOC.id)), "the reader told")
        [told] = [t for t in texts(fake, TH_NPOC.id) if "was withdrawn" in t]
        assert told.endswith("Disregard it; the bot removes its copy.")
        await eventually(lambda: any((e.detail or {}).get("event") == "message-removed" for e in audit(bot)),
                         "the removal audited")
        assert [(e.detail["event"], e.detail["message"]) for e in audit(bot) if (e.detail or {}).get("why")] == [
            ("message-removed", ids[0])]  # one copy, one removal


async def test_past_48_hours_the_reader_is_asked_once_to_delete_a_long_copy(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        with_room_admin(bot)
        fake.says(OFFICER, LONG)
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 2, "the copy, in two parts")
        await recorded(bot)
        now = fake.world.now
        fake.world.now = lambda: now() + 49 * 3600  # the server's 48 hours are over; the bot has not noticed
        fake.says(OFFICER, f"/withdraw {REF} sent to the wrong country")
        await eventually(lambda: any("could not be removed" in t for t in texts(fake, OFFICER.id)),
                         "the withdrawer told")
        await eventually(lambda: any("cannot remove its copy here" in t for t in texts(fake, TH_NPOC.id)),
                         "the reader asked to delete it")
        await recorded(bot)
        assert len([t for t in texts(fake, TH_NPOC.id) if "cannot remove its copy here" in t]) == 1
        assert not deleted(fake)
        assert [(e.detail["event"], e.detail["error"]) for e in audit(bot) if (e.detail or {}).get("why")] == [
            ("message-kept", "too-old")]


async def test_a_restart_mid_send_goes_on_after_the_photo_and_withdraw_deletes_it_with_the_text(
        tmp_path, fake, monkeypatch) -> None:
    caption = f"/alert to:TH tlp:amber topic:document-fraud\n{BODY}"  # past a caption: the text follows, in two parts
    meet(fake, OFFICER, TH_NPOC)
    fake.fail_next("sendMessage", 502, chat_id=TH_NPOC.id, times=1000)  # the photo goes, then Telegram is down
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.sends_photo(OFFICER, PHOTO, caption)
        await eventually(lambda: any(r.method == "sendMessage" and r.status == 502 for r in fake.requests),
                         "the photo sent, the text refused")
        [photo] = fake.sent_to(TH_NPOC.id)
        # The worker records the refusal after Telegram's answer (the row is "sending" until then), and
        # retries later: wait for the row as it stands between two tries; it never changes otherwise.
        await eventually(lambda: copy_rows(bot) == [("pending", None, f"{photo.chat_id}:{photo.message_id}")],
                         "the refused send recorded, the photo kept as sent")
    fake.faults.clear()
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:  # the same database
        with_room_admin(bot)
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 3, "the text after the restart")
        await recorded(bot)
        sent = fake.sent_to(TH_NPOC.id)
        assert [s.media for s in sent] == ["photo", None, None]  # the photo was not sent again
        assert not any(POSSIBLE_REPEAT in s.text for s in sent)  # nor is anything a repeat
        ids = [f"{s.chat_id}:{s.message_id}" for s in sent]
        assert copy_rows(bot) == [("sent", ids[1], " ".join(ids))]  # known by its text's first part
        fake.says(OFFICER, f"/withdraw {REF} wrong photo")
        await eventually(lambda: len(deleted(fake)) == 3, "the photo and both parts deleted")
        assert deleted(fake) == [(s.chat_id, s.message_id) for s in sent]


def to(fake: FakeBotApi, user_id: int, words: str) -> list[str]:
    return [t for t in texts(fake, user_id) if words in t]


async def test_a_reply_to_the_photo_or_to_the_second_part_of_a_copy_is_feedback(tmp_path, fake, monkeypatch) -> None:
    caption = f"/alert to:TH tlp:amber topic:document-fraud\n{BODY}"  # past a caption: the text follows, in two parts
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.sends_photo(OFFICER, PHOTO, caption)
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 3, "the photo and the text in two parts")
        await recorded(bot)
        photo, first, second = fake.sent_to(TH_NPOC.id)[:3]
        assert (photo.media, first.media, second.media) == ("photo", None, None)
        fake.says(TH_NPOC, "Both passports reported stolen", reply_to=photo)
        await eventually(lambda: to(fake, OFFICER.id, "Both passports reported stolen"), "the feedback on the photo")
        fake.says(TH_NPOC, "Traveller 104 is known here", reply_to=second)
        await eventually(lambda: to(fake, OFFICER.id, "Traveller 104 is known here"), "the feedback on part 2")
        [feedback] = to(fake, OFFICER.id, "Both passports reported stolen")
        assert feedback.startswith(f"[TLP:AMBER] {REF}")
        assert not to(fake, TH_NPOC.id, "went to no one")


async def test_the_reply_button_under_the_last_part_of_a_long_copy_takes_feedback(tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, LONG)
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 2, "the copy, in two parts")
        await recorded(bot)
        first, second = fake.sent_to(TH_NPOC.id)[:2]
        assert not first.buttons() and ("Reply", f"r:{REF}") in second.buttons()  # its buttons end the copy
        fake.press(TH_NPOC, second, f"r:{REF}")
        await eventually(lambda: any(f"reply to {REF}" in s.text for s in fake.sent_to(TH_NPOC.id)), "the prompt")
        [prompt] = [s for s in fake.sent_to(TH_NPOC.id) if f"reply to {REF}" in s.text]
        await eventually(lambda: prompt_remembered(bot, prompt), "the prompt remembered")
        fake.says(TH_NPOC, "Not known here", reply_to=prompt)
        await eventually(lambda: to(fake, OFFICER.id, "Not known here"), "the feedback")
        assert not to(fake, TH_NPOC.id, "went to no one")


def prompt_remembered(bot: Bot, prompt: Sent) -> bool:
    with bot.runtime.engine.connect() as conn:
        return conn.execute(select(cursors.c.name).where(
            cursors.c.name == f"telegram.reply-prompt.{prompt.chat_id}:{prompt.message_id}")).first() is not None


def _outgoing(text: str, *, attachments: tuple[Attachment, ...] = (), possible_repeat: bool = False) -> Outgoing:
    return Outgoing(key="k", kind=MessageKind.DELIVERY, destination=Destination.direct(UserRef.parse("telegram:user:201")),
                    text=text, reference=REF, contact="th-npoc", protect_content=True, reply_to=None, attempt=2,
                    possible_repeat=possible_repeat, attachments=attachments)


def test_a_copy_is_laid_out_the_same_whether_or_not_it_says_it_may_be_a_repeat() -> None:
    """A send resumed after a restart is not marked (its first messages went): it must split where the
    first attempt, marked, did, or the parts would not follow on."""
    photo = Attachment("p.jpg", "image/jpeg", len(PHOTO), PHOTO)
    for text, attachments in [("[TLP:AMBER] x\n" + "word " * 812, ()), ("[TLP:AMBER] x\n" + "word " * 200, (photo,)),
                              ("[TLP:AMBER] x\n" + BODY, (photo, photo)), ("[TLP:AMBER] x\nshort", ())]:
        marked, known_by = _steps(_outgoing(text, attachments=attachments, possible_repeat=True), marked=True)
        plain, known_by_plain = _steps(_outgoing(text, attachments=attachments), marked=False)
        assert known_by == known_by_plain and len(marked) == len(plain)
        assert [replace(m, html=None) for m in marked] == [replace(p, html=None) for p in plain]
        first_text = next(m.html for m in marked if m.html)
        assert first_text.startswith(POSSIBLE_REPEAT) and POSSIBLE_REPEAT not in "".join(p.html or "" for p in plain)
        assert [m.html for m in marked if m.html][1:] == [p.html for p in plain if p.html][1:]


class _Api:
    """Posts numbered messages in chat 201."""

    def __init__(self) -> None:
        self.posted: list[str] = []

    async def send_message(self, chat_id: int, html: str, **options: object) -> int:
        self.posted.append(html)
        return 100 + len(self.posted)


class _Record:
    """SentParts in memory, whose next writes can be made to fail (the database gone a moment)."""

    def __init__(self) -> None:
        self.parts: dict[str, tuple[str, ...]] = {}
        self.failing = 0
        self.after = 0  # writes that succeed before the failing ones

    async def record_parts(self, key: str, parts: Sequence[str]) -> None:
        if self.failing and self.after:
            self.after -= 1
        elif self.failing:
            self.failing -= 1
            raise OSError("database unavailable")
        self.parts[key] = tuple(parts)

    async def parts_sent(self, key: str) -> tuple[str, ...]:
        return self.parts.get(key, ())


async def test_a_part_whose_record_failed_is_not_sent_again_and_is_recorded_on_the_retry() -> None:
    api, record = _Api(), _Record()
    limiter = RateLimiter(shared=Rate(1000, 1.0), keyed={"chat": Rate(1000, 1.0)})
    sender = TelegramSender(api, limiter, ChatMigrations(), record)  # type: ignore[arg-type]
    message = replace(_outgoing("[TLP:AMBER] x\n" + " ".join([BODY] * 3)), attempt=1)  # three parts
    record.failing = 1
    with pytest.raises(TransientFailure):
        await sender.send(message)  # part 1 went; its record did not
    assert len(api.posted) == 1 and record.parts == {}
    record.failing = 0
    known_by = await sender.send(replace(message, attempt=2))
    assert known_by == "201:101" and len(api.posted) == 3  # parts 2 and 3, not part 1 again
    assert record.parts["k"] == ("201:101", "201:102", "201:103")
    # A restart after all went but before the row was marked sent: nothing is sent again.
    restarted = TelegramSender(api, limiter, ChatMigrations(), record)  # type: ignore[arg-type]
    assert await restarted.send(replace(message, attempt=3, possible_repeat=True)) == "201:101"
    assert len(api.posted) == 3
    # The record of the last part failed: the retry sends nothing and records them all.
    last = replace(message, key="k2")
    record.failing, record.after = 1, 2
    with pytest.raises(TransientFailure):
        await sender.send(last)
    assert record.parts["k2"] == ("201:104", "201:105") and len(api.posted) == 6
    assert await sender.send(replace(last, attempt=2)) == "201:104" and len(api.posted) == 6
    assert record.parts["k2"] == ("201:104", "201:105", "201:106")


async def _photo_went_then_the_text_was_refused(bot: Bot, fake: FakeBotApi) -> tuple[int, int]:
    """The copy's photo reached Thailand; its text, after it, was refused for good: the row failed."""
    caption = f"/alert to:TH tlp:amber topic:document-fraud\n{BODY}"  # past a caption: the text follows
    fake.fail_next("sendMessage", 400, chat_id=TH_NPOC.id, times=1000)
    fake.sends_photo(OFFICER, PHOTO, caption)
    await eventually(lambda: [s for s, *_ in copy_rows(bot)] == ["failed"], "the copy failed for good")
    fake.faults.clear()
    [photo] = fake.sent_to(TH_NPOC.id)
    assert photo.media == "photo"
    [(_, known_by, parts)] = copy_rows(bot)
    ids = f"{photo.chat_id}:{photo.message_id}"
    assert (known_by, parts) == (ids, ids)  # a failed copy is known by what reached its reader
    return photo.chat_id, photo.message_id


async def test_withdraw_deletes_the_photo_of_a_copy_whose_text_was_refused_for_good(
        tmp_path, fake, monkeypatch) -> None:
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        with_room_admin(bot)
        photo = await _photo_went_then_the_text_was_refused(bot, fake)
        # The originator is told it failed, and that part of it reached the reader all the same.
        await eventually(lambda: any("failed" in t and REF in t for t in texts(fake, OFFICER.id)), "the originator told")
        [told] = [t for t in texts(fake, OFFICER.id) if "failed" in t and REF in t]
        assert "part of it reached them" in told and f"/withdraw {REF}" in told
        fake.says(OFFICER, f"/status {REF}")
        await eventually(lambda: any(t.startswith(REF) for t in texts(fake, OFFICER.id)), "the status")
        [status] = [t for t in texts(fake, OFFICER.id) if t.startswith(REF)]
        [line] = [line for line in status.splitlines() if "Thailand" in line or "Somchai" in line or "th-npoc" in line]
        assert "partly delivered" in line and "not delivered yet" not in line
        fake.says(OFFICER, f"/withdraw {REF} wrong photo")
        await eventually(lambda: deleted(fake) == [photo], "the photo deleted")
        await eventually(lambda: any("was withdrawn" in t for t in texts(fake, TH_NPOC.id)), "the reader told")
        await eventually(lambda: any(t.startswith(f"Withdrew {REF}.") for t in texts(fake, OFFICER.id)),
                         "the withdrawer answered")
        [answer] = [t for t in texts(fake, OFFICER.id) if t.startswith(f"Withdrew {REF}.")]
        assert "1 delivered copy to be removed" in answer
        await eventually(lambda: any((e.detail or {}).get("event") == "message-removed" for e in audit(bot)),
                         "the removal audited")


async def test_withdraw_deletes_the_photo_of_a_copy_whose_retries_ran_out(tmp_path, fake, monkeypatch) -> None:
    caption = f"/alert to:TH tlp:amber topic:document-fraud\n{BODY}"
    meet(fake, OFFICER, TH_NPOC)
    fake.fail_next("sendMessage", 502, chat_id=TH_NPOC.id, times=1000)  # the photo goes, then Telegram is down
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        with_room_admin(bot)
        fake.sends_photo(OFFICER, PHOTO, caption)
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) == 1, "the photo")
        with bot.runtime.engine.begin() as conn:  # the last attempt is next: no waiting for the back-off
            conn.execute(outbox.update().where(outbox.c.kind == "delivery")
                         .values(attempts=bot.runtime.worker._retry.max_attempts - 1,
                                 not_before=bot.runtime.clock.now() - timedelta(seconds=1)))
        await eventually(lambda: [s for s, *_ in copy_rows(bot)] == ["failed"], "the retries ran out")
        fake.faults.clear()
        [photo] = fake.sent_to(TH_NPOC.id)
        fake.says(OFFICER, f"/withdraw {REF} wrong photo")
        await eventually(lambda: deleted(fake) == [(photo.chat_id, photo.message_id)], "the photo deleted")


async def test_withdraw_deletes_the_photo_of_a_copy_still_waiting_to_send_its_text(
        tmp_path, fake, monkeypatch) -> None:
    """Withdrawn between two attempts: the copy is cancelled, and what of it went is taken back."""
    caption = f"/alert to:TH tlp:amber topic:document-fraud\n{BODY}"
    meet(fake, OFFICER, TH_NPOC)
    fake.fail_next("sendMessage", 502, chat_id=TH_NPOC.id, times=1)  # the photo goes, the text waits to retry
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        with_room_admin(bot)
        fake.sends_photo(OFFICER, PHOTO, caption)
        await eventually(lambda: any(r.method == "sendMessage" and r.status == 502 for r in fake.requests),
                         "the photo sent, the text refused a moment")
        with bot.runtime.engine.begin() as conn:  # its retry not due for a long while
            conn.execute(outbox.update().where(outbox.c.kind == "delivery")
                         .values(not_before=bot.runtime.clock.now() + timedelta(hours=1)))
        await eventually(lambda: [s for s, *_ in copy_rows(bot)] == ["pending"], "waiting to retry")
        [photo] = fake.sent_to(TH_NPOC.id)
        fake.says(OFFICER, f"/withdraw {REF} wrong photo")
        await eventually(lambda: deleted(fake) == [(photo.chat_id, photo.message_id)], "the photo deleted")
        await eventually(lambda: any(t.startswith(f"Withdrew {REF}.") for t in texts(fake, OFFICER.id)),
                         "the withdrawer answered")
        [answer] = [t for t in texts(fake, OFFICER.id) if t.startswith(f"Withdrew {REF}.")]
        assert "1 delivered copy to be removed" in answer
        assert [s for s, *_ in copy_rows(bot)] == ["failed"]


async def _withdrawn_49_hours_later(bot: Bot, fake: FakeBotApi, clock: StoryClock) -> None:
    """The bot and Telegram both 49 hours on from the photo's send; then /withdraw."""
    clock.shift += timedelta(hours=49)
    now = fake.world.now
    fake.world.now = lambda: now() + HOURS_49
    fake.says(OFFICER, f"/withdraw {REF} wrong photo")
    await eventually(lambda: any("was withdrawn" in t for t in texts(fake, TH_NPOC.id)), "the reader told")
    await eventually(lambda: any(t.startswith(f"Withdrew {REF}.") for t in texts(fake, OFFICER.id)),
                     "the withdrawer answered")


def _asked_once_to_delete_it(bot: Bot, fake: FakeBotApi) -> None:
    """Past the 48 hours from when its photo went, the reader is asked in the one line to delete what
    reached them: no deletion is tried (it would fail), so no second line, and no warning to the withdrawer."""
    [told] = [t for t in texts(fake, TH_NPOC.id) if "was withdrawn" in t]
    assert told.endswith("Disregard it and delete the copy yourself: the bot can no longer remove it here.")
    [answer] = [t for t in texts(fake, OFFICER.id) if t.startswith(f"Withdrew {REF}.")]
    assert answer.startswith(f"Withdrew {REF}. 0 delivered copies to be removed")
    assert not [r for r in fake.requests if r.method == "deleteMessage"]
    assert not any("cannot remove its copy here" in t for t in texts(fake, TH_NPOC.id))
    assert not any("could not be removed" in t for t in texts(fake, OFFICER.id))


async def test_past_48_hours_from_its_photo_a_copy_whose_text_was_refused_is_the_readers_to_delete(
        tmp_path, fake, monkeypatch) -> None:
    """A copy partly sent has no sent time of its own: the time its photo went is when Telegram's 48
    hours began."""
    meet(fake, OFFICER, TH_NPOC)
    clock = StoryClock()
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), clock=clock) as bot:
        with_room_admin(bot)
        await _photo_went_then_the_text_was_refused(bot, fake)
        await recorded(bot)
        await _withdrawn_49_hours_later(bot, fake, clock)
        _asked_once_to_delete_it(bot, fake)


async def test_past_48_hours_from_its_photo_a_copy_still_waiting_to_send_its_text_is_the_readers_to_delete(
        tmp_path, fake, monkeypatch) -> None:
    caption = f"/alert to:TH tlp:amber topic:document-fraud\n{BODY}"
    meet(fake, OFFICER, TH_NPOC)
    fake.fail_next("sendMessage", 502, chat_id=TH_NPOC.id, times=1000)  # the photo goes, the text waits to retry
    clock = StoryClock()
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), clock=clock) as bot:
        with_room_admin(bot)
        fake.sends_photo(OFFICER, PHOTO, caption)
        await eventually(lambda: [s for s, *_ in copy_rows(bot)] == ["pending"]
                         and any(r.method == "sendMessage" and r.status == 502 for r in fake.requests),
                         "the photo sent, the text refused a moment")
        with bot.runtime.engine.begin() as conn:  # its retry not due for a long while, 49 hours on too
            conn.execute(outbox.update().where(outbox.c.kind == "delivery", outbox.c.state == "pending")
                         .values(not_before=clock.now() + timedelta(hours=100)))
        fake.faults.clear()  # the reader's chat takes the bot's lines again
        await _withdrawn_49_hours_later(bot, fake, clock)
        _asked_once_to_delete_it(bot, fake)
        assert [s for s, *_ in copy_rows(bot)] == ["failed"]


RECORD = bytes(range(255, -1, -1)) * 40 + b"our record"


async def test_a_photo_sent_in_answer_to_any_part_of_a_copy_is_feedback_with_the_photo(tmp_path, fake,
                                                                                       monkeypatch) -> None:
    """As a reply in words there is: a photo, captioned or not (a phone sends a photo alone), sent in
    answer to the copy's photo or to its text's second part, reaches the originator with the photo; an
    album of photos alone is one feedback; an edited caption is answered as an edited reply is; one
    sent in answer to a message that invites none goes to no one, said so."""
    caption = f"/alert to:TH tlp:amber topic:document-fraud\n{BODY}"
    meet(fake, OFFICER, TH_NPOC)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.sends_photo(OFFICER, PHOTO, caption)
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 3, "the photo and the text in two parts")
        await recorded(bot)
        photo, first, second = fake.sent_to(TH_NPOC.id)[:3]
        fake.sends_photo(TH_NPOC, RECORD, "Our record of it, issued 2019", reply_to=photo)
        await eventually(lambda: [s for s in fake.sent_to(OFFICER.id) if s.media == "photo" and s.file == RECORD
                                  and "Our record of it, issued 2019" in s.text], "the captioned photo as feedback")
        fake.sends_photo(TH_NPOC, RECORD[::-1], reply_to=second)
        await eventually(lambda: [s for s in fake.sent_to(OFFICER.id) if s.media == "photo"
                                  and s.file == RECORD[::-1]], "the photo alone as feedback")
        [alone] = [s for s in fake.sent_to(OFFICER.id) if s.file == RECORD[::-1]]
        assert alone.text.startswith(f"[TLP:AMBER] {REF}") and "(a photo, with no text)" in alone.text
        await eventually(lambda: len(to(fake, TH_NPOC.id, f"Your feedback on {REF} goes to")) == 2, "the answers")
        # Its caption edited, as a text reply edited: said to have gone as first written, nothing relayed.
        [captioned] = [m for (chat, _), m in fake.world.user_messages.items()
                       if chat == TH_NPOC.id and m.get("caption") == "Our record of it, issued 2019"]
        fake.push({"edited_message": {**captioned, "caption": "Our record of it, issued 2018", "edit_date": 1}})
        await eventually(lambda: to(fake, TH_NPOC.id, "already carried out as you first wrote it"), "the answer")
        # Several photos at once, none captioned: one feedback (one inbox message), with all of them.
        fake.max_batch = 100
        taken = len(bot.inbox_events())
        pages = [RECORD[::2], RECORD[1::2]]
        fake.sends_album(TH_NPOC, pages, None, reply_to=first)
        await eventually(lambda: len(to(fake, TH_NPOC.id, f"Your feedback on {REF} goes to")) == 3, "the answer")
        await recorded(bot)
        assert len(bot.inbox_events()) == taken + 1
        assert [s.file for s in fake.sent_to(OFFICER.id) if s.file in pages] == pages
        assert to(fake, OFFICER.id, "(2 attachments, with no text)") and not to(fake, OFFICER.id, "issued 2018")
        assert not to(fake, TH_NPOC.id, "went to no one") and not to(fake, TH_NPOC.id, "was not sent to anyone")
        # A photo sent as a reply to a message that invites none (the officer's receipt) goes to no one, said so.
        [receipt] = [s for s in fake.sent_to(OFFICER.id) if "accepted" in s.text]
        fake.sends_photo(OFFICER, RECORD, reply_to=receipt)
        await eventually(lambda: to(fake, OFFICER.id, "That reply went to no one"), "the answer to the officer")
        assert not [s for s in fake.sent_to(TH_NPOC.id) if s.file == RECORD]  # never an update to the recipients
