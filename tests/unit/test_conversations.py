"""Conversations with the bot's command layer, on in-memory fakes and a manual clock."""

from __future__ import annotations

import itertools

import pytest

from alerts.audit import AuditAction
from alerts.clock import ManualClock
from alerts.due import DuePolicy
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage, MessageKind
from handlers.dispatcher import Dispatcher
from tests.fakes import FixedDirectory, MemoryStore, MemoryUnitOfWork
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from tests.sample_network import small_network


class Conversation:
    def __init__(self) -> None:
        self.directory = small_network()
        self.store = MemoryStore()
        self.clock = ManualClock()
        counter = itertools.count(1)
        self.dispatcher = Dispatcher(
            FixedDirectory(self.directory),
            PostingPolicy(DuePolicy.default(), {}),
            lambda: Vocabulary(topics=("document-fraud", "maritime")),
            lambda: f"key-{next(counter)}",
        )
        self._events = itertools.count(1)

    def says(self, who: str, text: str, chat: str | None = None) -> list[str]:
        """What `who` typed; returns the answers the bot queued for that chat."""
        before = set(self.store.outbox)
        message = InboundMessage(
            event_id=f"e{next(self._events)}",
            sender=UserRef.parse(f"console:{who}"),
            chat=ChatRef.parse(chat or f"console:@{who}"),
            text=text,
            received_at=self.clock.now(),
        )
        with MemoryUnitOfWork(self.store) as uow:
            self.dispatcher.handle(uow, message)
            uow.commit()
        new = [m for k, m in self.store.outbox.items() if k not in before]
        return [m.text for m in new if str(m.destination) == f"chat:{message.chat}"]

    def received_by(self, contact: str) -> list[str]:
        identity = self.directory.contacts[contact].identities[0]
        return [m.text for m in self.store.outbox.values() if str(m.destination) == f"direct:{identity}"]


@pytest.fixture
def bot() -> Conversation:
    return Conversation()


def test_an_alert_reaches_thailand_with_its_banner_and_the_officer_gets_a_reference(bot: Conversation) -> None:
    answers = bot.says("my-officer", "/alert to:TH tlp:amber topic:document-fraud grade:B2 Two travellers, flight XX123")
    assert len(answers) == 1 and answers[0].startswith("Alert A-2026-0001 accepted (TLP:AMBER H0)")
    [delivery] = bot.received_by("th-npoc")
    first_line, body, *rest = delivery.splitlines()
    assert first_line == "[TLP:AMBER] document-fraud · from Malaysia"  # routine: no priority in the banner
    assert body == "Two travellers, flight XX123"
    assert "A-2026-0001 · alert from My Officer (Malaysia) · to TH" in rest
    assert "TLP:AMBER H0 · Grade B2 (source usually reliable; information probably true)" in rest
    assert delivery.index("TLP:AMBER") < delivery.index("Two travellers")
    assert "Feedback due 30 Nov 16:00 UTC+7" in rest  # routine: seven days, on Bangkok's clock
    assert rest[-1].startswith("Acknowledge: /ack A-2026-0001")


def test_references_count_up_per_kind(bot: Conversation) -> None:
    bot.says("my-officer", "/alert to:TH first")
    answer = bot.says("my-officer", '/request to:TH purpose:"identity check" is N1234567 stolen?')
    assert answer[0].startswith("Request R-2026-0001 accepted")
    assert bot.says("my-officer", "/alert to:TH second")[0].startswith("Alert A-2026-0002")


def test_a_form_and_a_line_mean_the_same(bot: Conversation) -> None:
    bot.says("my-officer", "/alert to:TH tlp:green grade:C3 Boat sighted")
    bot.says("my-officer", "/alert\nTo: TH\nTLP: green\nGrade: C3\nBoat sighted")
    first, second = bot.received_by("th-npoc")
    assert first.replace("A-2026-0001", "A-2026-0002") == second


def test_a_parse_error_answers_briefly_and_routes_nothing(bot: Conversation) -> None:
    [answer] = bot.says("my-officer", "/alert to:TH tlp:orange Two travellers")
    assert "orange" in answer and "Example" in answer and "\n" not in answer
    assert bot.received_by("th-npoc") == []


def test_red_to_a_country_is_refused_and_the_refusal_is_audited(bot: Conversation) -> None:
    [answer] = bot.says("my-officer", "/alert to:TH tlp:red Named source details")
    assert answer.startswith("Not sent: TLP:RED goes only to named people")
    assert bot.received_by("th-npoc") == []
    refusal = [e for e in bot.store.audit if e.action is AuditAction.REFUSAL]
    assert refusal and "TLP:RED" in refusal[0].detail["reason"]


def test_red_to_a_named_person_goes_to_their_direct_chat(bot: Conversation) -> None:
    bot.says("my-officer", "/alert to:@th-npoc tlp:red Named source details")
    [delivery] = bot.received_by("th-npoc")
    assert delivery.startswith("[TLP:RED]")
    assert [m.protect_content for m in bot.store.outbox.values() if m.kind is MessageKind.DELIVERY] == [True]


def test_strangers_are_refused_and_recorded(bot: Conversation) -> None:
    [answer] = bot.says("stranger", "/alert to:TH hello")
    assert "not in this network's directory" in answer
    assert bot.store.audit[-1].action is AuditAction.REFUSAL
    assert bot.received_by("th-npoc") == []


def test_plain_conversation_is_left_alone(bot: Conversation) -> None:
    assert bot.says("my-officer", "good morning all", chat="console:#network") == []
    assert bot.store.outbox == {}


def test_roles_are_checked(bot: Conversation) -> None:
    [answer] = bot.says("auditor", "/alert to:TH something")
    assert answer.startswith("/alert needs one of these roles")


def test_the_audit_records_who_what_to_whom_and_why(bot: Conversation) -> None:
    bot.says("my-officer", '/request to:TH purpose:"prosecution case 12" tlp:amber+strict is N1234567 stolen?')
    created = next(e for e in bot.store.audit if e.action is AuditAction.ITEM_CREATED)
    assert (created.actor, created.recipients, created.reference) == ("my-officer", ("th-npoc",), "R-2026-0001")
    assert (created.caveat, created.purpose) == ("TLP:AMBER+STRICT H0", "prosecution case 12")
    assert created.channel == "console:@my-officer"


def test_help_whoami_and_contacts(bot: Conversation) -> None:
    assert "/alert" in bot.says("th-npoc", "/help")[0]
    assert "th-npoc" in bot.says("th-npoc", "/whoami")[0]
    assert "immigration desk" in bot.says("th-npoc", "/contacts TH")[0]


def test_urgent_items_reach_the_coordinator_too(bot: Conversation) -> None:
    bot.says("my-officer", "/alert to:TH priority:flash Boat in distress")
    assert len(bot.received_by("rso-coord")) == 1
    assert "Feedback due 24 Nov 16:00 UTC+7" in bot.received_by("th-npoc")[0]


def test_nothing_is_kept_without_a_commit(bot: Conversation) -> None:
    message = InboundMessage("x", UserRef.parse("console:my-officer"), ChatRef.parse("console:@my-officer"),
                             "/alert to:TH lost", bot.clock.now())
    with MemoryUnitOfWork(bot.store) as uow:
        bot.dispatcher.handle(uow, message)
    assert bot.store.outbox == {} and bot.store.audit == []


def test_a_missing_arrangement_is_confirmed_with_confirm_yes_and_recorded() -> None:
    from alerts.routing import RoutingPolicy
    from alerts.arrangements import WithoutArrangement

    bot = Conversation()
    bot.dispatcher = Dispatcher(
        FixedDirectory(bot.directory),
        PostingPolicy(DuePolicy.default(), routing=RoutingPolicy(without_arrangement=WithoutArrangement.CONFIRM)),
        lambda: Vocabulary(topics=("document-fraud", "maritime")),
        (lambda keys: lambda: f"k-{next(keys)}")(itertools.count(1)),
    )
    [answer] = bot.says("my-officer", "/alert to:CA topic:maritime Boat sighted")
    assert answer.startswith("Not sent:") and "confirm:yes" in answer
    assert bot.received_by("ca-npoc") == []
    [answer] = bot.says("my-officer", "/alert to:CA topic:maritime confirm:yes Boat sighted")
    assert "accepted" in answer
    assert len(bot.received_by("ca-npoc")) == 1
    created = next(e for e in bot.store.audit if e.action is AuditAction.ITEM_CREATED)
    assert "ca-npoc" in created.detail["confirmed_without_arrangement"] or "CA" in created.detail["confirmed_without_arrangement"]
