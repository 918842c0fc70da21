"""A reminder waiting to be sent (its platform said "wait") is not sent once what it asks for is done.

The running bot of config.example.toml with a manual clock (tests/e2e/command_world.py): the
reminder round queues a reminder, the platform rate-limits it, the recipient answers meanwhile (on
another device, another platform), and then the platform takes messages again. What the reminder
asked for is done: "Overdue: please answer" must not reach someone who has just answered, nor an
escalation tell the coordinators that someone owes what they have given.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import MessageKind
from bot.connectors.base import Outgoing
from bot.connectors.errors import RateLimited
from storage.tables import outbox
from tests.e2e.command_world import RecordingSink, World

FOLLOW_UP = (MessageKind.REMINDER, MessageKind.ESCALATION)


class WaitingSink(RecordingSink):
    """The console, rate-limiting reminders and escalations while `waiting` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = False

    async def send(self, message: Outgoing) -> str:
        if self.waiting and message.kind in FOLLOW_UP:
            raise RateLimited("429", "too many requests", retry_after=1800)
        return await super().send(message)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    (tmp_path / "bot").mkdir()
    world = World(tmp_path / "bot", None)
    world.sink = WaitingSink()
    world.rt.connectors[Platform.CONSOLE] = world.sink
    try:
        yield world
    finally:
        world.shutdown()
        shutil.rmtree(tmp_path / "bot", ignore_errors=True)


def says(world: World, who: str, text: str) -> list[Outgoing]:
    return world.says(UserRef.parse(f"console:{who}"), ChatRef.parse(f"console:@{who}"), text).sent


def waiting_follow_ups(world: World, reference: str) -> dict[str, str]:
    """The item's reminders and escalations queued and not sent, by key: the contact each goes to."""
    with world.rt.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.key, outbox.c.contact).where(
            outbox.c.reference == reference, outbox.c.kind.in_([k.value for k in FOLLOW_UP]),
            outbox.c.state.in_(["pending", "sending"]))).all()
    return {row.key: row.contact for row in rows}


def follow_ups_sent(world: World, since: int) -> list[Outgoing]:
    return [m for m in world.sink.sent[since:] if m.kind in FOLLOW_UP]


REQUEST = '/request to:@my-npoc feedback:2h purpose:"visa check" Please confirm visa V-1 status'
URGENT = "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted off Satun"


@pytest.mark.parametrize("post, reference, late, who, done", [
    # The answer was due; the recipient answers while its reminder waits.
    (REQUEST, "R-2026-0001", timedelta(hours=2), "my-npoc", "/reply R-2026-0001 The visa is valid"),
    # The acknowledgement was due; they acknowledge while its reminder waits.
    (URGENT, "A-2026-0001", timedelta(hours=1), "th-npoc", "/ack A-2026-0001"),
    # Overdue long enough to reach the backup and the coordinators; the originator closes it meanwhile.
    (URGENT, "A-2026-0001", timedelta(hours=2), "my-officer", "/close A-2026-0001 resolved by phone"),
], ids=["answered", "acknowledged", "closed"])
def test_a_reminder_waiting_to_be_sent_is_dropped_once_what_it_asks_for_is_done(
        world: World, post: str, reference: str, late: timedelta, who: str, done: str) -> None:
    says(world, "my-officer" if post == URGENT else "th-officer", post)
    world.sink.waiting = True
    world.later(late)
    waiting = waiting_follow_ups(world, reference)
    assert waiting, "the round queued a reminder, and the platform made it wait"
    says(world, who, done)
    world.sink.waiting = False
    seen = len(world.sink.sent)
    world.later(timedelta(minutes=31))  # past the platform's retry-after
    sent = [(m.contact, m.text.splitlines()[1]) for m in follow_ups_sent(world, seen)
            if m.key in waiting]
    assert sent == [], sent
    assert waiting_follow_ups(world, reference) == {}
