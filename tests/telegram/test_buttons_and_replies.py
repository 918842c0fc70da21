"""Acknowledge, Snooze and Reply on a delivery, and a plain reply to it, become the ordinary commands."""

from __future__ import annotations

import re

from sqlalchemy import select

from storage.tables import cursors, deliveries
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.fake_bot_state import Sent
from tests.telegram.support import OFFICER, TH_NPOC, Bot, eventually, relaxed, running_bot

ALERT = "/alert to:TH tlp:amber topic:document-fraud\nTwo travellers with altered passports"


async def delivered(fake: FakeBotApi) -> tuple[Sent, str]:
    fake.says(OFFICER, ALERT)
    await eventually(lambda: fake.sent_to(TH_NPOC.id), "the delivery to Thailand")
    delivery = fake.sent_to(TH_NPOC.id)[0]
    found = re.search(r"\b[AR]-\d{4}-\d{4,}\b", delivery.text)  # "A-2026-0001 · alert from ...", after the body
    assert found is not None, delivery.text
    return delivery, found.group()


def to(fake: FakeBotApi, user_id: int, words: str) -> list[Sent]:
    return [s for s in fake.sent_to(user_id) if words in s.text]


def delivery_row(bot: Bot, reference: str):  # noqa: ANN201
    with bot.runtime.engine.connect() as conn:
        return conn.execute(select(deliveries).where(deliveries.c.item_reference == reference)).one()


def recorded(bot: Bot, user_id: int, sent: Sent) -> bool:
    return bot.recorded(user_id, sent.message_id)


def prompt_recorded(bot: Bot, user_id: int, prompt: Sent) -> bool:
    with bot.runtime.engine.connect() as conn:
        return conn.execute(select(cursors.c.name).where(
            cursors.c.name == f"telegram.reply-prompt.{user_id}:{prompt.message_id}")).first() is not None


async def test_acknowledge_button(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        delivery, reference = await delivered(fake)
        # Recorded once the send has returned: a moment after the fake saw it.
        await eventually(lambda: delivery_row(bot, reference).platform_message_id
                         == f"{TH_NPOC.id}:{delivery.message_id}", "the delivery recorded")
        query = fake.press(TH_NPOC, delivery, f"a:{reference}")
        await eventually(lambda: fake.answered(query) is not None, "the press answered")
        assert reference in fake.answered(query)
        await eventually(lambda: to(fake, TH_NPOC.id, f"Acknowledged {reference}"), "the ack answer")
        [answer] = to(fake, TH_NPOC.id, f"Acknowledged {reference}")
        assert "reply to the alert's message" in answer.text and "/reply" not in answer.text  # replying works here
        await eventually(lambda: to(fake, OFFICER.id, "acknowledged by"), "the originator told")
        assert delivery_row(bot, reference).state == "acknowledged"


async def test_a_typed_ack_on_telegram_points_to_replying_to_the_alerts_message_as_the_button_does(
        tmp_path, fake, monkeypatch) -> None:  # noqa: ANN001
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        delivery, reference = await delivered(fake)
        await eventually(lambda: delivery_row(bot, reference).platform_message_id
                         == f"{TH_NPOC.id}:{delivery.message_id}", "the delivery recorded")
        fake.says(TH_NPOC, f"/ack {reference}")
        await eventually(lambda: to(fake, TH_NPOC.id, f"Acknowledged {reference}"), "the ack answer")
        [answer] = to(fake, TH_NPOC.id, f"Acknowledged {reference}")
        assert answer.text == f"Acknowledged {reference}. To send feedback, reply to the alert's message."


async def test_snooze_button_asks_how_long_and_why_then_becomes_the_snooze_command(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        delivery, reference = await delivered(fake)
        seen = len(fake.sent_to(TH_NPOC.id))
        query = fake.press(TH_NPOC, delivery, f"s:{reference}")
        await eventually(lambda: ("4 hours", f"s:{reference}:4h") in delivery.buttons(), "the durations")
        assert [label for label, _ in delivery.buttons()] == [
            "Acknowledge", "1 hour", "4 hours", "Tomorrow 09:00", "« Back"]
        assert fake.answered(query) == "For how long?"
        fake.press(TH_NPOC, delivery, f"s:{reference}:4h")
        await eventually(lambda: ("Checking records", f"s:{reference}:4h:1") in delivery.buttons(), "the reasons")
        assert [label for label, _ in delivery.buttons()] == [
            "Acknowledge", "Waiting on another agency", "Checking records", "Need more details", "Other — type it",
            "« Back"]
        query = fake.press(TH_NPOC, delivery, f"s:{reference}:4h:1")
        await eventually(lambda: fake.answered(query) is not None, "the press answered")
        assert "Snoozing" in fake.answered(query)
        # The press is the /snooze command with the reason: the reminders on that item are held.
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) > seen, "the answer to /snooze")
        answer = fake.sent_to(TH_NPOC.id)[seen].text
        assert f"Reminders on {reference} for you are held until" in answer, answer
        assert "The reason is recorded." in answer and "Add a reason next time" not in answer
        await eventually(lambda: to(fake, OFFICER.id, "Reason: checking records"), "the originator told why")
        assert len(bot.inbox_events()) == 2  # the alert, and the press as a command
        await eventually(lambda: any(label.startswith("💤 Held until") for label, _ in delivery.buttons()),
                         "the snooze button showing its outcome")
        assert delivery.buttons()[0] == ("Acknowledge", f"a:{reference}")


async def test_a_reply_to_the_delivery_is_feedback(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        delivery, reference = await delivered(fake)
        await eventually(lambda: recorded(bot, TH_NPOC.id, delivery), "the delivery recorded")
        fake.says(TH_NPOC, "Confirmed: both passports reported stolen", reply_to=delivery)
        await eventually(lambda: to(fake, OFFICER.id, "Confirmed: both passports reported stolen"), "the feedback")
        feedback = to(fake, OFFICER.id, "Confirmed: both passports")[0]
        assert feedback.text.startswith(f"[TLP:AMBER] {reference}") and feedback.protect_content
        assert delivery_row(bot, reference).state == "answered"


async def test_reply_button_prompts_and_the_answer_to_the_prompt_is_feedback(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        delivery, reference = await delivered(fake)
        await eventually(lambda: recorded(bot, TH_NPOC.id, delivery), "the delivery recorded")
        query = fake.press(TH_NPOC, delivery, f"r:{reference}")
        await eventually(lambda: to(fake, TH_NPOC.id, f"reply to {reference}"), "the reply prompt")
        prompt = to(fake, TH_NPOC.id, f"reply to {reference}")[0]
        assert prompt.reply_markup == {"force_reply": True, "selective": True,
                                       "input_field_placeholder": f"Feedback on {reference}"}
        assert fake.answered(query) is not None
        await eventually(lambda: prompt_recorded(bot, TH_NPOC.id, prompt), "the prompt remembered")
        fake.says(TH_NPOC, "Not known here", reply_to=prompt)
        await eventually(lambda: to(fake, OFFICER.id, "Not known here"), "the feedback")


async def test_a_button_with_unknown_data_is_answered_and_does_nothing(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        delivery, _ = await delivered(fake)
        queries = [fake.press(TH_NPOC, delivery, data) for data in ("zz:1", "a:/member add x", "a:")]
        await eventually(lambda: all(fake.answered(q) is not None for q in queries), "every press answered")
        assert all("no longer active" in fake.answered(q) for q in queries)
        assert len(bot.inbox_events()) == 1  # only the alert itself


async def test_the_originators_reply_to_their_receipt_goes_to_no_one_and_says_how_to_send_an_update(
        tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        _, reference = await delivered(fake)
        await eventually(lambda: to(fake, OFFICER.id, reference), "the receipt")
        receipt = to(fake, OFFICER.id, reference)[0]
        await eventually(lambda: recorded(bot, OFFICER.id, receipt), "the receipt recorded")
        seen, events = len(fake.sent_to(TH_NPOC.id)), len(bot.inbox_events())
        fake.says(OFFICER, "thanks, will add details", reply_to=receipt)
        await eventually(lambda: to(fake, OFFICER.id, "went to no one"), "the answer")
        [answer] = to(fake, OFFICER.id, "went to no one")
        assert f"/reply {reference} your text" in answer.text
        assert len(bot.inbox_events()) == events  # nothing routed: not even recorded
        assert len(fake.sent_to(TH_NPOC.id)) == seen
        assert not to(fake, TH_NPOC.id, "will add details")


async def test_a_recipients_reply_to_a_status_answer_goes_to_no_one(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        _, reference = await delivered(fake)
        fake.says(TH_NPOC, f"/status {reference}")
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 2, "the status answer")
        answer = fake.sent_to(TH_NPOC.id)[1]
        assert answer.text.startswith(reference), answer.text  # its first line names the item
        await eventually(lambda: recorded(bot, TH_NPOC.id, answer), "the answer recorded")
        events = len(bot.inbox_events())
        fake.says(TH_NPOC, "ok noted", reply_to=answer)
        await eventually(lambda: to(fake, TH_NPOC.id, "went to no one"), "the hint")
        assert len(bot.inbox_events()) == events
        assert not to(fake, OFFICER.id, "ok noted")
        assert delivery_row(bot, reference).state != "answered"


async def test_the_originators_reply_to_relayed_feedback_is_an_update_to_the_recipients(tmp_path, fake,
                                                                                       monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        delivery, reference = await delivered(fake)
        await eventually(lambda: recorded(bot, TH_NPOC.id, delivery), "the delivery recorded")
        fake.says(TH_NPOC, "Confirmed: both passports reported stolen", reply_to=delivery)
        await eventually(lambda: to(fake, OFFICER.id, "Confirmed: both passports"), "the feedback")
        relayed = to(fake, OFFICER.id, "Confirmed: both passports")[0]
        await eventually(lambda: recorded(bot, OFFICER.id, relayed), "the feedback recorded")
        fake.says(OFFICER, "Thank you, please hold them", reply_to=relayed)
        await eventually(lambda: to(fake, TH_NPOC.id, "Thank you, please hold them"), "the update")
        assert "Update from the originator" in to(fake, TH_NPOC.id, "Thank you, please hold them")[0].text


async def test_a_recipients_reply_to_an_update_from_the_originator_goes_to_no_one(tmp_path, fake,
                                                                                 monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        _, reference = await delivered(fake)
        fake.says(OFFICER, f"/reply {reference} Flight now lands 15:10")
        await eventually(lambda: to(fake, TH_NPOC.id, "Flight now lands 15:10"), "the update")
        update = to(fake, TH_NPOC.id, "Flight now lands 15:10")[0]
        await eventually(lambda: recorded(bot, TH_NPOC.id, update), "the update recorded")
        events = len(bot.inbox_events())
        fake.says(TH_NPOC, "thanks", reply_to=update)
        await eventually(lambda: to(fake, TH_NPOC.id, "went to no one"), "the hint")
        assert len(bot.inbox_events()) == events
        assert delivery_row(bot, reference).state != "answered"


async def test_a_reply_to_a_reminder_of_ones_copy_is_feedback(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        _, reference = await delivered(fake)
        fake.says(OFFICER, f"/remind {reference}")
        await eventually(lambda: to(fake, OFFICER.id, f"Reminded about {reference}"), "the reminder sent")
        await eventually(lambda: len(fake.sent_to(TH_NPOC.id)) >= 2, "the reminder")
        reminder = fake.sent_to(TH_NPOC.id)[-1]
        assert reference in reminder.text
        await eventually(lambda: recorded(bot, TH_NPOC.id, reminder), "the reminder recorded")
        fake.says(TH_NPOC, "Checking with immigration", reply_to=reminder)
        await eventually(lambda: to(fake, OFFICER.id, "Checking with immigration"), "the feedback")
        assert delivery_row(bot, reference).state == "answered"
