"""Caveated facts stay out of shared chats, as conversations on the handlers' fakes.

- /status and /mine about AMBER+STRICT or RED items, typed in a group or room, are answered in the
  asker's direct chat, and the chat is told only where the answer went;
- a RED alert typed in a shared chat is routed as usual, its receipt goes to the officer's direct
  chat, and its removal from the chat is planned in the same transaction (an outbox row);
- RED and AMBER+STRICT content never goes to Telegram: a content-free notice there, or a refusal.
"""

from __future__ import annotations

import dataclasses
import itertools

from alerts.audit import AuditAction
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage, MessageKind
from alerts.removal import Removal
from tests.fakes import MemoryUnitOfWork
from tests.sample_network import person, small_network
from tests.unit.test_followup_harness import Bot

ROOM = "console:#network"
RED = "/alert to:@th-npoc tlp:red Informant says the boat leaves tonight"
_events = itertools.count(1)


def typed(bot: Bot, who: str, text: str, chat: str) -> list[str]:
    """Like Bot.says, with the platform's message id that a connector gives."""
    before = set(bot.store.outbox)
    event = f"m{next(_events)}"
    message = InboundMessage(event, UserRef.parse(f"console:{who}"), ChatRef.parse(chat), text,
                             bot.clock.now(), message_id=event)
    with MemoryUnitOfWork(bot.store) as uow:
        bot.dispatcher.handle(uow, message)
        uow.commit()
    return [k for k in bot.store.outbox if k not in before]


def test_status_of_a_red_item_asked_in_a_room_is_answered_in_the_direct_chat() -> None:
    bot = Bot()
    bot.says("my-officer", RED)
    in_room = bot.says("my-officer", "/status A-2026-0001", chat=ROOM)
    assert in_room == ["My Officer: answered in your direct chat with the bot, because the answer is about "
                       "TLP:RED items, whose details stay out of shared chats."]
    status = bot.received_by("my-officer")[-1]
    assert "Th Npoc (Thailand)" in status and "A-2026-0001" in status
    assert not any("Th Npoc" in m.text for m in bot.store.messages_to(f"chat:{ROOM}"))


def test_status_of_an_amber_item_is_answered_where_it_was_asked() -> None:
    bot = Bot()
    bot.says("my-officer", "/alert to:TH tlp:amber Boat sighted")
    [answer] = bot.says("my-officer", "/status A-2026-0001", chat=ROOM)
    assert "Th Npoc (Thailand)" in answer


def test_status_of_a_red_item_in_the_direct_chat_stays_there() -> None:
    bot = Bot()
    bot.says("my-officer", RED)
    [answer] = bot.says("my-officer", "/status A-2026-0001")
    assert "Th Npoc (Thailand)" in answer


def test_mine_with_an_amber_strict_item_goes_to_the_direct_chat_and_without_one_stays() -> None:
    bot = Bot()
    bot.says("my-officer", "/alert to:TH tlp:green Boat sighted")
    [answer] = bot.says("th-npoc", "/mine", chat=ROOM)
    assert "A-2026-0001" in answer
    bot.says("my-officer", "/alert to:TH tlp:amber+strict Boat sighted again")
    [pointer] = bot.says("th-npoc", "/mine", chat=ROOM)
    assert pointer.startswith("Th Npoc: answered in your direct chat") and "TLP:AMBER+STRICT" in pointer
    assert "A-2026-0002" in bot.received_by("th-npoc")[-1]


def test_a_red_alert_typed_in_a_room_is_routed_its_receipt_kept_private_and_its_removal_planned() -> None:
    bot = Bot()
    new = typed(bot, "my-officer", RED, ROOM)
    rows = [bot.store.outbox[k] for k in new]
    kinds = {(m.kind, str(m.destination)) for m in rows}
    assert (MessageKind.DELIVERY, "direct:console:th-npoc") in kinds
    assert (MessageKind.RECEIPT, "direct:console:my-officer") in kinds
    [removal_row] = [m for m in rows if m.kind is MessageKind.REMOVAL]
    assert str(removal_row.destination) == f"chat:{ROOM}"
    removal = Removal.from_json(removal_row.text)
    assert (removal.chat_name, removal.officer, removal.reference, removal.tlp) == (
        "Network room", "my-officer", "A-2026-0001", "TLP:RED")
    in_room = [m.text for m in rows if str(m.destination) == f"chat:{ROOM}" and m.kind is not MessageKind.REMOVAL]
    assert in_room == ["My Officer: answered in your direct chat with the bot, because the answer is about "
                       "TLP:RED items, whose details stay out of shared chats."]
    created = next(e for e in bot.store.audit if e.action is AuditAction.ITEM_CREATED)
    assert created.detail["removal"] == f"planned from {ROOM}"


def test_a_red_alert_refused_in_a_room_is_removed_too() -> None:
    bot = Bot()
    new = typed(bot, "my-officer", "/alert to:@nobody tlp:red Informant says", ROOM)
    [removal] = [bot.store.outbox[k] for k in new if bot.store.outbox[k].kind is MessageKind.REMOVAL]
    assert Removal.from_json(removal.text).reference is None
    assert bot.store.audit[-1].action is AuditAction.REFUSAL and bot.store.audit[-1].detail["removal"]


def test_nothing_is_removed_from_a_direct_chat_nor_below_red() -> None:
    bot = Bot()
    for text, chat in ((RED, "console:@my-officer"), ("/alert to:TH tlp:amber+strict Boat", ROOM)):
        new = typed(bot, "my-officer", text, chat)
        assert not [k for k in new if bot.store.outbox[k].kind is MessageKind.REMOVAL]


def _with_telegram_first() -> Bot:
    base = small_network()
    contacts = dict(base.contacts)
    contacts["th-npoc"] = person("th-npoc", "TH", *base.contacts["th-npoc"].roles,
                                 identities=("telegram:user:77", "matrix:@th:example.org"))
    contacts["my-npoc"] = person("my-npoc", "MY", *base.contacts["my-npoc"].roles, identities=("telegram:user:78",))
    return Bot(dataclasses.replace(base, contacts=contacts))


def test_red_for_someone_on_telegram_goes_to_matrix_and_telegram_gets_a_content_free_notice() -> None:
    bot = _with_telegram_first()
    bot.says("my-officer", RED)
    [delivery] = bot.store.messages_to("direct:matrix:@th:example.org")
    assert "Informant" in delivery.text
    [notice] = bot.store.messages_to("direct:telegram:user:77")
    assert notice.kind is MessageKind.NOTICE and "Informant" not in notice.text
    assert notice.text == ("A TLP:RED alert A-2026-0001 from Malaysia awaits you on Matrix, in your direct chat "
                           "with the bot there. TLP:RED is sent only over end-to-end encrypted channels, so not here.")


def test_an_amber_strict_item_for_someone_with_only_telegram_is_refused_and_nothing_routed() -> None:
    bot = _with_telegram_first()
    [answer] = bot.says("my-officer", "/alert to:MY tlp:amber+strict Boat sighted")
    assert answer == ("Not sent: My Npoc (Malaysia) can receive TLP:AMBER+STRICT only over an end-to-end encrypted "
                      "channel (Matrix or the console), and has only Telegram. Ask an admin to add a Matrix account "
                      "for them (/member add), or leave them out.")
    assert bot.store.items == {}
    assert not [m for m in bot.store.outbox.values() if m.kind is MessageKind.DELIVERY]


def test_a_matrix_room_is_shared_unless_the_connector_says_it_is_the_senders_direct_chat() -> None:
    from alerts.caveats import Tlp
    from alerts.caveat_rules import private_answer, shared_chat
    room = ChatRef.parse("matrix:!dm:example.org")
    assert shared_chat(room) and private_answer(room, {Tlp.RED})
    assert not shared_chat(room, direct=True) and not private_answer(room, {Tlp.RED}, direct=True)


def test_without_a_message_id_the_room_and_officer_are_asked_to_delete_it_at_once() -> None:
    bot = Bot()
    in_room = bot.says("my-officer", RED, chat=ROOM)  # the harness gives no message id
    assert any(t.startswith("⚠ A message by My Officer (Malaysia) in this chat carries a TLP:RED alert")
               and "the platform did not say which message it was" in t for t in in_room)
    assert any(t.startswith("⚠ Your TLP:RED alert is still visible in Network room") for t in bot.received_by("my-officer"))
    assert not [m for m in bot.store.outbox.values() if m.kind is MessageKind.REMOVAL]
