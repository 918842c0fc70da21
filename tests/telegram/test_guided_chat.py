"""The guided /alert in a Telegram private chat, from the first tap to the delivery, across a restart."""

from __future__ import annotations

from datetime import datetime, timezone

from bot.connectors.telegram.formatting import complete_alone
from tests.story_clock import StoryClock
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.fake_bot_state import Sent, User
from tests.telegram.support import OFFICER, TH_NPOC, eventually, relaxed, running_bot


async def question(fake: FakeBotApi, user: User, seen: int) -> Sent:
    """The bot's next message to `user` after the first `seen` ones."""
    await eventually(lambda: len(fake.sent_to(user.id)) > seen, "the next question")
    return fake.sent_to(user.id)[seen]


def button(sent: Sent, label: str) -> str:
    return next(data for text, data in sent.buttons() if text == label)


async def test_guided_alert_from_first_tap_to_delivery(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, "/alert")
        ask = await question(fake, OFFICER, 0)
        assert "Who should receive it?" in ask.text and ask.buttons()
        fake.says(OFFICER, "TH")
        ask = await question(fake, OFFICER, 1)
        assert "Which TLP?" in ask.text
        presses = [fake.press(OFFICER, ask, button(ask, "AMBER"))]
        ask = await question(fake, OFFICER, 2)
        presses.append(fake.press(OFFICER, ask, button(ask, "urgent")))
        ask = await question(fake, OFFICER, 3)
        presses.append(fake.press(OFFICER, ask, button(ask, "document-fraud")))
        ask = await question(fake, OFFICER, 4)
        presses.append(fake.press(OFFICER, ask, button(ask, "B")))
        ask = await question(fake, OFFICER, 5)
        presses.append(fake.press(OFFICER, ask, button(ask, "2 probably true")))
        ask = await question(fake, OFFICER, 6)
        assert "Incident fields, if any" in ask.text
        fake.says(OFFICER, "persons:2 method:air document:passport issuer:MYS")
        ask = await question(fake, OFFICER, 7)
        assert "write the text" in ask.text
        fake.says(OFFICER, "Two travellers with altered passports, flight XX123 <KUL-BKK> & onward")
        summary = await question(fake, OFFICER, 8)
        assert "Ready to send this alert" in summary.text and "TLP:AMBER" in summary.text
        assert "Incident: 2 persons · air · passport issued by MY" in summary.text
        assert bot.items() == 0  # nothing is sent before Send
        send = button(summary, "Send")
        presses.append(fake.press(OFFICER, summary, send))
        await eventually(lambda: fake.sent_to(TH_NPOC.id), "the delivery to Thailand")
        delivery = fake.sent_to(TH_NPOC.id)[0]
        assert delivery.text.startswith("[TLP:AMBER] URGENT") and "A-2026-0001 · alert from" in delivery.text
        assert "Grade B2" in delivery.text and "<KUL-BKK> & onward" in delivery.text
        assert "Incident: 2 persons · air · passport issued by MY" in delivery.text
        assert delivery.protect_content
        await eventually(lambda: all(fake.answered(q) is not None for q in presses), "every press answered")
        await eventually(lambda: any("accepted" in s.text for s in fake.sent_to(OFFICER.id)), "the receipt")
        assert bot.items() == 1
        assert any(s.edits for s in fake.sent_to(OFFICER.id)), "an answered question is marked"
        # Nothing the form wrote, or marked afterwards, has a command a tap would send incomplete.
        assert all(complete_alone(c[1:]) for s in fake.sent for c in s.tappable_commands())
        # Send pressed again (a second tap that raced the first): one alert, not two.
        again = fake.press(OFFICER, summary, send)
        await eventually(lambda: fake.answered(again) is not None, "the second press answered")
        assert bot.items() == 1


async def test_a_form_survives_a_restart_and_cancel_leaves_it(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)):
        fake.says(OFFICER, "/alert")
        await question(fake, OFFICER, 0)
        fake.says(OFFICER, "TH, MY")
        ask = await question(fake, OFFICER, 1)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.press(OFFICER, ask, button(ask, "RED"))
        ask = await question(fake, OFFICER, 2)
        assert "Priority?" in ask.text  # the draft was kept: the restart went on from the TLP
        fake.says(OFFICER, "/cancel")
        done = await question(fake, OFFICER, 3)
        assert "Cancelled" in done.text
        fake.says(OFFICER, "some words after the form")
        fake.says(OFFICER, "/whoami")
        await eventually(lambda: any("You are" in s.text for s in fake.sent_to(OFFICER.id)), "the /whoami answer")
        fake.says(OFFICER, "/cancel")  # no form is open any more
        await eventually(lambda: any(s.text == "Nothing to cancel." for s in fake.sent_to(OFFICER.id)), "the answer")
        assert bot.items() == 0
        assert all("some words" not in s.text for s in fake.sent_to(OFFICER.id))


async def test_a_bare_alert_in_a_group_is_the_ordinary_command(tmp_path, fake, monkeypatch) -> None:
    from tests.telegram.support import NETWORK_GROUP

    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)):
        fake.says(OFFICER, "/alert", NETWORK_GROUP)
        await eventually(lambda: fake.sent_to(NETWORK_GROUP.id), "the answer in the group")
        assert "Say who gets the alert" in fake.sent_to(NETWORK_GROUP.id)[0].text


async def test_send_is_not_lost_when_recording_fails_once(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, "/alert")
        for seen, answer in enumerate(["TH", "green", "routine", "-", "-", "-"]):
            await question(fake, OFFICER, seen)
            fake.says(OFFICER, answer)
        await question(fake, OFFICER, 6)
        fake.says(OFFICER, "Body of the alert")
        summary = await question(fake, OFFICER, 7)
        assert "Ready to send" in summary.text
        ingest, failures = bot.connector._ingest, []  # noqa: SLF001 - the database fails once, here

        async def failing_once(messages, cursor=None):  # noqa: ANN001, ANN202
            if not failures:
                failures.append(1)
                raise OSError("disk full")
            await ingest(messages, cursor=cursor)

        bot.connector._ingest = failing_once  # noqa: SLF001
        fake.press(OFFICER, summary, button(summary, "Send"))
        await eventually(lambda: fake.sent_to(TH_NPOC.id), "the delivery, after the poll read the batch again")
        assert failures and bot.items() == 1


async def test_the_guided_alert_is_dated_by_the_bots_clock(tmp_path, fake, monkeypatch) -> None:
    """As every message is, the form's alert is received at the time of the bot's one clock, not the system's:
    a bot whose clock reads 2030 numbers it A-2030-0001 (and a test's story clock keeps it A-2026-…)."""
    clock = StoryClock(datetime(2030, 6, 3, 9, 0, tzinfo=timezone.utc))
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), clock=clock):
        fake.says(OFFICER, "/alert")
        await question(fake, OFFICER, 0)
        fake.says(OFFICER, "TH")
        for seen, label in enumerate(("AMBER", "routine", "document-fraud", "B", "2 probably true"), start=1):
            ask = await question(fake, OFFICER, seen)
            fake.press(OFFICER, ask, button(ask, label))
        await question(fake, OFFICER, 6)
        fake.says(OFFICER, "-")
        await question(fake, OFFICER, 7)
        fake.says(OFFICER, "Two travellers with altered passports")
        summary = await question(fake, OFFICER, 8)
        fake.press(OFFICER, summary, button(summary, "Send"))
        await eventually(lambda: fake.sent_to(TH_NPOC.id), "the delivery to Thailand")
        assert "A-2030-0001 · alert from" in fake.sent_to(TH_NPOC.id)[0].text
