"""An alert typed in Telegram reaches a Telegram contact, with buttons, protected, in HTML."""

from __future__ import annotations

from tests.telegram.support import OFFICER, TH_NPOC, eventually, running_bot


async def test_a_typed_alert_reaches_thailand_with_buttons(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch) as bot:
        fake.says(OFFICER, "/alert to:TH tlp:amber topic:document-fraud grade:B2 priority:urgent\n"
                           "Two travellers <with> altered passports & more")
        await eventually(lambda: fake.sent_to(TH_NPOC.id), "the delivery to Thailand")
        delivery = fake.sent_to(TH_NPOC.id)[0]
        assert delivery.text.startswith("[TLP:AMBER] URGENT · document-fraud · from Malaysia\nTwo travellers")
        assert "Two travellers <with> altered passports & more" in delivery.text
        assert "&lt;with&gt;" in delivery.html and delivery.html.startswith("<b>[TLP:AMBER]")
        assert delivery.protect_content
        assert [label for label, _ in delivery.buttons()] == ["Acknowledge", "Reply", "Snooze…"]
        await eventually(lambda: fake.sent_to(OFFICER.id), "the receipt")
        assert "accepted" in fake.sent_to(OFFICER.id)[0].text
        assert bot.items() == 1


async def test_a_receipt_for_many_recipients_fits_a_phone_screen(tmp_path, fake, monkeypatch) -> None:
    async with running_bot(tmp_path, fake, monkeypatch):
        fake.says(OFFICER, "/alert to:all tlp:clear topic:maritime Boat seen off Songkhla")
        await eventually(lambda: any("accepted" in s.text for s in fake.sent_to(OFFICER.id)), "the receipt")
        [receipt] = [s.text for s in fake.sent_to(OFFICER.id) if "accepted" in s.text]
        # Twenty recipients: three named and a count, not every name (963 characters before).
        assert ("Sending to 20 recipients: National point of contact (Afghanistan), National point of contact "
                "(Australia), National point of contact (Bangladesh) and 17 more.") in receipt, receipt
        assert len(receipt) < 400 and "/status A-2026-0001" in receipt
