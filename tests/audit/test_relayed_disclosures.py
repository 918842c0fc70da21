"""Every message the bot sends that carries an item's content is audited when it is sent, as a copy is:
an entry `delivery` naming whom it reached, by which chat, the platform's message id, and why (the
item, and what the message was: a copy, a forward, feedback, an update, an outcome, an escalation with
the item, an approval request). Feedback relayed to an originator was once audited only as the
recipient's /reply, with the channel it was typed in, never the one it reached the originator by."""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.clock import ManualClock
from bot.cli import main as cli
from tests.bot.test_erased_items import T0, Bot, run
from tests.ops.failover_pair import write_config


@pytest.fixture
def bot(tmp_path: Path) -> Iterator[Bot]:
    bot = Bot(write_config(tmp_path, None), ManualClock(T0))
    yield bot
    run(bot.runtime.close())


def sent_rows(bot: Bot, reference: str) -> dict[str, tuple[str, str, str, str]]:
    """Each sent outbox row about the item, by its platform message id: its kind, reader, destination."""
    from sqlalchemy import select

    from storage.tables import outbox

    with bot.runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.platform_message_id, outbox.c.kind, outbox.c.contact,
                                   outbox.c.destination, outbox.c.state)
                            .where(outbox.c.reference == reference)).all()
    return {row.platform_message_id: (row.kind, row.contact, row.destination, row.state) for row in rows
            if row.state == "sent"}


def deliveries(bot: Bot, reference: str) -> list:
    return [e for e in bot.audit() if e.action == "delivery" and e.reference == reference]


def test_feedback_updates_outcomes_and_forwards_are_audited_when_sent_with_channel_and_message_id(bot: Bot) -> None:
    async def exchange() -> str:
        await bot.says("my-officer", "/alert to:TH tlp:green priority:urgent purpose:\"joint case\" "
                                     "Two travellers with altered passports")
        [reference] = bot.references()
        await bot.says("th-npoc", f"/reply {reference} seen at the border")
        await bot.says("my-officer", f"/reply {reference} thank you, keep watching")
        await bot.says("th-npoc", f"/forward {reference} to:AU purpose:\"same route\"")
        await bot.says("my-officer", f"/close {reference} both arrested")
        return reference

    reference = run(exchange())
    sent = sent_rows(bot, reference)
    entries = deliveries(bot, reference)
    by_id = {e.detail["platform_message_id"]: e for e in entries}
    # Each entry is one row that reached its reader: who, by which chat, the platform's id, why.
    for message_id, entry in by_id.items():
        kind, contact, destination, _ = sent[message_id]
        assert entry.recipients == [contact] and entry.channel == destination, (entry, sent[message_id])
        assert entry.actor == "liaison-bot" and entry.caveat and entry.purpose == "joint case"
    sent_as = sorted((e.detail["sent_as"], e.recipients[0]) for e in entries)
    copies = [who for what, who in sent_as if what == "copy"]
    assert copies and "my-officer" not in copies
    assert ("feedback", "my-officer") in sent_as  # the recipient's /reply, as it reached the originator
    assert sorted(who for what, who in sent_as if what == "update") == sorted(copies)
    assert [who for what, who in sent_as if what == "forward"] == ["au-npoc"]
    # The outcome goes to everyone who held it, the forwarded copy's reader too.
    assert sorted(who for what, who in sent_as if what == "closure") == sorted([*copies, "au-npoc"])
    [feedback] = [e for e in entries if e.detail["sent_as"] == "feedback"]
    assert feedback.channel == "direct:console:my-officer" and feedback.detail["kind"] == "feedback"
    # Nothing else is recorded as a disclosure: the receipt and the answers carry no item content.
    kinds = {sent[e.detail["platform_message_id"]][0] for e in entries}
    assert kinds == {"delivery", "feedback", "notice"}
    assert len(entries) == len({e.detail["platform_message_id"] for e in entries})


def test_audit_show_and_export_render_the_relayed_deliveries(bot: Bot, capsys: pytest.CaptureFixture[str]) -> None:
    async def exchange() -> str:
        await bot.says("my-officer", "/alert to:TH tlp:green priority:urgent Two travellers with altered passports")
        [reference] = bot.references()
        await bot.says("th-npoc", f"/reply {reference} seen at the border")
        return reference

    reference = run(exchange())
    [feedback] = [e for e in deliveries(bot, reference) if e.detail["sent_as"] == "feedback"]

    def cli_run(*argv: str) -> str:
        capsys.readouterr()
        args: argparse.Namespace = cli.build_parser().parse_args(["--config", str(bot.config), *argv])
        code = args.handler(args)
        printed = capsys.readouterr()
        assert code == 0, printed.err
        return printed.out

    shown = cli_run("audit", "show", reference)
    line = next(line for line in shown.splitlines() if f"#{feedback.seq}  delivery" in line)
    assert "by liaison-bot  to my-officer  via direct:console:my-officer" in line
    assert f"    platform_message_id: {feedback.detail['platform_message_id']}" in shown
    assert "    sent_as: feedback" in shown
    exported = cli_run("audit", "export", "--reference", reference, "--format", "csv")
    assert "sent_as" in exported and f"{feedback.detail['platform_message_id']}" in exported
    assert io.StringIO(exported).read().count("direct:console:my-officer") >= 1


def test_an_escalation_with_the_item_and_an_approval_request_are_audited_as_they_are_sent(bot: Bot) -> None:
    from datetime import timedelta

    from handlers.followup_reminders import ReminderService

    settings = bot.runtime.settings.reminders
    service = ReminderService(bot.runtime.uow_factory, bot.runtime.directory, settings.policy(),
                              digest_room=settings.digest_room)

    async def exchange() -> list[str]:
        await bot.says("my-officer", "/alert to:TH tlp:amber priority:urgent Two travellers with altered passports")
        bot.clock.advance(timedelta(hours=5))  # th-npoc's acknowledgement overdue past backup_after
        await bot.runtime.db.run(service.tick, bot.clock.now())
        await bot.deliver()
        await bot.says("my-officer", "/alert to:@th-npoc tlp:red priority:urgent One traveller on a forged visa")
        return bot.references()

    amber, red = run(exchange())
    escalations = [e for e in deliveries(bot, amber) if e.detail["sent_as"] == "escalation"]
    assert escalations and {e.detail["kind"] for e in escalations} == {"escalation"}
    assert all(e.detail["platform_message_id"] and e.channel.startswith("direct:") for e in escalations)
    approvals = [e for e in deliveries(bot, red) if e.detail["sent_as"] == "approval"]
    assert approvals and {e.detail["kind"] for e in approvals} == {"approval"}
    assert not [e for e in deliveries(bot, red) if e.detail["sent_as"] == "copy"]  # held: nothing else went
