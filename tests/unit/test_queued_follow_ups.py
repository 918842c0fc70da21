"""A reminder queued and not sent yet (its platform made it wait) is held or dropped with what goes
with it: /snooze holds the one queued for the copy it holds; /withdraw drops the content-free notices
queued with the item's reminders; /close drops a hand-sent /remind and its notice.

On the handlers' fakes with a manual clock (tests/unit/test_followup_harness.py): the fake worker
sends nothing here, so whatever was queued is still waiting when the command comes.
"""

from __future__ import annotations

from alerts.messages import MessageKind
from alerts.reminder_policy import ReminderPolicy
from handlers.followup_reminders import ReminderService
from tests.fakes import MemoryUnitOfWork
from tests.unit.test_followup_harness import Bot
from tests.unit.test_item_message_places import REF, TELEGRAM_FIRST, network

STRICT = "/alert to:@th-npoc tlp:amber+strict priority:urgent Two travellers, flight XX123"


def reminded_bot() -> Bot:
    """th-npoc reads strict items in their console chat and has Telegram first: each reminder to them
    comes with a content-free notice on Telegram. Their acknowledgement is overdue: one is queued."""
    bot = Bot(network(**{"th-npoc": TELEGRAM_FIRST}))
    bot.says("my-officer", STRICT)
    bot.worker_sends()
    service = ReminderService(lambda: MemoryUnitOfWork(bot.store), bot.directory_source, ReminderPolicy())
    bot.later(61)
    service.tick(bot.clock.now())
    assert waiting(bot, MessageKind.REMINDER) and waiting(bot, MessageKind.NOTICE, "rem:")
    return bot


def waiting(bot: Bot, kind: MessageKind, prefix: str = "") -> list[str]:
    return sorted(key for key, m in bot.store.outbox.items()
                  if m.reference == REF and m.kind is kind and m.contact == "th-npoc" and key.startswith(prefix)
                  and bot.store.outbox_state.get(key, "pending") in ("pending", "sending"))


def test_a_snooze_holds_the_reminder_already_queued_for_that_copy() -> None:
    bot = reminded_bot()
    [answer] = bot.says("th-npoc", f"/snooze {REF} 2h in a meeting")
    assert "held until" in answer, answer
    assert waiting(bot, MessageKind.REMINDER) == [] and waiting(bot, MessageKind.NOTICE, "rem:") == []


def test_a_withdrawal_drops_the_notices_queued_with_the_reminders() -> None:
    bot = reminded_bot()
    bot.says("my-officer", f"/withdraw {REF} wrong flight")
    assert waiting(bot, MessageKind.REMINDER) == []
    assert waiting(bot, MessageKind.NOTICE, "rem:") == []


def test_closing_drops_a_hand_sent_reminder_and_its_notice() -> None:
    bot = Bot(network(**{"th-npoc": TELEGRAM_FIRST}))
    bot.says("my-officer", STRICT)
    bot.worker_sends()
    notices_before = set(waiting(bot, MessageKind.NOTICE))
    [answer] = bot.says("my-officer", f"/remind {REF}")
    assert answer.startswith("Reminded"), answer
    with_it = set(waiting(bot, MessageKind.NOTICE)) - notices_before
    assert waiting(bot, MessageKind.REMINDER) and with_it
    bot.says("my-officer", f"/close {REF} resolved by phone")
    assert waiting(bot, MessageKind.REMINDER) == []
    assert with_it & set(waiting(bot, MessageKind.NOTICE)) == set()
