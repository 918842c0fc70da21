"""An answer is attached where the connector asked (InboundMessage.answer_to: on Matrix the command's
thread, or a reply to it), and an answer moved to the asker's direct chat carries no such relation."""

from __future__ import annotations

from alerts.identity import ChatRef, MessageRef, UserRef
from alerts.messages import InboundMessage
from tests.unit.test_awaited_text import Bot

ROOM = ChatRef.parse("console:#network")


def sent(bot: Bot, who: str, text: str, chat: ChatRef,
         answer_to: MessageRef | None) -> list[tuple[str, MessageRef | None]]:
    before = set(bot.store.outbox)
    assert bot.inbox.record(InboundMessage("e1", UserRef.parse(f"console:{who}"), chat, text, bot.clock.now(),
                                           message_id="e1", answer_to=answer_to))
    bot.inbox.process_pending()
    return [(str(m.destination), m.reply_to) for k, m in bot.store.outbox.items() if k not in before]


def test_an_answer_replies_where_the_connector_asked_and_plain_where_it_did_not() -> None:
    point = MessageRef(ROOM, "e1 root")
    assert sent(Bot(), "my-officer", "/help", ROOM, point) == [(f"chat:{ROOM}", point)]
    assert sent(Bot(), "my-officer", "/help", ROOM, None) == [(f"chat:{ROOM}", None)]


def test_an_answer_moved_to_a_direct_chat_replies_to_nothing() -> None:
    assert sent(Bot(), "stranger", "/whoami", ROOM, MessageRef(ROOM, "e1")) == [("direct:console:stranger", None)]
