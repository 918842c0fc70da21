"""What a person reads on a phone in a shared room: /whoami kept to their direct chat, an
acknowledgement that says who acknowledged, banners that leave routine out."""

from __future__ import annotations

from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage, MessageKind
from tests.fakes import MemoryUnitOfWork
from tests.unit.test_followup_harness import Bot


def test_whoami_in_a_room_is_answered_in_the_direct_chat_and_the_room_told_so_in_one_line() -> None:
    bot = Bot()
    in_room = bot.says("th-npoc", "/whoami", chat="console:#network")
    assert in_room == ["Th Npoc: answered in your direct chat with the bot, because the answer carries your "
                       "accounts on each platform."]
    private = bot.last_to("th-npoc")
    assert private.startswith("You are Th Npoc") and "Accounts: console:th-npoc" in private


def test_whoami_in_the_direct_chat_is_answered_there_alone() -> None:
    bot = Bot()
    [answer] = bot.says("th-npoc", "/whoami")
    assert answer.startswith("You are Th Npoc") and len(bot.store.outbox) == 1


def _posted() -> Bot:
    bot = Bot()
    bot.says("my-officer", "/alert to:TH tlp:green topic:document-fraud Two travellers, flight XX123")
    bot.worker_sends()
    return bot


def _pressed(bot: Bot, who: str, text: str, chat: str) -> list[str]:
    """`who` presses a button that sends `text` on a message in `chat`; the answers there."""
    before = set(bot.store.outbox)
    with MemoryUnitOfWork(bot.store) as uow:
        bot.dispatcher.handle(uow, InboundMessage("e-press", UserRef.parse(f"console:{who}"), ChatRef.parse(chat),
                                                  text, bot.clock.now(), pressed="7:42"))
        uow.commit()
    return [m.text for k, m in bot.store.outbox.items()
            if k not in before and m.kind is MessageKind.ANSWER and str(m.destination) == f"chat:{chat}"]


def test_an_acknowledgement_in_a_room_says_who_acknowledged() -> None:
    bot = _posted()
    assert bot.says("th-npoc", "/ack A-2026-0001", chat="console:#network") == [
        "Th Npoc (Thailand) acknowledged A-2026-0001. Send feedback with /reply A-2026-0001 <text>."]
    assert bot.says("th-npoc", "/ack A-2026-0001", chat="console:#network")[0].startswith(
        "Th Npoc (Thailand) already acknowledged A-2026-0001 at ")


def test_an_acknowledgement_in_the_direct_chat_needs_no_name() -> None:
    bot = _posted()
    assert bot.says("th-npoc", "/ack A-2026-0001") == [
        "Acknowledged A-2026-0001. Send feedback with /reply A-2026-0001 <text>."]


def test_a_pressed_acknowledge_points_to_replying_to_the_message_and_names_the_presser_in_a_room() -> None:
    bot = _posted()
    assert _pressed(bot, "th-npoc", "/ack A-2026-0001", "console:#network") == [
        "Th Npoc (Thailand) acknowledged A-2026-0001. To send feedback, reply to the alert's message."]
    bot = _posted()
    assert _pressed(bot, "th-npoc", "/ack A-2026-0001", "console:@th-npoc") == [
        "Acknowledged A-2026-0001. To send feedback, reply to the alert's message."]


def test_help_and_start_list_only_what_the_asker_may_use() -> None:
    bot = Bot()
    [officer] = bot.says("my-officer", "/start")  # Telegram sends /start when someone first opens the bot
    assert officer == bot.answer("my-officer", "/help")
    assert officer.startswith("Your commands:\nSend: /alert /request /forward") and "/member" not in officer
    assert len(officer) < 500
    [admin] = bot.says("admin", "/help")
    assert "Administer: /member /room /device" in admin and "/alert" not in admin


def test_a_typed_acknowledge_on_telegram_points_to_replying_where_the_copy_is_there_too() -> None:
    """Replying to the alert's message is the way on Telegram; a copy that went elsewhere has no
    message there to reply to, so the typed command is the hint."""
    from dataclasses import replace

    from alerts.directory import Directory
    from tests.sample_network import small_network

    for accounts, hint in ((("telegram:user:5", "console:th-npoc"), "To send feedback, reply to the alert's message."),
                           (("console:th-npoc", "telegram:user:5"), "Send feedback with /reply A-2026-0001 <text>.")):
        base = small_network()
        npoc = replace(base.contacts["th-npoc"], identities=tuple(UserRef.parse(a) for a in accounts))
        bot = Bot(Directory.build(base.organisations.values(), [npoc if c.id == "th-npoc" else c
                                                                for c in base.contacts.values()], base.rooms,
                                  base.arrangements))
        bot.says("my-officer", "/alert to:TH tlp:green topic:document-fraud Two travellers, flight XX123")
        bot.worker_sends()
        [copy] = [d.destination for d in bot.record("A-2026-0001").deliveries if d.contact == "th-npoc"]
        assert copy == f"direct:{accounts[0]}"
        assert bot.says("th-npoc", "/ack A-2026-0001", chat="telegram:5", account="telegram:user:5") == [
            f"Acknowledged A-2026-0001. {hint}"]
