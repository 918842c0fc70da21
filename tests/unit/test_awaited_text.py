"""A command sent without its text waits for it; refusals to strangers stay out of shared rooms; edits.

Driven through the inbox processor (as the running bot does), on the in-memory fakes and a manual clock.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from alerts.clock import ManualClock
from alerts.due import DuePolicy
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage, MessageKind
from bot.runtime.inbox import InboxProcessor
from handlers.dispatcher import UNKNOWN_SENDER, Dispatcher
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from tests.fakes import FixedDirectory, MemoryStore, MemoryUnitOfWork
from tests.sample_network import network_with_rooms

PROMPT = "Send the text of your alert now, or /cancel. I wait 5 minutes for it."


class Bot:
    def __init__(self, wait: timedelta = timedelta(minutes=5)) -> None:
        self.directory = network_with_rooms()
        self.store = MemoryStore()
        self.clock = ManualClock()
        keys = itertools.count(1)
        self.dispatcher = Dispatcher(FixedDirectory(self.directory), PostingPolicy(DuePolicy.default(), {}),
                                     lambda: Vocabulary(topics=("document-fraud", "maritime")),
                                     lambda: f"key-{next(keys)}", body_wait=wait)
        self.inbox = InboxProcessor(lambda: MemoryUnitOfWork(self.store), self.dispatcher, lambda: f"k-{next(keys)}")
        self._events = itertools.count(1)

    def says(self, who: str, text: str, chat: str | None = None, *, message_id: str | None = None,
             edit_of: str | None = None) -> list[str]:
        """`who` sends `text` in `chat` (their direct chat by default); the answers queued for that chat."""
        before = set(self.store.outbox)
        event = f"e{next(self._events)}"
        message = InboundMessage(event, UserRef.parse(f"console:{who}"), ChatRef.parse(chat or f"console:@{who}"),
                                 text, self.clock.now(), message_id=message_id or event, edit_of=edit_of)
        assert self.inbox.record(message)
        self.inbox.process_pending()
        return [m.text for k, m in self.store.outbox.items()
                if k not in before and str(m.destination) == f"chat:{message.chat}"]

    def deliveries_to(self, contact: str) -> list[str]:
        identity = self.directory.contacts[contact].identities[0]
        return [m.text for m in self.store.outbox.values()
                if m.kind is MessageKind.DELIVERY and str(m.destination) == f"direct:{identity}"]

    def sent_to(self, destination: str) -> list[str]:
        return [m.text for m in self.store.outbox.values() if str(m.destination) == destination]


@pytest.fixture
def bot() -> Bot:
    return Bot()


def test_a_command_without_its_text_takes_the_next_message_as_its_text_and_routes_once(bot: Bot) -> None:
    assert bot.says("my-officer", "/alert to:TH tlp:amber topic:document-fraud") == [PROMPT]
    bot.clock.advance(timedelta(minutes=4))
    [receipt] = bot.says("my-officer", "Two travellers with altered passports, flight XX123")
    assert receipt.startswith("Alert A-2026-0001 accepted (TLP:AMBER")
    [delivery] = bot.deliveries_to("th-npoc")
    assert "Two travellers with altered passports, flight XX123" in delivery
    assert bot.says("my-officer", "and one more thing") == []  # the wait is over: chatter again
    assert bot.deliveries_to("th-npoc") == [delivery] and len(bot.store.items) == 1


def test_the_form_style_and_a_reply_wait_for_their_text_too(bot: Bot) -> None:
    assert bot.says("my-officer", "/alert\nTo: TH\nTLP: green") == [PROMPT]
    assert bot.says("my-officer", "Boat sighted")[0].startswith("Alert A-2026-0001 accepted (TLP:GREEN")
    assert bot.says("th-npoc", "/reply A-2026-0001") == [
        "Send the text of your reply now, or /cancel. I wait 5 minutes for it."]
    assert bot.says("my-officer", '/request to:TH purpose:"identity check"') == [
        "Send the text of your request now, or /cancel. I wait 5 minutes for it."]
    assert bot.says("my-officer", "Is N1234567 stolen?")[0].startswith("Request R-2026-0001 accepted")
    bot.says("th-npoc", "Confirmed, we see it too")
    assert "Confirmed, we see it too" in bot.sent_to("direct:console:my-officer")[-1]  # relayed to the sender


def test_cancel_ends_the_wait_and_nothing_is_sent(bot: Bot) -> None:
    bot.says("my-officer", "/alert to:TH")
    assert bot.says("my-officer", "/cancel") == ["Cancelled: your alert was not sent."]
    assert bot.says("my-officer", "Two travellers") == []
    assert bot.says("my-officer", "/cancel") == ["Nothing to cancel."]
    assert bot.store.items == {} and bot.deliveries_to("th-npoc") == []


def test_a_new_command_replaces_the_wait(bot: Bot) -> None:
    bot.says("my-officer", "/alert to:TH")
    assert bot.says("my-officer", "/whoami")[0].startswith("You are")
    assert bot.says("my-officer", "Two travellers") == []
    assert bot.store.items == {}


def test_after_the_wait_the_text_is_not_taken_and_the_sender_is_told(bot: Bot) -> None:
    bot.says("my-officer", "/alert to:TH")
    bot.clock.advance(timedelta(minutes=5, seconds=1))
    [answer] = bot.says("my-officer", "Two travellers")
    assert answer.startswith("Your alert waited more than 5 minutes for its text and was dropped: nothing was sent.")
    assert bot.says("my-officer", "Two travellers") == []  # told once
    assert bot.store.items == {}


def test_the_wait_is_configurable() -> None:
    bot = Bot(wait=timedelta(minutes=1))
    assert bot.says("my-officer", "/alert to:TH") == [
        "Send the text of your alert now, or /cancel. I wait 1 minute for it."]
    bot.clock.advance(timedelta(seconds=90))
    assert "waited more than 1 minute" in bot.says("my-officer", "Two travellers")[0]


def test_only_the_same_person_in_the_same_chat_gives_the_text(bot: Bot) -> None:
    assert bot.says("my-officer", "/alert to:TH", "console:#network") == [PROMPT]
    assert bot.says("th-npoc", "what is this about?", "console:#network") == []   # someone else in the room
    assert bot.says("my-officer", "Two travellers") == []                          # the same person elsewhere
    assert bot.store.items == {}
    assert bot.says("my-officer", "Two travellers", "console:#network")[0].startswith("Alert A-2026-0001 accepted")


def test_another_mistake_is_refused_as_before_and_waits_for_nothing(bot: Bot) -> None:
    [answer] = bot.says("my-officer", "/alert tlp:amber")
    assert answer.startswith("Say who gets the alert")
    assert bot.says("my-officer", "Two travellers") == []
    [answer] = bot.says("admin", "/alert to:TH")  # an admin alone may not send: told so, not asked for the text
    assert answer.startswith("/alert needs one of these roles")
    assert bot.says("admin", "Two travellers") == []


def test_a_stranger_in_a_shared_room_is_answered_in_a_direct_chat_only(bot: Bot) -> None:
    assert bot.says("stranger", "/alert to:TH Two travellers", "console:#network") == []
    assert bot.sent_to("direct:console:stranger") == [UNKNOWN_SENDER]
    assert bot.says("stranger", "/whoami") == [UNKNOWN_SENDER]  # in their direct chat: answered there
    assert bot.store.items == {}


def test_an_edit_of_a_refused_command_is_taken_as_a_new_command(bot: Bot) -> None:
    [refused] = bot.says("my-officer", "/alert to:TH tlp:orange Two travellers", message_id="m1")
    assert "orange" in refused
    [receipt] = bot.says("my-officer", "/alert to:TH tlp:amber Two travellers", message_id="m2", edit_of="m1")
    assert receipt.startswith("Alert A-2026-0001 accepted")
    assert len(bot.deliveries_to("th-npoc")) == 1
    # Matrix gives each edit an id of its own, and names the original in every later edit
    [answer] = bot.says("my-officer", "/alert to:TH tlp:amber Three travellers", message_id="m3", edit_of="m1")
    assert answer.startswith("Your alert A-2026-0001 was already sent")
    assert len(bot.store.items) == 1


def test_an_edit_of_a_message_that_was_no_command_is_taken_as_a_command(bot: Bot) -> None:
    assert bot.says("my-officer", "alert to:TH Two travellers", message_id="m1") == []
    assert bot.says("my-officer", "/alert to:TH Two travellers", edit_of="m1")[0].startswith("Alert A-2026-0001")


def test_an_edit_of_an_accepted_command_is_answered_and_not_run_again(bot: Bot) -> None:
    bot.says("my-officer", "/alert to:TH Two travellers", message_id="m1")
    [answer] = bot.says("my-officer", "/alert to:TH Three travellers", edit_of="m1")
    assert answer.startswith("Your alert A-2026-0001 was already sent as you first wrote it")
    assert "ask a coordinator" in answer
    assert len(bot.store.items) == 1 and len(bot.deliveries_to("th-npoc")) == 1
    bot.says("my-officer", "/whoami", message_id="m2")
    assert bot.says("my-officer", "/mine", edit_of="m2") == [
        "That command was already carried out as you first wrote it; editing your message does not run it "
        "again. Send the corrected command as a new message."]


def test_an_edit_of_a_command_completed_by_its_text_is_answered_too(bot: Bot) -> None:
    bot.says("my-officer", "/alert to:TH", message_id="m1")
    bot.says("my-officer", "Two travellers", message_id="m2")
    assert bot.says("my-officer", "/alert to:TH tlp:red x", edit_of="m1")[0].startswith("Your alert A-2026-0001")
    assert len(bot.store.items) == 1


def test_an_edit_by_someone_else_is_their_own_command(bot: Bot) -> None:
    bot.says("my-officer", "/alert to:TH Two travellers", message_id="m1", chat="console:#network")
    [answer] = bot.says("th-npoc", "/whoami", "console:#network", edit_of="m1")
    assert answer.startswith("Th Npoc: answered in your direct chat")  # their own /whoami, not my-officer's


def test_an_edited_command_on_matrix_names_commands_with_an_exclamation_mark() -> None:
    from handlers.dispatcher import command

    message = InboundMessage("e", UserRef.parse("matrix:@a:example.org"), ChatRef.parse("matrix:!r:example.org"),
                             "x", ManualClock().now())
    assert command(message, "cancel") == "!cancel"


# --- the guided form, with numbered choices (Matrix and the console) ----------------------------------

def test_the_guided_form_asks_with_numbered_choices_and_sends_what_it_built(bot: Bot) -> None:
    [question] = bot.says("my-officer", "/alert")
    assert question.startswith("New alert · step 1 of 7\nWho should receive it?")
    assert "1. All members\n2. By topic (its usual recipients)" in question
    assert question.endswith("Reply with a number or a word, or /cancel to stop.")
    [question] = bot.says("my-officer", "TH")
    assert "Which TLP?" in question and "3. AMBER" in question
    assert "Priority?" in bot.says("my-officer", "3")[0]           # amber, by its number
    assert "Topic?" in bot.says("my-officer", "urgent")[0]          # by its word
    assert "Source reliability?" in bot.says("my-officer", "document-fraud")[0]
    assert "Incident fields, if any" in bot.says("my-officer", "B2")[0]  # typed, as the question allows
    assert "Now write the text" in bot.says("my-officer", "1")[0]  # None
    [summary] = bot.says("my-officer", "Two travellers with altered passports")
    assert summary.startswith("Ready to send this alert:\nTo: TH\nTLP:AMBER · priority urgent · topic document-fraud")
    assert "1. Send\n2. Cancel" in summary
    [receipt] = bot.says("my-officer", "1")
    assert receipt.startswith("Alert A-2026-0001 accepted (TLP:AMBER")
    [delivery] = bot.deliveries_to("th-npoc")
    assert "URGENT" in delivery and "Two travellers with altered passports" in delivery
    assert bot.says("my-officer", "thanks") == []  # the form is over


def test_a_wrong_answer_is_pointed_out_and_asked_again_and_cancel_leaves(bot: Bot) -> None:
    bot.says("my-officer", "/request")
    bot.says("my-officer", "TH")
    [again] = bot.says("my-officer", "orange")
    assert "orange" in again and "Which TLP?" in again
    assert bot.says("my-officer", "/cancel") == ["Cancelled. Nothing was sent."]
    assert bot.says("my-officer", "amber") == [] and bot.store.items == {}


def test_the_form_starts_only_in_a_direct_chat_and_for_whoever_may_send(bot: Bot) -> None:
    [answer] = bot.says("my-officer", "/alert", "console:#network")
    assert answer.startswith("Say who gets the alert")  # in a room, a bare /alert is refused as before
    [answer] = bot.says("admin", "/alert")  # an admin alone may not send alerts: no form for them
    assert answer.startswith("Say who gets the alert")
    assert bot.says("admin", "TH") == []


def test_a_form_left_open_expires_after_two_hours(bot: Bot) -> None:
    bot.says("my-officer", "/alert")
    bot.clock.advance(timedelta(hours=1, minutes=59))
    assert "Which TLP?" in bot.says("my-officer", "TH")[0]
    bot.clock.advance(timedelta(minutes=2))
    assert bot.says("my-officer", "TH") == ["Your alert form expired before it was sent. Send /alert to start again."]
    assert bot.says("my-officer", "TH") == []
