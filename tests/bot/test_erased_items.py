"""Erasure is a state of the item: the running bot (inbox, handlers, delivery worker, console), on
SQLite and PostgreSQL, erases an open item through the CLI, or by retention, and then keeps working.

The scenarios post alerts through the inbox as the console does, erase one (its deliveries still
pending, or made), and then use it every way a person could: the delivery round, /mine, /status,
/ack, /reply, /close, /forward, /consent, /snooze, /remind, /escalate, a member leaving, reminders,
/overdue and the digest. Every answer is a sentence, nothing raises, the other items are delivered,
and no text of the erased case can be read in the inbox or the outbox any more.
"""
from __future__ import annotations

import asyncio
import io
import itertools
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select, text

from alerts.clock import ManualClock
from alerts.identity import ChatRef, Platform, UserRef
from alerts.messages import InboundMessage, MessageKind
from bot.cli import main as cli
from bot.runtime.app import Runtime, build_runtime
from bot.config.settings import load_settings
from bot.runtime.engine import engine_for
from bot.connectors.base import Outgoing
from bot.connectors.errors import PermanentFailure
from bot.runtime.keys import ensure_keyring
from bot.scheduling.retention import RetentionSweeper
from handlers.followup_reminders import ReminderService
from storage.audit.erasure import erase
from storage.audit.trail import read_entries
from storage.content import inbox_aad, outbox_aad
from storage.case_keys import CaseKeys, case_keys
from storage.migrate import upgrade
from storage.sealing import CaseKeySealer, ContentErased, unpack_blob
from storage.tables import UtcDateTime, inbox, items, outbox
from tests.ops.failover_pair import write_config

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
ERASED_BODY = "CANARY-ERASED Two travellers with altered passports"
KEPT_BODY = "CANARY-KEPT Three travellers on the night bus"
LATE_REPLY = "CANARY-LATE seen again at the border"


def run(coroutine):  # noqa: ANN001, ANN201
    return asyncio.run(asyncio.wait_for(coroutine, timeout=120))


class Bot:
    """The runtime bot.runtime.app builds, on the console; `says` records a message in the inbox and handles
    it, `deliver` runs the delivery worker's rounds until nothing is due."""

    def __init__(self, config: Path, clock: ManualClock) -> None:
        self.config = config
        self.clock = clock
        self.out = io.StringIO()
        self.runtime: Runtime = build_runtime(load_settings(config), out=self.out, clock=clock, notice=io.StringIO())
        self.keyring = ensure_keyring(self.runtime.settings.keys.path, io.StringIO())
        self._events = itertools.count(1)

    async def says(self, who: str, text: str, *, deliver: bool = True) -> str:
        start = len(self.out.getvalue())
        message = InboundMessage(f"e{next(self._events)}", UserRef.parse(f"console:{who}"),
                                 ChatRef.parse(f"console:@{who}"), text, self.clock.now())
        await self.runtime.db.run(self.runtime.inbox.record, message)
        while await self.runtime.db.run(self.runtime.inbox.process_pending):
            pass
        if deliver:
            await self.runtime.worker.settle()
        return self.out.getvalue()[start:]

    async def deliver(self) -> str:
        start = len(self.out.getvalue())
        await self.runtime.worker.settle()
        return self.out.getvalue()[start:]

    def references(self) -> list[str]:
        with self.runtime.engine.connect() as conn:
            return list(conn.execute(select(items.c.reference).order_by(items.c.number)).scalars())

    def audit(self) -> list:
        with self.runtime.engine.connect() as conn:
            return list(read_entries(conn, self.keyring))

    def outbox_texts(self) -> tuple[list[str], int]:
        """Every outbox text that can still be opened, and how many cannot (erased)."""
        readable, erased = [], 0
        with self.runtime.engine.connect() as conn:
            sealer = CaseKeySealer(conn, self.keyring)
            for row in conn.execute(select(outbox)):
                try:
                    readable.append(sealer.open(bytes(row.content), aad=outbox_aad(row.key), case=row.reference).decode())
                except ContentErased:
                    erased += 1
        return readable, erased

    def inbox_texts(self) -> tuple[list[str], int]:
        """Every inbox text that can still be opened, and how many cannot (erased)."""
        readable, erased = [], 0
        with self.runtime.engine.connect() as conn:
            cases = {row.key_id: row.reference for row in conn.execute(select(case_keys))}
            sealer = CaseKeySealer(conn, self.keyring)
            for row in conn.execute(select(inbox)):
                blob = bytes(row.content)
                case = cases.get(unpack_blob(blob)[1].decode())
                try:
                    readable.append(sealer.open(blob, aad=inbox_aad(row.platform, row.event_id), case=case).decode())
                except ContentErased:
                    erased += 1
        return readable, erased


@pytest.fixture
def bot(tmp_path: Path, db_url: str) -> Iterator[Bot]:
    config = write_config(tmp_path, None if db_url.startswith("sqlite") else db_url)
    bot = Bot(config, ManualClock(T0))
    yield bot
    run(bot.runtime.close())


def erase_with_the_cli(bot: Bot, reference: str, reason: str, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    args = cli.build_parser().parse_args(["--config", str(bot.config), "audit", "erase", reference, "--reason", reason])
    code = args.handler(args)  # as cli.main runs it, without main's logging set-up
    printed = capsys.readouterr()
    assert code == 0, printed.err
    return printed.out


def erased(reference: str, reason: str) -> re.Pattern[str]:
    return re.compile(rf"{reference}: content erased on \d{{4}}-\d{{2}}-\d{{2}} \({re.escape(reason)}\)")


def post_two_alerts(bot: Bot, *, deliver: bool) -> tuple[str, str]:
    """Two alerts from Malaysia to Thailand; the first is the one to erase."""
    async def post() -> None:
        await bot.says("my-officer", f"/alert to:TH tlp:amber priority:urgent {ERASED_BODY}", deliver=deliver)
        await bot.says("my-officer", f"/alert to:TH tlp:amber priority:urgent {KEPT_BODY}", deliver=deliver)

    run(post())
    gone, kept = bot.references()
    return gone, kept


def no_failure(said: dict[str, str]) -> str:
    everything = "".join(said.values())
    assert "Something went wrong" not in everything and "Traceback" not in everything, everything
    return everything


def test_erasing_an_item_with_pending_deliveries_cancels_them_and_the_others_are_delivered(
        bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    gone, kept = post_two_alerts(bot, deliver=False)
    printed = erase_with_the_cli(bot, gone, "data subject request", capsys)

    said = {"delivery round": run(bot.deliver())}
    no_failure(said)
    assert KEPT_BODY in said["delivery round"] and ERASED_BODY not in said["delivery round"]
    with bot.runtime.engine.connect() as conn:
        state = conn.execute(select(items.c.state, items.c.erased_at).where(items.c.reference == gone)).one()
        unsent = conn.execute(select(outbox.c.state, outbox.c.last_error).where(outbox.c.reference == gone)).all()
    assert state.state == "closed" and state.erased_at is not None
    assert unsent and all(tuple(row) == ("failed", "erased") for row in unsent)  # its copies and its receipt
    assert "the item is closed as erased" in printed and f"{len(unsent)} unsent message(s) cancelled" in printed
    [entry] = [e for e in bot.audit() if e.action == "erasure"]
    assert entry.reference == gone and entry.purpose == "data subject request"
    assert entry.detail["item"] == "closed as erased" and entry.detail["outbox_cancelled"] == str(len(unsent))


def test_every_command_about_an_erased_item_says_when_and_why_it_was_erased(
        bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    reason = "data subject request"
    gone, kept = post_two_alerts(bot, deliver=True)
    erase_with_the_cli(bot, gone, reason, capsys)

    async def after() -> dict[str, str]:
        said = {}
        for who, text in [
            ("my-officer", "/mine"), ("th-npoc", "/mine"), ("th-immigration", "/mine"),
            ("au-npoc", f"/status {gone}"),
            ("my-officer", f"/status {gone}"), ("th-npoc", f"/status {gone}"),
            ("th-npoc", f"/ack {gone}"), ("th-npoc", f"/reply {gone} {LATE_REPLY}"),
            ("my-officer", f"/reply {gone} an update"), ("my-officer", f"/close {gone} done"),
            ("th-npoc", f"/forward {gone} to:AU purpose:\"joint case\""),
            ("my-officer", f"/consent {gone} yes"), ("my-officer", f"/snooze {gone} 2h busy"),
            ("my-officer", f"/remind {gone}"), ("th-npoc", f"/escalate {gone}"),
            ("my-officer", f"/history {gone}"), ("th-npoc", f"/history {gone}"),
        ]:
            said[f"{who} {text}"] = await bot.says(who, text)
        said["member remove"] = await bot.says("rso-admin", '/member remove console:th-npoc reason:"posted elsewhere"')
        return said

    said = run(after())
    everything = no_failure(said)
    assert ERASED_BODY not in everything
    # /mine: the erased item is closed, so it is in nobody's open items; the other one still is.
    for who in ("my-officer", "th-npoc"):
        assert kept in said[f"{who} /mine"] and gone not in said[f"{who} /mine"]
    # Every command about it answers when and why it was erased, and does nothing else.
    for command, answer in said.items():
        if f" {gone}" in command and not command.startswith("au-npoc"):
            assert erased(gone, reason).search(answer), (command, answer)
    # Someone who never saw the item learns that it is gone, not why.
    assert re.search(rf"{gone}: content erased on \d{{4}}-\d{{2}}-\d{{2}}\. It is closed", said[f"au-npoc /status {gone}"])
    assert "Acknowledged" not in everything and "Closed " not in everything
    # A recipient leaves: the open item goes to their backup, the erased one does not.
    assert "Removed National point of contact (Thailand)" in said["member remove"]
    assert f"their copy of {kept}" in said["member remove"] and gone not in said["member remove"]
    # Both AMBER copies in their direct chat are taken back, the erased one's too.
    assert "Taking back 2 copies of TLP:AMBER and above" in said["member remove"]
    assert said["member remove"].count("removed (the person was removed from the network)") == 2


def test_no_reminder_overdue_line_or_digest_line_is_made_for_an_erased_item(
        bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    gone, kept = post_two_alerts(bot, deliver=True)
    erase_with_the_cli(bot, gone, "data subject request", capsys)
    bot.clock.advance(timedelta(days=3))  # every acknowledgement and answer long overdue
    settings = bot.runtime.settings.reminders
    service = ReminderService(bot.runtime.uow_factory, bot.runtime.directory, settings.policy(),
                              digest_room=settings.digest_room)

    async def later() -> dict[str, str]:
        await bot.runtime.db.run(service.tick, bot.clock.now())
        said = {"reminders": await bot.deliver()}
        await bot.runtime.db.run(service.digest, bot.clock.now(), bot.clock.now().date())
        said["digest"] = await bot.deliver()
        said["overdue"] = await bot.says("rso-coordinator", "/overdue")
        return said

    said = run(later())
    no_failure(said)
    assert kept in said["reminders"] and gone not in said["reminders"]
    assert kept in said["overdue"] and gone not in said["overdue"]
    assert "Coordinators (#coordination)" in said["digest"] and gone not in said["digest"]


def test_no_inbox_or_outbox_text_of_an_erased_item_can_be_read_any_more(
        bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    canaries = ("CANARY-ERASED", "CANARY-EARLY", "CANARY-OUTCOME", "CANARY-LATE")
    gone, kept = post_two_alerts(bot, deliver=True)
    run(bot.says("th-npoc", f"/reply {gone} CANARY-EARLY seen at the airport"))
    run(bot.says("my-officer", f"/close {gone} CANARY-OUTCOME both arrested"))
    run(bot.says("my-officer", f"/status {gone}"))  # the answer shows the outcome
    erase_with_the_cli(bot, gone, "data subject request", capsys)
    run(bot.says("th-npoc", f"/reply {gone} {LATE_REPLY}"))  # after the erasure: not kept either

    readable, unreadable = bot.inbox_texts()
    assert unreadable == 4  # the alert, the reply, the /close and the /status, under the erased case key
    assert not any(canary in text for text in readable for canary in canaries)
    assert any("CANARY-KEPT" in text for text in readable)
    readable, unreadable = bot.outbox_texts()
    assert unreadable >= 5  # its copy, receipt, relayed reply, closure notice, /status answer
    assert not any(canary in text for text in readable for canary in canaries)
    assert any("CANARY-KEPT" in text for text in readable)


def test_retention_erases_an_open_item_and_the_bot_goes_on(bot: Bot) -> None:
    async def old() -> None:
        await bot.says("my-officer", f"/alert to:TH tlp:amber {ERASED_BODY}", deliver=False)

    run(old())
    bot.clock.advance(timedelta(days=31))

    async def recent() -> None:
        await bot.says("my-officer", f"/alert to:TH tlp:amber {KEPT_BODY}", deliver=False)

    run(recent())
    gone, kept = bot.references()
    sweeper = RetentionSweeper(bot.runtime.engine, bot.keyring, timedelta(days=30))
    assert sweeper.run_if_due(bot.clock.now()) == [gone]

    async def after() -> dict[str, str]:
        return {
            "delivery round": await bot.deliver(),
            "mine": await bot.says("th-npoc", "/mine"),
            "status": await bot.says("my-officer", f"/status {gone}"),
            "ack": await bot.says("th-npoc", f"/ack {gone}"),
            "ack kept": await bot.says("th-npoc", f"/ack {kept}"),
        }

    said = run(after())
    everything = no_failure(said)
    assert KEPT_BODY in said["delivery round"] and ERASED_BODY not in everything
    reason = "retention period of 30 days expired"
    assert erased(gone, reason).search(said["status"]) and erased(gone, reason).search(said["ack"])
    assert f"Acknowledged {kept}" in said["ack kept"]
    assert kept in said["mine"] and gone not in said["mine"]
    readable, unreadable = bot.inbox_texts()
    assert unreadable == 1 and not any("CANARY-ERASED" in text for text in readable)


def test_an_item_whose_key_alone_was_erased_reads_as_erased_too(bot: Bot) -> None:
    # A database erased before items recorded their erasure: the item is open, its key is gone.
    gone, kept = post_two_alerts(bot, deliver=True)
    with bot.runtime.engine.begin() as connection:
        CaseKeys(connection, bot.keyring).erase(gone)

    async def after() -> dict[str, str]:
        return {
            "mine": await bot.says("th-npoc", "/mine"),
            "status": await bot.says("my-officer", f"/status {gone}"),
            "member remove": await bot.says("rso-admin", "/member remove console:th-npoc"),
        }

    said = run(after())
    no_failure(said)
    assert re.search(rf"{gone}: content erased on \d{{4}}-\d{{2}}-\d{{2}}\n", said["mine"])
    assert re.search(rf"{gone}: content erased on \d{{4}}-\d{{2}}-\d{{2}}\. It is closed", said["status"])
    assert f"their copy of {kept}" in said["member remove"] and gone not in said["member remove"]


class ErasedWhileSending:
    """A platform on which the item `gone` is erased while its copy is on the way, and that copy then
    fails for good; every other message is printed as the console would."""

    platform = Platform.CONSOLE

    def __init__(self, bot: Bot, gone: str, console: object) -> None:
        self.bot, self.gone, self.console = bot, gone, console

    async def send(self, message: Outgoing) -> str:
        if message.reference == self.gone and message.kind is MessageKind.DELIVERY:
            erase(self.bot.runtime.engine, self.bot.keyring, self.gone, reason="mistaken alert", actor="cli:test")
            raise PermanentFailure("blocked", "the recipient blocked the bot")
        return await self.console.send(message)  # type: ignore[attr-defined]


def test_an_item_erased_while_its_copy_is_on_the_way_fails_quietly_and_the_round_goes_on(bot: Bot) -> None:
    gone, kept = post_two_alerts(bot, deliver=False)
    bot.runtime.connectors[Platform.CONSOLE] = ErasedWhileSending(bot, gone, bot.runtime.connectors[Platform.CONSOLE])

    said = {"delivery round": run(bot.deliver())}
    no_failure(said)
    assert KEPT_BODY in said["delivery round"] and ERASED_BODY not in said["delivery round"]
    assert f"Delivery of {gone}" not in said["delivery round"]  # nothing written about the erased case


def test_the_upgrade_closes_items_erased_before_items_recorded_erasure(tmp_path: Path, db_url: str) -> None:
    config = write_config(tmp_path, None if db_url.startswith("sqlite") else db_url)
    settings = load_settings(config)
    engine = engine_for(settings)
    try:
        upgrade(engine, "0005_reminders")  # as the database was before
        keyring = ensure_keyring(settings.keys.path, io.StringIO())
        at = bindparam("now", T0, type_=UtcDateTime())
        with engine.begin() as conn:
            for n in (1, 2):
                conn.execute(text(
                    "INSERT INTO items (reference, kind, year, number, originator, origin_chat, created_at, state, "
                    "tlp, handling, orcon, priority, recipients, content) VALUES (:ref, 'A', 2026, :n, 'my-officer', "
                    "'console:@my-officer', :now, 'open', 'amber', 'H0', false, 'routine', 'TH', :blob)").bindparams(at),
                    {"ref": f"A-2026-000{n}", "n": n, "blob": b"sealed"})
                conn.execute(text(
                    "INSERT INTO outbox (key, kind, platform, destination, contact, reference, protect_content, "
                    "content, state, attempts, created_at) VALUES (:key, 'delivery', 'console', 'direct:console:th-npoc',"
                    " 'th-npoc', :ref, false, :blob, 'pending', 0, :now)").bindparams(at),
                    {"key": f"k{n}", "ref": f"A-2026-000{n}", "blob": b"sealed"})
            CaseKeys(conn, keyring).get_or_create("A-2026-0002")
            CaseKeys(conn, keyring).erase("A-2026-0001", T0)  # erased the old way: the key alone
        upgrade(engine)
        with engine.connect() as conn:
            found = {row.reference: (row.state, row.erased_at is not None, row.closed_by)
                     for row in conn.execute(select(items))}
            unsent = dict(conn.execute(select(outbox.c.reference, outbox.c.last_error)).all())
        assert found == {"A-2026-0001": ("closed", True, "erasure"), "A-2026-0002": ("open", False, None)}
        assert unsent == {"A-2026-0001": "erased", "A-2026-0002": None}
    finally:
        engine.dispose()
