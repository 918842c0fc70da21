"""Messages that ask a person to act carry whom to notify (platform-neutral: their accounts); the
rest carry nobody. And a gesture a connector could not take (a remark) is answered with why, where
it was made. On fakes."""

from __future__ import annotations

from alerts.identity import ChatRef, MessageRef, UserRef
from alerts.messages import InboundMessage, MessageKind
from tests.fakes import MemoryUnitOfWork
from tests.unit.test_reminder_service import ReminderBot

REF = "A-2026-0001"


def test_deliveries_reminders_and_escalations_name_whom_they_ask_and_receipts_nobody() -> None:
    bot = ReminderBot()
    bot.says("my-officer", "/alert to:TH,AU tlp:amber priority:urgent Two travellers, flight XX123")
    deliveries = {m.contact: m for m in bot.store.outbox.values() if m.kind is MessageKind.DELIVERY}
    au = bot.directory.contacts["au-npoc"]
    assert deliveries["au-npoc"].attention == au.identities  # Matrix and Telegram: each platform picks its own
    assert deliveries["th-npoc"].attention == bot.directory.contacts["th-npoc"].identities
    assert all(not m.attention for m in bot.store.outbox.values()
               if m.kind in (MessageKind.RECEIPT, MessageKind.ANSWER, MessageKind.NOTICE))
    bot.worker_sends()
    bot.later(3 * 60)
    bot.says("my-officer", f"/remind {REF}")
    bot.says("my-officer", f"/escalate {REF}")
    nudges = [m for m in bot.store.outbox.values() if m.kind in (MessageKind.REMINDER, MessageKind.ESCALATION)]
    assert {m.kind for m in nudges} == {MessageKind.REMINDER, MessageKind.ESCALATION}
    for message in nudges:
        assert message.attention == bot.directory.contacts[message.contact or ""].identities


def remark(bot: ReminderBot, who: str, chat: str, text: str) -> list[tuple[str, str]]:
    before = set(bot.store.outbox)
    message = InboundMessage("$r", UserRef.parse(who), ChatRef.parse(chat), "", bot.clock.now(),
                             MessageRef(ChatRef.parse(chat), "$m"), remark=text)
    with MemoryUnitOfWork(bot.store) as uow:
        bot.dispatcher.handle(uow, message)
        uow.commit()
    return [(str(m.destination), m.text) for k, m in bot.store.outbox.items() if k not in before]


def test_a_remark_is_answered_where_it_was_made_and_a_strangers_is_not() -> None:
    bot = ReminderBot()
    why = "A ❤️ reaction does nothing. React with ✅ to acknowledge A-2026-0001."
    assert remark(bot, "matrix:@au-npoc:example.org", "console:#network", why) == [("chat:console:#network", why)]
    assert remark(bot, "matrix:@stranger:example.org", "console:#network", why) == []
