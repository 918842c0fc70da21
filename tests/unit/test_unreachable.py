"""Copies for people with no account on a platform the bot runs: said at once, never queued forever."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from alerts.audit import AuditAction
from alerts.clock import ManualClock
from alerts.due import DuePolicy
from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import InboundMessage
from bot.cli.main import main
from handlers.dispatcher import Dispatcher
from tests.fakes import FixedDirectory, MemoryStore, MemoryUnitOfWork
from handlers.post_item import PostingPolicy
from handlers.vocabulary import Vocabulary
from tests.sample_network import small_network

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


class Bot:
    def __init__(self, platforms: frozenset[Platform]) -> None:
        self.store = MemoryStore()
        self.clock = ManualClock()
        counter = itertools.count(1)
        self.dispatcher = Dispatcher(FixedDirectory(small_network()),
                                     PostingPolicy(DuePolicy.default(), {}, platforms=platforms),
                                     lambda: Vocabulary(topics=("document-fraud",)), lambda: f"key-{next(counter)}")
        self._events = itertools.count(1)

    def says(self, who: str, text: str) -> list[str]:
        before = set(self.store.outbox)
        message = InboundMessage(event_id=f"e{next(self._events)}", sender=UserRef.parse(f"console:{who}"),
                                 chat=ChatRef.parse(f"console:@{who}"), text=text, received_at=self.clock.now())
        with MemoryUnitOfWork(self.store) as uow:
            self.dispatcher.handle(uow, message)
            uow.commit()
        return [m.text for k, m in self.store.outbox.items()
                if k not in before and str(m.destination) == f"chat:{message.chat}"]

    def queued_for(self, contact: str) -> list[str]:
        return [str(m.destination) for m in self.store.outbox.values() if m.contact == contact and m.reference]


def test_the_receipt_names_who_cannot_be_reached_and_their_copies_are_not_queued() -> None:
    bot = Bot(frozenset({Platform.MATRIX}))  # only au-npoc has a Matrix account; rso-coord is added as urgent
    [receipt] = bot.says("my-officer", "/alert to:AU,TH priority:urgent Two travellers")
    assert receipt.startswith("Alert A-2026-0001 accepted")
    assert "Sending to Au Npoc (Australia)." in receipt
    assert "Cannot reach: Th Npoc (Thailand) — no account on an enabled platform." in receipt
    assert "Cannot reach: Rso Coord (Regional Support Office) — no account on an enabled platform." in receipt
    assert bot.queued_for("au-npoc") == ["direct:matrix:@au-npoc:example.org"]
    assert bot.queued_for("th-npoc") == [] and bot.queued_for("rso-coord") == []
    record = bot.store.items["A-2026-0001"]
    assert {d.contact: d.state for d in record.deliveries} == {"au-npoc": "queued", "th-npoc": "failed",
                                                               "rso-coord": "failed"}
    [created] = [e for e in bot.store.audit if e.action is AuditAction.ITEM_CREATED]
    assert "th-npoc: no account on an enabled platform" in created.detail["unreachable"]

    status = bot.says("my-officer", "/status A-2026-0001")[0]
    assert "Th Npoc (Thailand): undeliverable (no account on an enabled platform)" in status
    assert "Au Npoc (Australia): queued" in status


def test_a_direct_copy_goes_to_the_first_account_on_a_running_platform() -> None:
    bot = Bot(frozenset({Platform.TELEGRAM}))  # au-npoc lists Matrix first, then Telegram
    [receipt] = bot.says("my-officer", "/alert to:AU Two travellers")
    assert "Cannot reach" not in receipt
    assert bot.queued_for("au-npoc") == ["direct:telegram:user:4242"]


def test_an_item_nobody_can_receive_is_refused_and_routes_nothing() -> None:
    bot = Bot(frozenset({Platform.MATRIX}))
    [answer] = bot.says("my-officer", "/alert to:TH Two travellers")
    assert answer == ("Not sent: nobody it is for can be reached. Cannot reach: Th Npoc (Thailand) — "
                      "no account on an enabled platform.")
    assert bot.store.items == {} and bot.queued_for("th-npoc") == []
    [refusal] = [e for e in bot.store.audit if e.action is AuditAction.REFUSAL]
    assert refusal.detail["reason"].startswith("unreachable: Th Npoc (Thailand)")


def test_check_config_warns_once_per_contact_no_enabled_platform_reaches(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    text = EXAMPLE.read_text()
    # The sample network with the console off and Matrix on: everyone but one person is console-only.
    text = text.replace("[console]\nenabled = true", "[console]\nenabled = false", 1)
    text = text.replace("[matrix]\nenabled = false", '[matrix]\nenabled = true\nhomeserver = "https://m.example.org"\n'
                        'user_id = "@bot:example.org"\naccess_token = { env = "T_TOKEN" }\n'
                        'pickle_key = { env = "T_PICKLE" }', 1)
    text = text.replace('identities = ["console:th-npoc"]', 'identities = ["console:th-npoc", "matrix:@th:example.org"]')
    assert "matrix:@th:example.org" in text
    config = tmp_path / "config.toml"
    config.write_text(text)
    monkeypatch.setenv("T_TOKEN", "x")
    monkeypatch.setenv("T_PICKLE", "y")
    assert main(["check-config", "--config", str(config)]) == 0
    err = capsys.readouterr().err.splitlines()
    coordinator = [line for line in err if "contact rso-coordinator " in line]
    position = text[:text.index('id = "rso-coordinator"')].count("[[network.contacts]]") - 1
    assert coordinator == [
        f"warning: {config}: network.contacts[{position}].identities: contact rso-coordinator (Network coordinator "
        "(Regional Support Office)) has no account on an enabled platform (accounts: console:rso-coordinator): set "
        "aside, nothing reaches them; expected an account on a platform this bot runs (matrix), such as "
        '"@alice:example.org"; routed to by: to:@rso-coordinator, urgent items and escalations (coordinator)']
    assert not [line for line in err if "contact th-npoc " in line]
    assert len([line for line in err if line.startswith("warning:") and "no account on an enabled" in line]) \
        == text.count("[[network.contacts]]") - 1

