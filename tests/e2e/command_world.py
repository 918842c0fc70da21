"""The running bot of config.example.toml (bot.runtime.app.build_runtime on its own folder, SQLite or a
PostgreSQL database), driven as its connectors and scheduler drive it, with a model of what it must
never do. Used by tests/e2e/test_command_state_machine.py.

Every body and every feedback text carries a marker word of its own; the world remembers, for each
marker, where it was typed, which item it belongs to (and so its TLP) and whether that item was
erased since. The checks read what the bot sent (a sink in place of the console connector), the
inbox, the outbox and the audit log.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select

from alerts.caveats import Tlp
from alerts.clock import ManualClock
from alerts.identity import ChatRef, Platform, UserRef
from alerts.items import Reference
from alerts.messages import InboundMessage, MessageKind
from alerts.reminder_policy import zone_of
from alerts.routing import Destination, DestinationKind
from bot.config.settings import load_settings
from bot.connectors.base import Outgoing
from bot.runtime.app import Runtime, build_runtime
from bot.scheduling.retention import RetentionSweeper
from bot.scheduling.scheduler import previous_month, reminder_service
from handlers.command_list import COMMANDS
from storage import keyring as keyfile
from storage.audit.erasure import erase
from storage.audit.verify import verify
from storage.tables import inbox, items, outbox
from tests.ops.failover_pair import write_config

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday, 16:00 in Bangkok
STRICT = frozenset({Tlp.RED, Tlp.AMBER_STRICT})
# What the bot must never say: an error reference (a handler that raised), a parser that raised, a traceback.
DEFECTS = ("Traceback", "Something went wrong", "Sorry, I could not read that command")


class RecordingSink:
    """The console platform, accepting everything and keeping it in order."""

    platform = Platform.CONSOLE

    def __init__(self) -> None:
        self.sent: list[Outgoing] = []

    async def send(self, message: Outgoing) -> str:
        self.sent.append(message)
        return f"sink-{message.key}"


@dataclass
class Marker:
    word: str
    origin: ChatRef
    sender: UserRef
    reference: str | None = None  # the item the text belongs to, once the bot took it as that item's
    tlp: Tlp | None = None
    erased_at: int | None = None  # how many messages had been sent when its item was erased


@dataclass
class Said:
    """One command handled: what it was, and what the bot sent while handling it."""

    text: str
    sender: UserRef
    chat: ChatRef
    sent: list[Outgoing] = field(default_factory=list)


def is_room(destination: Destination) -> bool:
    return (destination.kind is DestinationKind.CHAT and isinstance(destination.address, ChatRef)
            and destination.address.is_direct is False)


def reaches(destination: Destination, sender: UserRef, chat: ChatRef) -> bool:
    """Whether a message goes to the chat a command came from, or to its sender's direct chat."""
    return destination in (Destination.chat(chat), Destination.direct(sender),
                           Destination.chat(sender.direct_chat() or chat))


class World:
    def __init__(self, workdir: Path, database_url: str | None) -> None:
        self.workdir = workdir
        self.config = write_config(workdir, database_url)
        self.clock = ManualClock(T0)
        self.loop = asyncio.new_event_loop()
        self.sink = RecordingSink()
        self.out = io.StringIO()
        self.markers: dict[str, Marker] = {}
        self.erased: set[str] = set()
        self.known: dict[str, Tlp] = {}  # every item the bot numbered, with its TLP
        self._events = itertools.count(1)
        self._marks = itertools.count(1)
        self.checked = 0  # messages in sink.sent already checked
        self.runtime: Runtime | None = None
        self.start()

    # --- the bot's life ----------------------------------------------------------------------

    def start(self) -> None:
        settings = load_settings(self.config)
        self.runtime = build_runtime(settings, out=self.out, clock=self.clock, notice=io.StringIO())
        self.runtime.connectors[Platform.CONSOLE] = self.sink  # the worker holds the same dict
        self.keyring = keyfile.load(settings.keys.path)
        # The scheduler's own rounds (charts and all), run by hand here, without APScheduler's timers.
        self.reminders = reminder_service(self.runtime)
        self.run(self.runtime.db.run(self.reminders.reconcile, self.clock.now()))
        self.settle()

    def close(self) -> None:
        if self.runtime is not None:
            self.run(self.runtime.close())
            self.runtime = None

    def restart(self, pending: str | None = None, who: str = "my-officer") -> Said | None:
        """Close and build the bot again on the same database and key file; `pending` is a command
        recorded just before, not yet handled: the new bot must handle it."""
        said = None
        if pending is not None:
            sender, chat = UserRef.parse(f"console:{who}"), ChatRef.parse(f"console:@{who}")
            self.run(self.rt.db.run(self.rt.inbox.record, self._inbound(sender, chat, pending)))
            said = Said(pending, sender, chat)
        start = len(self.sink.sent)
        self.close()
        self.start()
        if said is not None:
            said.sent = self.sink.sent[start:]
        self.learn()
        return said

    def shutdown(self) -> None:
        try:
            self.close()
        finally:
            self.loop.close()

    @property
    def rt(self) -> Runtime:
        assert self.runtime is not None
        return self.runtime

    def run(self, coroutine):  # noqa: ANN001, ANN201
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, timeout=120))

    def settle(self) -> None:
        """The inbox and the delivery worker until nothing is left: raises whatever they raise."""
        self.run(self.rt.settle())

    # --- what people do ----------------------------------------------------------------------

    def mark(self, sender: UserRef, chat: ChatRef) -> Marker:
        marker = Marker(f"MK{next(self._marks):04d}Q", chat, sender)
        self.markers[marker.word] = marker
        return marker

    def _inbound(self, sender: UserRef, chat: ChatRef, text: str) -> InboundMessage:
        return InboundMessage(f"sm{next(self._events)}", sender, chat, text, self.clock.now())

    def says(self, sender: UserRef, chat: ChatRef, text: str) -> Said:
        start = len(self.sink.sent)
        self.run(self.rt.db.run(self.rt.inbox.record, self._inbound(sender, chat, text)))
        self.settle()
        said = Said(text, sender, chat, self.sink.sent[start:])
        return said

    def learn(self, item_marker: Marker | None = None) -> list[str]:
        """Read the items the bot numbered since; a new one is the item `item_marker`'s text made."""
        with self.rt.engine.connect() as conn:
            rows = conn.execute(select(items.c.reference, items.c.tlp, items.c.erased_at)).all()
        new = [row.reference for row in rows if row.reference not in self.known]
        for row in rows:
            self.known[row.reference] = Tlp.parse(row.tlp)
            if row.erased_at is not None and row.reference not in self.erased:
                self.erased_now(row.reference)
        if item_marker is not None and new:
            assert len(new) == 1, f"one command made several items: {new}"
            self.attach(item_marker, new[0])
        return new

    def participants(self, reference: str) -> list[str]:
        """The item's originator and everyone a delivery of it was made for (contact ids)."""
        with self.rt.engine.connect() as conn:
            originator = conn.execute(select(items.c.originator).where(items.c.reference == reference)).scalar_one()
            recipients = conn.execute(select(outbox.c.contact).distinct().where(
                outbox.c.reference == reference, outbox.c.kind == MessageKind.DELIVERY.value,
                outbox.c.contact.is_not(None))).scalars().all()
        return [originator, *sorted(recipients)]

    def attach(self, marker: Marker, reference: str) -> None:
        try:  # as typed: in lower case or with extra zeros it is the same item to the bot
            reference = str(Reference.parse(reference))
        except ValueError:
            return
        if reference in self.known:
            marker.reference, marker.tlp = reference, self.known[reference]

    def erased_now(self, reference: str) -> None:
        self.erased.add(reference)
        for marker in self.markers.values():
            if marker.reference == reference and marker.erased_at is None:
                marker.erased_at = len(self.sink.sent)

    def erase(self, reference: str) -> None:
        """As `liaison-bot audit erase REF --reason …` does it, beside the running bot."""
        erase(self.rt.engine, self.keyring, reference, reason="data subject request", actor="cli:test",
              clock=self.clock)
        self.learn()
        if reference in self.known:
            self.erased_now(reference)

    def retention(self, days: int) -> list[str]:
        gone = RetentionSweeper(self.rt.engine, self.keyring, timedelta(days=days)).run_if_due(self.clock.now())
        self.learn()
        for reference in gone:
            self.erased_now(reference)
        return gone

    def later(self, by: timedelta) -> list[Outgoing]:
        """Time passes; the scheduler's rounds run (the tick, the digest and the bulletin as its jobs
        call them), and the delivery worker sends what they queued."""
        start = len(self.sink.sent)
        self.clock.advance(by)
        now = self.clock.now()
        local = now.astimezone(zone_of(self.rt.settings.reminders.digest_timezone)).date()
        self.run(self.rt.db.run(self.reminders.tick, now))
        self.run(self.rt.db.run(self.reminders.digest, now, local))
        self.run(self.rt.db.run(self.reminders.bulletin, now, previous_month(local)))
        self.settle()
        return self.sink.sent[start:]

    # --- the checks --------------------------------------------------------------------------

    def expects_answer(self, text: str) -> bool:
        """A command (not ordinary conversation): the bot must answer it, whoever sent it."""
        from bot.runtime.app import vocabulary_for

        return COMMANDS.parse(text, vocabulary_for(self.rt.settings)) is not None

    def check_answered(self, said: Said) -> None:
        if not self.expects_answer(said.text):
            return
        answers = [m for m in said.sent if reaches(m.destination, said.sender, said.chat)]
        assert answers, (f"no answer to {said.text[:200]!r} from {said.sender} in {said.chat}; "
                         f"sent: {[(str(m.destination), m.text[:80]) for m in said.sent]}")

    def check_sent(self, said: Said | None = None) -> None:
        """Everything sent since the last check: no defect shown, no strict content in a room, no text
        of an erased case, no text of a refused command beyond its own chat. `said`: the command
        handled since, whose own words may be quoted back where they were typed."""
        for index in range(self.checked, len(self.sink.sent)):
            message = self.sink.sent[index]
            for defect in DEFECTS:
                assert defect not in message.text, f"{defect!r} sent to {message.destination}:\n{message.text}"
            if is_room(message.destination):
                # Facts of a strict item (its caveat, who has it, how far it got) stay out of shared
                # rooms too. Naming a reference someone typed there, to refuse it, tells nothing new.
                named = {ref for ref in _references_in(message.text) if self.known.get(ref) in STRICT}
                if said is not None and message.destination == Destination.chat(said.chat):
                    echoed = named & _typed_references(said.text)
                    if not any(tlp.label in message.text for tlp in STRICT):
                        named -= echoed
                assert not named, f"{sorted(named)} named in a shared room {message.destination}:\n{message.text}"
            for word in _markers_in(message.text):
                marker = self.markers[word]
                where = f"{word} ({marker.tlp}, {marker.reference}) sent to {message.destination}:\n{message.text}"
                if marker.reference is None:
                    assert reaches(message.destination, marker.sender, marker.origin), "text of no item left its chat: " + where
                if marker.tlp in STRICT:
                    assert not is_room(message.destination), "strict content in a shared room: " + where
                if marker.erased_at is not None:
                    assert index < marker.erased_at, "text of an erased case sent: " + where
        self.checked = len(self.sink.sent)
        printed = self.out.getvalue()
        for defect in DEFECTS:
            assert defect not in printed, printed

    def check_stores(self) -> None:
        """Nothing pending in the inbox, nothing failed there; no outbox row set aside."""
        with self.rt.engine.connect() as conn:
            states = conn.execute(select(inbox.c.state, inbox.c.error_ref)).all()
            failed = conn.execute(select(outbox.c.kind, outbox.c.destination, outbox.c.last_error)
                                  .where(outbox.c.state == "failed")).all()
            due = conn.execute(select(outbox.c.kind, outbox.c.destination, outbox.c.not_before)
                               .where(outbox.c.state == "pending")).all()
        assert all(state == "done" for state, _ in states), [s for s in states if s[0] != "done"]
        assert all(row.last_error == "erased" for row in failed), failed
        now = self.clock.now()
        # The console is connected and accepts everything: whatever is due now was sent.
        stuck = [row for row in due if row.kind != MessageKind.MEMBERSHIP.value
                 and (row.not_before is None or row.not_before <= now)]
        assert not stuck, stuck

    def check_audit(self) -> None:
        report = verify(self.rt.engine, self.keyring, self.rt.settings.audit.witness_path)
        assert report.ok, report.summary()


def _markers_in(text: str) -> list[str]:
    return re.findall(r"MK\d{4}Q", text)


def _references_in(text: str) -> set[str]:
    return set(re.findall(r"\b[AR]-\d{4}-\d{4,}\b", text))


def _typed_references(text: str) -> set[str]:
    """References as the bot reads what was typed (a-2026-00001 is A-2026-0001)."""
    return {f"{kind.upper()}-{year}-{int(number):04d}"
            for kind, year, number in re.findall(r"\b([AaRr])-(\d{4})-(\d+)\b", text)}
