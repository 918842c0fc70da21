"""A command sent by a button plans the button's outcome (alerts.pressed) in its own transaction:
only when the command did something, in the presser's time zone, with what was true before."""

from __future__ import annotations

import itertools

from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage, MessageKind, OutboundMessage
from alerts.pressed import ButtonState
from tests.fakes import MemoryUnitOfWork
from tests.unit.test_followup_harness import Bot

REF = "A-2026-0001"
_events = itertools.count(1000)


def pressed(bot: Bot, who: str, text: str, on: str | None = "7:42") -> list[OutboundMessage]:
    """`who` sends `text` by a button on message `on` (None: typed); the rows it queued, in order."""
    before = set(bot.store.outbox)
    with MemoryUnitOfWork(bot.store) as uow:
        bot.dispatcher.handle(uow, InboundMessage(f"e{next(_events)}", UserRef.parse(f"console:{who}"),
                                                  ChatRef.parse(f"console:@{who}"), text, bot.clock.now(), pressed=on))
        uow.commit()
    return [m for k, m in bot.store.outbox.items() if k not in before]


def states(rows: list[OutboundMessage]) -> list[ButtonState]:
    return [ButtonState.from_json(m.text) for m in rows if m.kind is MessageKind.BUTTONS]


def posted(to: str) -> Bot:
    bot = Bot()
    bot.says("my-officer", f"/alert to:{to} tlp:amber topic:document-fraud Two travellers, flight XX123")
    bot.worker_sends()
    return bot


def test_acknowledge_by_button_becomes_its_outcome_on_the_pressers_clock() -> None:
    bot = posted("TH")  # th-npoc is in Asia/Bangkok; the clock says 09:01 UTC
    rows = pressed(bot, "th-npoc", f"/ack {REF}")
    assert states(rows) == [ButtonState("7:42", REF, acknowledged="16:01")]
    assert rows[0].kind is MessageKind.BUTTONS and str(rows[0].destination) == "chat:console:@th-npoc"


def test_someone_without_a_zone_reads_utc_named() -> None:
    bot = posted("IOM")
    assert states(pressed(bot, "iom-npoc", f"/ack {REF}")) == [ButtonState("7:42", REF, acknowledged="09:01 UTC")]


def test_a_typed_command_or_a_refused_press_changes_no_button() -> None:
    bot = posted("TH")
    assert states(pressed(bot, "th-npoc", f"/ack {REF}", on=None)) == []
    assert states(pressed(bot, "my-officer", f"/ack {REF}")) == []  # not a recipient: refused


def test_a_snooze_keeps_the_acknowledgement_shown() -> None:
    bot = posted("TH")
    pressed(bot, "th-npoc", f"/ack {REF}")
    bot.later(60)
    [state] = states(pressed(bot, "th-npoc", f"/snooze {REF} 4h checking records"))
    assert state == ButtonState("7:42", REF, acknowledged="16:01", held_until="21:01")


def test_a_second_ack_by_button_still_shows_the_first() -> None:
    bot = posted("TH")
    pressed(bot, "th-npoc", f"/ack {REF}", on=None)
    bot.later(30)
    assert states(pressed(bot, "th-npoc", f"/ack {REF}")) == [ButtonState("7:42", REF, acknowledged="16:01")]
