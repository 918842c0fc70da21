"""The follow-up commands on the real repositories: a conversation committed to SQLite and PostgreSQL.

The same dispatcher as the unit tests, but each command runs in a SqlUnitOfWork, so the SQL
repository is held to the port the fakes implement, and each audit event is recorded on the
transaction that made the change.
"""

from __future__ import annotations

import itertools

from alerts.audit import AuditAction
from alerts.clock import ManualClock
from alerts.due import DuePolicy
from alerts.identity import ChatRef, UserRef
from alerts.items import ItemKind, Reference
from alerts.lifecycle import ForwardState
from alerts.messages import InboundMessage
from handlers.dispatcher import Dispatcher
from tests.fakes import FixedDirectory
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from storage.uow import SqlUnitOfWorkFactory
from tests.sample_network import small_network

REF = Reference(ItemKind.ALERT, 2026, 1)


class SqlBot:
    def __init__(self, uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
        counter = itertools.count(1)
        self.uow_factory, self.clock = uow_factory, clock
        self.dispatcher = Dispatcher(FixedDirectory(small_network()), PostingPolicy(DuePolicy.default(), {}),
                                     lambda: Vocabulary(topics=()), lambda: f"key-{next(counter)}")
        self.audited: list[AuditAction] = []
        self._events = itertools.count(1)

    def says(self, who: str, text: str) -> None:
        message = InboundMessage(f"e{next(self._events)}", UserRef.parse(f"console:{who}"),
                                 ChatRef.parse(f"console:@{who}"), text, self.clock.now())
        with self.uow_factory() as uow:
            self.dispatcher.handle(uow, message)
            assert uow.audit.connection is uow.connection  # type: ignore[attr-defined]
            self.audited = [e.action for e in uow.audit.events]  # type: ignore[attr-defined]
            uow.commit()


def test_a_whole_exchange_is_stored(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    bot = SqlBot(uow_factory, clock)
    bot.says("my-officer", "/alert to:TH,MY tlp:amber orcon Two travellers, flight XX123")
    bot.says("th-npoc", f"/ack {REF}")
    assert bot.audited == [AuditAction.COMMAND, AuditAction.ACKNOWLEDGEMENT]
    bot.says("th-npoc", f"/reply {REF} Confirmed")
    bot.says("th-npoc", f'/forward {REF} to:TH/immigration purpose:"joint investigation"')
    assert bot.audited == [AuditAction.COMMAND, AuditAction.FORWARD]
    bot.says("my-officer", f"/consent {REF} yes")
    assert bot.audited == [AuditAction.COMMAND, AuditAction.CONSENT, AuditAction.FORWARD]
    bot.says("my-officer", f"/status {REF}")
    assert bot.audited == [AuditAction.COMMAND, AuditAction.CONSULTATION]
    bot.says("my-officer", f"/close {REF} both arrested")
    assert bot.audited == [AuditAction.COMMAND, AuditAction.CLOSURE]

    with uow_factory() as uow:
        record = uow.items.get(REF)
        [request] = uow.items.forwards(REF)
    assert record is not None and record.closure is not None and record.closure.outcome == "both arrested"
    assert [(d.contact, d.state) for d in record.deliveries] == [
        ("th-npoc", "answered"), ("my-npoc", "queued"), ("th-immigration", "queued")]
    assert record.route.deliveries[-1].reason == "forward by th-npoc, consented by my-officer"
    assert (request.state, request.purpose, request.decided_by) == (
        ForwardState.GRANTED, "joint investigation", "my-officer")


def test_a_command_that_fails_leaves_nothing_behind(uow_factory: SqlUnitOfWorkFactory, clock: ManualClock) -> None:
    bot = SqlBot(uow_factory, clock)
    bot.says("my-officer", "/alert to:TH tlp:amber orcon Boat sighted")
    message = InboundMessage("x", UserRef.parse("console:th-npoc"), ChatRef.parse("console:@th-npoc"),
                             f'/forward {REF} to:TH/immigration purpose:"x"', clock.now())
    with uow_factory() as uow:
        bot.dispatcher.handle(uow, message)  # no commit: as if the process died before it
    with uow_factory() as uow:
        assert uow.items.forwards(REF) == []
