"""A pressed button turns into its outcome and cannot send its command twice; snooze to a time on the
person's own clock or with a reason they type; no command in a delivery that sends something incomplete."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from sqlalchemy import select

from alerts.pressed import ButtonState
from bot.connectors.telegram.buttons import (delivery_keyboard, durations_keyboard, reasons_keyboard, snooze_span,
                                            with_buttons_footer)
from bot.connectors.telegram.formatting import complete_alone
from storage.tables import outbox
from tests.telegram.fake_bot_state import Sent, bot_commands, parse_html
from tests.telegram.support import OFFICER, TH_NPOC, Bot, eventually, relaxed, running_bot
from tests.telegram.test_buttons_and_replies import delivered, delivery_row, to

BANGKOK = ZoneInfo("Asia/Bangkok")  # th-npoc's time zone in config.example.toml


def acknowledged_label(bot: Bot, reference: str) -> str:
    at = delivery_row(bot, reference).acknowledged_at
    return f"✓ Acknowledged {at.replace(tzinfo=at.tzinfo or ZoneInfo('UTC')).astimezone(BANGKOK):%H:%M}"


def buttons_rows(bot: Bot) -> list[tuple[str, str]]:
    with bot.runtime.engine.connect() as conn:
        return [(r.kind, r.state) for r in conn.execute(select(outbox.c.kind, outbox.c.state)
                                                        .where(outbox.c.kind == "buttons"))]


async def test_acknowledge_becomes_its_outcome_and_a_second_press_adds_nothing(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        delivery, reference = await delivered(fake)
        fake.press(TH_NPOC, delivery, f"a:{reference}")
        await eventually(lambda: delivery.buttons()[0][1] == f"d:a:{reference}", "the button edited")
        # In th-npoc's own time zone; and the edit was editMessageReplyMarkup, the text is unchanged.
        assert delivery.buttons()[0][0] == acknowledged_label(bot, reference)
        assert delivery.markups and delivery.markups[0]["inline_keyboard"][0][0]["text"] == "Acknowledge"
        assert not delivery.edits
        await eventually(lambda: to(fake, TH_NPOC.id, f"Acknowledged {reference}"), "the ack answer")
        messages = len(fake.sent_to(TH_NPOC.id))
        # A stale press (another device still shows Acknowledge), and a press of the outcome itself.
        stale = fake.press(TH_NPOC, delivery, f"a:{reference}")
        used = fake.press(TH_NPOC, delivery, f"d:a:{reference}")
        await eventually(lambda: fake.answered(stale) is not None and fake.answered(used) is not None, "answered")
        assert fake.answered(stale) == fake.answered(used) == f"Already done: {acknowledged_label(bot, reference)}."
        # Anything the presses caused would arrive before the answer to a command sent after them.
        fake.says(TH_NPOC, "/whoami")
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) > messages, "the /whoami answer")
        await fake_settled(bot)
        assert len(fake.sent_to(TH_NPOC.id)) == messages + 1, [s.text for s in fake.sent_to(TH_NPOC.id)[messages:]]
        assert bot.inbox_events() == ["telegram:1", "telegram:2", "telegram:5"]  # alert, first press, /whoami


async def test_two_quick_presses_before_the_edit_acknowledge_once(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        delivery, reference = await delivered(fake)
        first, second = fake.press(TH_NPOC, delivery, f"a:{reference}"), fake.press(TH_NPOC, delivery, f"a:{reference}")
        await eventually(lambda: fake.answered(first) is not None and fake.answered(second) is not None, "answered")
        assert fake.answered(second) == f"Already acknowledging {reference}…"
        await eventually(lambda: delivery.buttons()[0][1] == f"d:a:{reference}", "the button edited")
        await eventually(lambda: to(fake, TH_NPOC.id, f"Acknowledged {reference}"), "the ack answer")
        await fake_settled(bot)
        assert len(bot.inbox_events()) == 2
        assert len(to(fake, TH_NPOC.id, "cknowledged")) == 1


@pytest.mark.parametrize("fault", ["429", "connection lost after the edit"])
async def test_an_edit_that_fails_is_retried_from_the_outbox(tmp_path, fake, monkeypatch, fault) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        delivery, reference = await delivered(fake)
        if fault == "429":
            fake.fail_next("editMessageReplyMarkup", 429, retry_after=1, chat_id=TH_NPOC.id)
        else:  # done, but the bot never hears so: the retry finds it done ("message is not modified")
            fake.drop_next("editMessageReplyMarkup", chat_id=TH_NPOC.id)
        fake.press(TH_NPOC, delivery, f"a:{reference}")
        await eventually(lambda: delivery.buttons()[0][1] == f"d:a:{reference}", "the edit")
        await eventually(lambda: buttons_rows(bot) == [("buttons", "sent")], "the outbox row done")
        edits = [r.status for r in fake.requests if r.method == "editMessageReplyMarkup"]
        assert edits == ([429, 200] if fault == "429" else [-1, 400]), edits


async def test_snooze_until_tomorrow_morning_on_the_persons_clock(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)):
        delivery, reference = await delivered(fake)
        seen = len(fake.sent_to(TH_NPOC.id))
        for data in (f"s:{reference}", f"s:{reference}:t"):
            fake.press(TH_NPOC, delivery, data)
            await eventually(lambda: any(d.startswith(data + ":") for _, d in delivery.buttons()),
                             f"the next step after {data}")
        fake.press(TH_NPOC, delivery, f"s:{reference}:t:0")
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) > seen, "the answer to /snooze")
        answer = fake.sent_to(TH_NPOC.id)[seen].text
        assert " 09:00 UTC+7." in answer, answer  # Somchai's clock, in Bangkok, with the zone named
        await eventually(lambda: to(fake, OFFICER.id, "Reason: waiting on another agency"), "the originator told")
        await eventually(lambda: any(label.startswith("💤 Held until") and label.endswith(" 09:00")
                                     for label, _ in delivery.buttons()), "the outcome")


async def test_snooze_with_a_reason_typed_as_a_reply(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        delivery, reference = await delivered(fake)
        for data in (f"s:{reference}", f"s:{reference}:1h"):
            fake.press(TH_NPOC, delivery, data)
            await eventually(lambda: any(d.startswith(data + ":") for _, d in delivery.buttons()), "the next step")
        fake.press(TH_NPOC, delivery, f"s:{reference}:1h:o")
        await eventually(lambda: to(fake, TH_NPOC.id, f"Snooze {reference} for 1h"), "the prompt")
        prompt = to(fake, TH_NPOC.id, f"Snooze {reference} for 1h")[0]
        assert prompt.reply_markup["force_reply"] is True
        assert delivery.buttons()[0] == ("Acknowledge", f"a:{reference}")  # the buttons are back
        # The prompt remembers the message it came from a moment after it is posted; a person typing
        # takes longer than that.
        await eventually(lambda: bot.runtime.cursor(f"telegram.snooze-prompt.{TH_NPOC.id}:{prompt.message_id}"),
                         "the prompt remembered")
        fake.says(TH_NPOC, "Awaiting a court order", reply_to=prompt)
        await eventually(lambda: to(fake, OFFICER.id, "Reason: Awaiting a court order"), "the reason relayed")
        await eventually(lambda: to(fake, TH_NPOC.id, f"Reminders on {reference} for you are held until"), "the answer")
        answer = to(fake, TH_NPOC.id, f"Reminders on {reference} for you are held until")[0]
        assert "The reason is recorded." in answer.text
        await eventually(lambda: any(label.startswith("💤 Held until") for label, _ in delivery.buttons()),
                         "the Snooze button showing its outcome")


async def test_a_delivery_has_no_tappable_command_that_sends_something_incomplete(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)):
        delivery, reference = await delivered(fake)
        await eventually(lambda: to(fake, OFFICER.id, "accepted"), "the receipt")
        assert delivery.tappable_commands() == []
        for sent in fake.sent:  # the receipt too: "Track it with /status A-2026-0001" is shown as code
            assert all(complete_alone(command.lstrip("/").split("@")[0]) for command in sent.tappable_commands()), \
                (sent.text, sent.tappable_commands())


async def test_with_buttons_the_footer_says_only_what_buttons_cannot(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)):
        delivery, reference = await delivered(fake)
        assert delivery.text.splitlines()[-1] == "↩️ Reply to this message with your feedback."
        assert f"/ack {reference}" not in delivery.text and "Acknowledge:" not in delivery.text
        assert [label for label, _ in delivery.buttons()] == ["Acknowledge", "Reply", "Snooze…"]


def test_the_fake_finds_commands_as_telegram_does() -> None:
    """So the tests above can fail: plain "/ack A-2026-0001" is a tappable "/ack"; in <code> it is not."""
    assert Sent(1, 1, "Acknowledge: /ack A-2026-0001", "", entities=bot_commands(
        "Acknowledge: /ack A-2026-0001")).tappable_commands() == ["/ack"]
    shown, entities = parse_html("Use <code>/ack A-2026-0001</code> or /help, not KUL/BKK or /etc/hosts")
    assert Sent(1, 1, shown, "", entities=entities).tappable_commands() == ["/help"]


async def fake_settled(bot: Bot) -> None:
    """Every outbox row handled (sent or failed), so nothing more is on its way."""
    await eventually(lambda: set(bot.outbox_states()) <= {"sent", "failed"}, "the outbox drained")


def test_the_footer_of_a_request_asks_for_an_answer_and_another_layout_is_left_alone() -> None:
    request = "[TLP:GREEN] R-2026-0003 · request\nWhich flights?\nAcknowledge: /ack R-2026-0003 · " \
              "Answer: /reply R-2026-0003 <answer>"
    assert with_buttons_footer(request, "R-2026-0003").splitlines()[-1] == "↩️ Reply to this message with your answer."
    other = "[TLP:GREEN] A-2026-0003 · alert\nA body that names /ack A-2026-0003 in the middle\nThe end."
    assert with_buttons_footer(other, "A-2026-0003") == other


def test_every_button_fits_telegrams_64_bytes_for_a_long_reference() -> None:
    reference = "A-2026-" + "9" * 12
    keyboards = [delivery_keyboard(reference, ButtonState("1:2", reference, "14:02", "Mon 09:00")),
                 durations_keyboard(reference, []), reasons_keyboard(reference, "t", [])]
    data = [b.callback_data for k in keyboards for row in k.inline_keyboard for b in row]
    assert data and all(len(str(d).encode()) <= 64 for d in data)


@pytest.mark.parametrize("pressed, zone, nine", [
    # Sydney's clocks go back an hour in the night of the first Sunday of April (AEDT to AEST) ...
    ("2027-04-03T20:00:00+11:00", "Australia/Sydney", "2027-04-04T09:00:00+10:00"),
    # ... and forward in the night of the first Sunday of October (AEST to AEDT).
    ("2027-10-02T20:00:00+10:00", "Australia/Sydney", "2027-10-03T09:00:00+11:00"),
    ("2027-04-02T15:00:00+07:00", "Asia/Bangkok", "2027-04-03T09:00:00+07:00"),  # no change: Friday to Saturday
])
def test_tomorrow_0900_is_0900_on_the_persons_clock_across_a_daylight_saving_change(
        pressed: str, zone: str, nine: str) -> None:
    from datetime import datetime, timedelta

    now = datetime.fromisoformat(pressed)
    span = snooze_span("t", now, zone)  # as /snooze takes it: minutes
    assert span is not None and span.endswith("m")
    held_until = now + timedelta(minutes=int(span[:-1]))
    assert held_until == datetime.fromisoformat(nine), held_until.astimezone(ZoneInfo(zone))
