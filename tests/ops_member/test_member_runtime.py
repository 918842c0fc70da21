"""Membership administration end to end on SQLite and the console: the real runtime, the real
outbox, the gateway carrying out the planned actions, the audit log."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.cli import member as cli_member

from bot.cli import member_rows
from storage.tables import outbox
from tests.ops_member.support import ConsoleBot, settings_for


def run(coroutine):  # noqa: ANN001, ANN201
    return asyncio.run(asyncio.wait_for(coroutine, timeout=120))


@pytest.fixture
def bot(tmp_path: Path):  # noqa: ANN201
    bot = ConsoleBot(settings_for(tmp_path))
    yield bot
    run(bot.runtime.close())


def test_onboarding_brings_a_new_contact_into_exactly_their_rooms_and_records_it(bot: ConsoleBot) -> None:
    async def scenario() -> str:
        return await bot.says("rso-admin", "/member add console:somsak country:TH role:contact desk:police")

    printed = run(scenario())
    assert "Added somsak (@somsak, Thailand, police desk)" in printed
    assert "in Network room (#network) · membership\n│ somsak joins (onboarding)" in printed
    assert "in Thailand room (#thailand) · membership\n│ somsak joins (onboarding)" in printed
    assert "Coordinators (#coordination) · membership" not in printed and "Admins (#admins)" not in printed
    assert "Finished onboarding (2 room actions): 2 done." in printed
    assert bot.roster("console:#thailand") == {"console:somsak": "joined"}
    assert bot.runtime.directory.current().contact("somsak").desk == "police"  # refreshed after the commit
    actions = [(e.action, (e.detail or {}).get("stage")) for e in bot.audit() if e.action in ("admin", "membership")]
    assert ("admin", None) in actions and ("membership", "planned") in actions
    assert actions.count(("membership", "done")) == 2


def test_offboarding_removes_from_every_room_and_hands_items_to_the_backup(bot: ConsoleBot) -> None:
    async def scenario() -> str:
        await bot.says("my-officer", "/alert to:TH/immigration tlp:amber Two travellers, flight XX123")
        return await bot.says("rso-admin", '/member remove console:th-immigration reason:"posted elsewhere"')

    printed = run(scenario())
    assert "Removed Immigration desk (Thailand immigration) (@th-immigration)" in printed
    # The admin's reason is what the person is shown, not the bot's "offboarding".
    # From the rooms they are in (the network's and Thailand's), not from every console room.
    assert printed.count("th-immigration is removed (posted elsewhere)") == 2
    assert "Removing them from 2 rooms:" in printed and "Coordinators (#coordination) · membership" not in printed
    assert "Handed over to you from Immigration desk (Thailand immigration)" in printed
    assert "to National point of contact (Thailand), direct chat · delivery" in printed
    assert "was handed over to National point of contact (Thailand)" in printed  # the originator's notice
    assert bot.runtime.directory.current().contact("th-immigration") is None
    refused = run(bot.says("th-immigration", "/whoami"))
    assert "not in this network's directory" in refused


def test_a_non_admin_is_refused_and_recorded_and_nothing_changes(bot: ConsoleBot) -> None:
    printed = run(bot.says("rso-coordinator", "/member add console:eve country:TH role:admin"))
    assert "/member needs one of these roles: admin" in printed
    assert bot.runtime.directory.current().contact("eve") is None
    refusals = [e for e in bot.audit() if e.action == "refusal"]
    assert refusals[-1].actor == "rso-coordinator" and refusals[-1].detail["command"] == "member"


def test_room_sync_dry_run_changes_nothing_then_apply_fixes_the_drift(bot: ConsoleBot) -> None:
    with bot.runtime.engine.connect() as conn:
        before = conn.execute(select(outbox.c.key)).all()
    printed = run(bot.says("rso-admin", "/room sync"))
    assert "Dry run, nothing changed." in printed and "To do it: /room sync --apply" in printed
    with bot.runtime.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.kind)).scalars().all()
    assert "membership" not in rows and len(rows) == len(before) + 1  # the answer only
    listing = run(bot.says("rso-admin", "/rooms"))
    assert "Thailand room · country · console · members not seen yet" in listing
    applied = run(bot.says("rso-admin", "/room sync --apply"))
    assert "Applying" in applied and "Finished room sync" in applied
    assert "room sync: 10 of" in applied  # progress on a long run
    again = run(bot.says("rso-admin", "/room sync"))
    assert "Every room is in step with the directory" in again


def test_import_with_one_bad_row_changes_nothing_and_lists_every_error(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    good = "new-one,New One,TH,contact,police,console:new-one,Asia/Bangkok,\n"
    bad = ("bad-one,,XX,wizard,,console:th-npoc,Mars/Base,nobody\n")
    path = tmp_path / "people.csv"
    path.write_text(",".join(member_rows.FIELDS) + "\n" + good + bad, encoding="utf-8")
    settings = settings_for(tmp_path)
    code = cli_member.cmd_import(argparse.Namespace(file=path, dry_run=False, admin=None), settings)
    err = capsys.readouterr().err
    assert code == 1 and "6 errors; nothing was changed." in err
    for part in ("row 3 (bad-one): name", "organisation: 'XX'", "roles: 'wizard'", "console:th-npoc belongs to th-npoc",
                 "timezone: 'Mars/Base'", "backup: nobody"):
        assert part in err
    code = cli_member.cmd_export(argparse.Namespace(format="csv", output=tmp_path / "out.csv"), settings)
    assert code == 0 and "new-one" not in (tmp_path / "out.csv").read_text() and "th-npoc" in (tmp_path / "out.csv").read_text()

    path.write_text(",".join(member_rows.FIELDS) + "\n" + good, encoding="utf-8")
    assert cli_member.cmd_import(argparse.Namespace(file=path, dry_run=True, admin=None), settings) == 0
    assert "Dry run" in capsys.readouterr().out
    assert cli_member.cmd_import(argparse.Namespace(file=path, dry_run=False, admin=None), settings) == 0
    fresh = ConsoleBot(settings)
    try:
        assert fresh.runtime.directory.current().contact("new-one").desk == "police"
        printed = run(fresh.says("rso-admin", "/whoami"))  # settles: the queued invitations are carried out
        assert "new-one joins (onboarding)" in printed
        toml = member_rows.render_export(fresh.runtime.directory.current(), "toml")
        assert 'id = "new-one"' in toml and 'identities = ["console:new-one"]' in toml
    finally:
        run(fresh.runtime.close())


def test_a_running_bot_follows_an_import_made_by_the_cli_meanwhile(bot: ConsoleBot, tmp_path: Path) -> None:
    from bot.runtime.serve import _follow_directory

    path = tmp_path / "people.csv"
    path.write_text(",".join(member_rows.FIELDS) + "\n" + "new-one,New One,TH,officer,,console:new-one,UTC,\n",
                    encoding="utf-8")

    async def scenario() -> str:
        assert "not in this network's directory" in await bot.says("new-one", "/whoami")
        assert cli_member.cmd_import(argparse.Namespace(file=path, dry_run=False, admin=None),
                                     bot.runtime.settings) == 0  # another process, as far as the bot knows
        stop = asyncio.Event()
        follower = asyncio.create_task(_follow_directory(bot.runtime, stop, every=0.05))
        try:
            for _ in range(100):
                if bot.runtime.directory.current().contact("new-one") is not None:
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await follower
        return await bot.says("new-one", "/whoami")

    assert "New One" in run(scenario())


def test_a_row_without_a_time_zone_is_imported_with_none_and_an_export_imports_back_unchanged(
        tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """A row that gives no timezone was once stored as UTC, so the network's default_timezone (Bangkok
    in the example) never applied to that person; and people with no zone of their own, exported with an
    empty timezone, came back as UTC: each an update nobody asked for."""
    settings = settings_for(tmp_path)
    path = tmp_path / "people.csv"
    path.write_text(",".join(member_rows.FIELDS) + "\nnew-one,New One,TH,officer,,console:new-one,,\n",
                    encoding="utf-8")
    assert cli_member.cmd_import(argparse.Namespace(file=path, dry_run=False, admin=None), settings) == 0
    capsys.readouterr()
    fresh = ConsoleBot(settings)
    try:
        directory = fresh.runtime.directory.current()
        assert directory.contacts["new-one"].timezone == ""
        assert directory.zone_for(directory.contacts["new-one"]) == "Asia/Bangkok"
        assert "Time zone: Asia/Bangkok (the network's default)" in run(fresh.says("new-one", "/whoami"))
    finally:
        run(fresh.runtime.close())
    for form in ("csv", "toml"):
        exported = tmp_path / f"again.{form}"
        assert cli_member.cmd_export(argparse.Namespace(format=form, output=exported), settings) == 0
        assert cli_member.cmd_import(argparse.Namespace(file=exported, dry_run=True, admin=None), settings) == 0
        assert "0 to add, 0 to update" in capsys.readouterr().out
