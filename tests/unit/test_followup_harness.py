"""The conversation harness for the follow-up and forwarding tests, and the fakes' contract under it.

`Bot` is the dispatcher on in-memory fakes with a manual clock, as in test_conversations.py, plus
what follow-up needs: a stand-in delivery worker that marks deliveries sent, and a look at the
audit actions one command produced.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

from alerts.audit import AuditAction
from alerts.clock import ManualClock
from alerts.directory import Directory
from alerts.due import DuePolicy
from alerts.identity import ChatRef, UserRef
from alerts.items import ItemKind, Reference
from alerts.lifecycle import Closure, ForwardRequest, ForwardState
from alerts.messages import Attachment, InboundMessage, MessageKind, OutboundMessage
from handlers.dispatcher import Dispatcher
from tests.fakes import FixedDirectory, MemoryStore, MemoryUnitOfWork
from handlers.ports import ItemRecord
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from tests.sample_network import small_network


class Bot:
    def __init__(self, directory: Directory | None = None, policy: PostingPolicy | None = None) -> None:
        self.directory = directory or small_network()
        self.store = MemoryStore()
        self.clock = ManualClock()
        counter = itertools.count(1)
        self.directory_source = FixedDirectory(self.directory)  # tests may swap its snapshot
        self.dispatcher = Dispatcher(
            self.directory_source,
            policy or PostingPolicy(DuePolicy.default(), {}),
            lambda: Vocabulary(topics=("document-fraud", "maritime")),
            lambda: f"key-{next(counter)}",
        )
        self._events = itertools.count(1)
        self.last_audit: list[AuditAction] = []

    def says(self, who: str, text: str, chat: str | None = None, account: str | None = None,
             attachments: tuple[Attachment, ...] = ()) -> list[str]:
        """What `who` typed (from `account`, by default their console one; with `attachments`, as a
        caption); the answers queued for that chat. `last_audit` holds what it audited."""
        before, audited = set(self.store.outbox), len(self.store.audit)
        message = InboundMessage(
            event_id=f"e{next(self._events)}",
            sender=UserRef.parse(account or f"console:{who}"),
            chat=ChatRef.parse(chat or f"console:@{who}"),
            text=text,
            received_at=self.clock.now(),
            attachments=attachments,
        )
        with MemoryUnitOfWork(self.store) as uow:
            self.dispatcher.handle(uow, message)
            uow.commit()
        self.last_audit = [e.action for e in self.store.audit[audited:]]
        new = [m for k, m in self.store.outbox.items() if k not in before]
        return [m.text for m in new if str(m.destination) == f"chat:{message.chat}"]

    def answer(self, who: str, text: str) -> str:
        """The one answer `who` gets to `text`."""
        [answer] = self.says(who, text)
        return answer

    def messages_to(self, contact: str) -> list[OutboundMessage]:
        identity = self.directory.contacts[contact].identities[0]
        return self.store.messages_to(f"direct:{identity}")

    def received_by(self, contact: str) -> list[str]:
        return [m.text for m in self.messages_to(contact)]

    def last_to(self, contact: str) -> str:
        return self.received_by(contact)[-1]

    def worker_sends(self, after: timedelta = timedelta(minutes=1)) -> None:
        """The delivery worker's part: every queued delivery is marked sent, `after` from now."""
        self.clock.advance(after)
        with MemoryUnitOfWork(self.store) as uow:
            for message in self.store.outbox.values():
                if message.kind is MessageKind.DELIVERY and self.store.outbox_state.get(message.key) is None:
                    uow.items.mark_delivery(message.key, "sent", self.clock.now(), f"msg-{message.key}")
            uow.commit()
        for message in self.store.outbox.values():  # every row it could send, it sent
            if self.store.outbox_state.setdefault(message.key, "sent") == "sent":
                self.store.outbox_sent.setdefault(message.key, (f"msg-{message.key}", self.clock.now()))

    def later(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))

    def record(self, reference: str) -> ItemRecord:
        return self.store.items[reference]


# --- the fakes keep the same contract as storage -----------------------------------------------

def _posted(bot: Bot) -> Reference:
    bot.says("my-officer", "/alert to:TH tlp:amber Boat sighted")
    return Reference(ItemKind.ALERT, 2026, 1)


def test_fake_deliveries_move_forward_only_and_keep_first_times() -> None:
    bot = Bot()
    reference = _posted(bot)
    key = bot.record(str(reference)).deliveries[0].outbox_key
    t0 = bot.clock.now()
    with MemoryUnitOfWork(bot.store) as uow:
        assert uow.items.mark_delivery(key, "acknowledged", t0 + timedelta(minutes=2))
        assert uow.items.mark_delivery(key, "sent", t0 + timedelta(minutes=1), "m1")
        assert uow.items.mark_delivery(key, "acknowledged", t0 + timedelta(minutes=9))
        assert not uow.items.mark_delivery("no-such-key", "sent", t0)
        uow.commit()
    [delivery] = bot.record(str(reference)).deliveries
    assert (delivery.state, delivery.sent_at, delivery.acknowledged_at, delivery.platform_message_id) == (
        "acknowledged", t0 + timedelta(minutes=1), t0 + timedelta(minutes=2), "m1")


def test_fake_close_and_decide_happen_once_and_only_on_commit() -> None:
    bot = Bot()
    reference = _posted(bot)
    now = bot.clock.now()
    request = ForwardRequest("f1", str(reference), "th-npoc", ("TH",), ("th-immigration",), "why", now)
    with MemoryUnitOfWork(bot.store) as uow:
        assert uow.items.close(reference, Closure("my-officer", now, "done"))
        assert not uow.items.close(reference, Closure("rso-coord", now, "again"))
        uow.items.add_forward(request)
    assert bot.record(str(reference)).closure is None and bot.store.forwards == {}
    with MemoryUnitOfWork(bot.store) as uow:
        uow.items.add_forward(request)
        assert uow.items.decide_forward("f1", ForwardState.REFUSED, "my-officer", now, "no")
        assert not uow.items.decide_forward("f1", ForwardState.GRANTED, "my-officer", now, "yes after all")
        uow.commit()
    [stored] = bot.store.forwards.values()
    assert (stored.state, stored.reason) == (ForwardState.REFUSED, "no")
