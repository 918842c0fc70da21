"""/alert through the dispatcher with rules, rooms and arrangements: what the officer is told, what is queued."""

from __future__ import annotations

import itertools

from alerts.arrangements import WithoutArrangement
from alerts.audit import AuditAction
from alerts.clock import ManualClock
from alerts.due import DuePolicy
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage, MessageKind
from alerts.routing import PostIn, RoutingPolicy
from handlers.dispatcher import Dispatcher
from tests.fakes import FixedDirectory, MemoryStore, MemoryUnitOfWork
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from tests.sample_network import network_with_rooms


def says(routing: RoutingPolicy, who: str, text: str) -> tuple[list[str], MemoryStore]:
    store, keys = MemoryStore(), itertools.count(1)
    dispatcher = Dispatcher(FixedDirectory(network_with_rooms()), PostingPolicy(DuePolicy.default(), routing=routing),
                            lambda: Vocabulary(topics=("document-fraud", "people-smuggling")),
                            lambda: f"key-{next(keys)}")
    message = InboundMessage("e1", UserRef.parse(f"console:{who}"), ChatRef.parse(f"console:@{who}"), text,
                             ManualClock().now())
    with MemoryUnitOfWork(store) as uow:
        dispatcher.handle(uow, message)
        uow.commit()
    answers = [m.text for m in store.outbox.values() if str(m.destination) == f"chat:console:@{who}"]
    return answers, store


def test_a_missing_arrangement_is_refused_named_and_audited() -> None:
    [answer], store = says(RoutingPolicy(), "my-officer", "/alert to:TH,CA topic:people-smuggling Boat left")
    assert answer == ("Not sent: Malaysia has no sharing arrangement with Canada for people-smuggling (MoU MY-CA 2021 "
                      "covers document-fraud only). Leave Canada out, or ask a coordinator to record the arrangement.")
    assert [m for m in store.outbox.values() if m.kind is MessageKind.DELIVERY] == []
    [refusal] = [e for e in store.audit if e.action is AuditAction.REFUSAL]
    assert "no sharing arrangement with Canada" in refusal.detail["reason"]


def test_with_confirm_the_answer_names_what_is_missing_and_how_to_go_on() -> None:
    policy = RoutingPolicy(without_arrangement=WithoutArrangement.CONFIRM)
    [answer], store = says(policy, "my-officer", "/alert to:CA topic:people-smuggling Boat left")
    assert answer.startswith("Not sent: Malaysia has no sharing arrangement with Canada for people-smuggling")
    assert answer.endswith("To send anyway, repeat the command with confirm:yes (it is recorded); or leave Canada "
                           "out, or ask a coordinator to record the arrangement.")
    assert any(e.action is AuditAction.REFUSAL for e in store.audit)


def test_a_room_post_is_queued_once_and_everyone_it_reaches_is_audited_and_named() -> None:
    [answer], store = says(RoutingPolicy(post=PostIn.ROOMS), "my-officer", "/alert to:TH/immigration,TH tlp:green x")
    deliveries = [m for m in store.outbox.values() if m.kind is MessageKind.DELIVERY]
    assert [(str(m.destination), m.contact) for m in deliveries] == [("chat:console:#thailand", "th-immigration")]
    [created] = [e for e in store.audit if e.action is AuditAction.ITEM_CREATED]
    assert created.recipients == ("th-immigration", "th-npoc")
    assert "Th Npoc (Thailand)" in answer and "Th Immigration (Thailand immigration)" in answer
