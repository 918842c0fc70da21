"""Two-person release on Telegram, against the fake Bot API server: a held item goes nowhere until a
second person approves it (typed, or with the Approve button), is refused to its originator, can be
declined with a reason the originator reads, and expires unsent when nobody decides. And a person
named in a command by a text_mention."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from bot.config.settings import settings_from_data
from handlers.followup_reminders import ReminderService
from tests.telegram.fake_bot_api import FakeBotApi
from tests.telegram.fake_bot_state import User
from tests.telegram.support import MY_NPOC, OFFICER, TH_NPOC, config_data, eventually, meet, relaxed, running_bot

RED = "/alert to:@th-npoc tlp:red\nInformant says the boat leaves tonight"
URGENT = "/alert to:TH tlp:amber priority:urgent\nTwo travellers with altered passports, flight XX123"
REF = "A-2026-0001"


def texts(fake: FakeBotApi, chat_id: int) -> list[str]:
    return [s.text for s in fake.sent_to(chat_id)]


def said(fake: FakeBotApi, chat_id: int, words: str) -> bool:
    return any(words in t for t in texts(fake, chat_id))


def urgent_amber_needs_release(tmp: Path, fake: FakeBotApi):  # noqa: ANN201
    """Release for urgent TLP:AMBER too: its content may travel over Telegram, so the approver reads it there."""
    data = config_data(tmp, fake.base_url)
    data["release"] = {"required": ["red", "amber/urgent"]}
    return settings_from_data(data, tmp / "config.toml")


async def test_a_red_alert_is_held_refused_to_its_originator_and_sent_once_a_second_person_approves(
        tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake)) as bot:
        fake.says(OFFICER, RED)
        await eventually(lambda: said(fake, OFFICER.id, f"Alert {REF} is held (TLP:RED"), "the held receipt")
        assert "Waiting for approval by National point of contact (Malaysia)" in texts(fake, OFFICER.id)[0]
        fake.says(OFFICER, f"/approve {REF}")
        await eventually(lambda: said(fake, OFFICER.id, "so you cannot approve or decline it"), "the refusal")
        fake.says(TH_NPOC, f"/approve {REF}")
        await eventually(lambda: said(fake, TH_NPOC.id, f"You may not approve or decline {REF}"), "the refusal")
        assert texts(fake, TH_NPOC.id) == [t for t in texts(fake, TH_NPOC.id) if "may not approve" in t]
        assert bot.items() == 1
        fake.says(MY_NPOC, f"/approve {REF}")
        await eventually(lambda: said(fake, TH_NPOC.id, f"A TLP:RED alert {REF} from Malaysia awaits you"),
                         "the notice to Thailand")
        await eventually(lambda: said(fake, MY_NPOC.id, f"Approved: {REF}"), "the approver's answer")
        assert not any("Informant" in s.text for s in fake.sent)  # TLP:RED never over Telegram


async def test_the_approve_button_releases_an_urgent_amber_alert(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake),
                           settings=urgent_amber_needs_release(tmp_path, fake)):
        fake.says(OFFICER, URGENT)
        await eventually(lambda: said(fake, MY_NPOC.id, f"asks you to approve the release of alert {REF}"),
                         "the request to the approver")
        [request] = [s for s in fake.sent_to(MY_NPOC.id) if "asks you to approve" in s.text]
        assert "Two travellers with altered passports" in request.text
        assert request.buttons() == [(f"Approve {REF}", f"p:{REF}")]
        assert fake.sent_to(TH_NPOC.id) == []
        query = fake.press(MY_NPOC, request, f"p:{REF}")
        await eventually(lambda: fake.answered(query) is not None, "the press answered")
        await eventually(lambda: said(fake, TH_NPOC.id, "Two travellers with altered passports"), "the delivery")
        await eventually(lambda: said(fake, OFFICER.id, f"approved {REF}. Alert {REF} accepted"), "the originator told")


async def test_a_declined_alert_is_never_sent_and_its_originator_reads_why(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake),
                           settings=urgent_amber_needs_release(tmp_path, fake)):
        fake.says(OFFICER, URGENT)
        await eventually(lambda: said(fake, MY_NPOC.id, "asks you to approve"), "the request to the approver")
        fake.says(MY_NPOC, f"/decline {REF} wrong flight number, check first")
        await eventually(lambda: said(fake, OFFICER.id, f"declined {REF}: wrong flight number, check first. "
                                                        "Nothing was sent, and it is closed."), "the originator told")
        fake.says(MY_NPOC, f"/approve {REF}")
        await eventually(lambda: said(fake, MY_NPOC.id, f"{REF} was declined by"), "a late approval refused")
        assert fake.sent_to(TH_NPOC.id) == []


async def test_an_alert_nobody_decides_on_expires_and_its_originator_is_told(tmp_path, fake, monkeypatch) -> None:
    settings = urgent_amber_needs_release(tmp_path, fake)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings) as bot:
        fake.says(OFFICER, URGENT)
        await eventually(lambda: said(fake, OFFICER.id, f"Alert {REF} is held"), "the held receipt")
        runtime = bot.runtime
        service = ReminderService(runtime.uow_factory, runtime.directory, settings.reminders.policy(),
                                  release=settings.release.policy())
        # The scheduler's tick, a day on: what its job runs, with the time it would have then.
        later = runtime.clock.now() + settings.release.expires_after + timedelta(minutes=1)
        await runtime.db.run(service.tick, later)
        runtime.worker.wake()
        await eventually(lambda: said(fake, OFFICER.id, f"{REF} expired unsent: nobody approved it by"),
                         "the originator told")
        fake.says(MY_NPOC, f"/approve {REF}")
        await eventually(lambda: said(fake, MY_NPOC.id, f"{REF} was expired"), "a late approval refused")
        assert fake.sent_to(TH_NPOC.id) == []


async def test_a_text_mention_names_the_user_it_carries(tmp_path, fake, monkeypatch) -> None:
    """A Telegram mention of someone without a username is a text_mention entity carrying the user: a
    command naming a person by it names that account, not the words shown."""
    coordinator = User(301, "Wanida")
    data = config_data(tmp_path, fake.base_url)
    for contact in data["network"]["contacts"]:
        if contact["id"] == "rso-coordinator":
            contact["identities"] = [f"telegram:user:{coordinator.id}", *contact["identities"]]
    settings = settings_from_data(data, tmp_path / "config.toml")
    meet(fake, coordinator)
    async with running_bot(tmp_path, fake, monkeypatch, limiter=relaxed(fake), settings=settings):
        fake.says(OFFICER, "/alert to:TH tlp:amber\nBoat sighted off Songkhla")
        await eventually(lambda: said(fake, TH_NPOC.id, "Boat sighted"), "the delivery")
        text = f"/reassign {REF} to:Somchai"
        entities = [{"type": "bot_command", "offset": 0, "length": len("/reassign")},
                    {"type": "text_mention", "offset": text.index("Somchai"), "length": len("Somchai"),
                     "user": TH_NPOC.json()}]
        fake.says(coordinator, text, entities=entities)
        # Read as th-npoc's account: found in the directory, and holding the item already.
        await eventually(lambda: said(fake, coordinator.id, f"has no open copy left with someone who has left"),
                         "the answer to the mention")
        assert not said(fake, coordinator.id, "is not in the directory")
