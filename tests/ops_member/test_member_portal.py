"""`liaison-bot member import` with the networks' portal member list (CSV, one role a row), on the
sample network on SQLite: every row checked, any error refuses the file with its lines; a dry run
shows what would change; the focal points it makes then manage their own people in chat."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import pytest

from alerts.directory import Directory
from alerts.roles import Role
from bot.cli import member as cli_member
from bot.cli.member_portal import check_portal_rows, read_portal
from tests.sample_network import person, small_network
from tests.ops_member.support import ConsoleBot, settings_for

HEADER = "Name,Email,Country,Organisation,Role,Matrix ID,Telegram ID,Accounts,Time zone\n"
GOOD = (
    "Somchai Rattana,somchai.r@immigration.go.th,Thailand,,National Focal Point,,,console:somchai,\n"
    "Niran Police,niran.p@police.go.th,TH,police,Organisational Focal Point,@niran:example.org,,console:niran,"
    "Asia/Bangkok\n"
    # Telegram is not run here (the console only): her console account is the one the bot reaches.
    "Ana Officer,ana.o@iom.int,PH,IOM,User,,4242,console:ana,\n"
)


def run(coroutine):  # noqa: ANN001, ANN201
    return asyncio.run(asyncio.wait_for(coroutine, timeout=120))


def imported(path: Path, settings, dry_run: bool) -> int:  # noqa: ANN001
    return cli_member.cmd_import(argparse.Namespace(file=path, dry_run=dry_run, admin=None), settings)


def test_the_portal_list_is_shown_in_a_dry_run_then_imported_with_its_roles(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    path = tmp_path / "portal.csv"
    path.write_text(HEADER + GOOD, encoding="utf-8")
    settings = settings_for(tmp_path)
    assert imported(path, settings, dry_run=True) == 0
    out = capsys.readouterr().out
    assert "3 rows valid (the portal member list); 3 to add, 0 to update, 0 unchanged." in out
    assert "  add somchai.r (TH, national-focal-point, officer)" in out
    assert "  add niran.p (TH/police, officer, organisational-focal-point)" in out
    assert "  add ana.o (IOM, officer)" in out
    assert "Dry run: nothing was changed." in out
    bot = ConsoleBot(settings)
    try:
        assert bot.runtime.directory.current().contact("niran.p") is None
    finally:
        run(bot.runtime.close())

    assert imported(path, settings, dry_run=False) == 0
    assert "Imported: 3 added, 0 updated" in capsys.readouterr().out

    bot = ConsoleBot(settings)
    try:
        directory = bot.runtime.directory.current()
        niran = directory.contact("niran.p")
        assert niran.desk == "police" and niran.timezone == "Asia/Bangkok"
        assert [str(i) for i in niran.identities] == ["matrix:@niran:example.org", "console:niran"]
        assert directory.contact("ana.o").organisation == "IOM"
        assert str(directory.contact("ana.o").identities[0]) == "telegram:user:4242"
        assert directory.contact("somchai.r").roles == {Role.NATIONAL_FOCAL_POINT, Role.OFFICER}

        # The focal points the list made manage their own people in chat, and no one else's.
        async def scenario() -> tuple[str, str, str, str]:
            own = await bot.says("somchai", "/member add console:somsak country:TH role:officer desk:immigration")
            other = await bot.says("somchai", "/member remove console:my-officer")
            desk = await bot.says("niran", "/member remove console:th-immigration")
            mine = await bot.says("niran", "/member remove console:th-police")
            return own, other, desk, mine

        own, other, desk, mine = run(scenario())
        assert "Added somsak (@somsak, Thailand, immigration desk) with roles officer;" in own
        assert "Not allowed: you manage the people of Thailand only; this person is of Malaysia." in other
        assert "you manage the people of Thailand police desk only" in desk
        assert "Removed Police desk (Thailand police) (@th-police)" in mine
        current = bot.runtime.directory.current()
        assert current.contact("my-officer") is not None and current.contact("th-immigration") is not None
        refusals = [e for e in bot.audit() if e.action == "refusal"]
        assert [(e.actor, e.detail["command"]) for e in refusals] == [("somchai.r", "member remove"),
                                                                      ("niran.p", "member remove")]
    finally:
        run(bot.runtime.close())

    # The next list: Somchai now an organisational focal point of the immigration desk, found by his
    # account; the others are not on it, and stay (the import removes no one).
    path.write_text(HEADER + "Somchai Rattana,,TH,immigration,Organisational Focal Point,,,console:somchai,\n",
                    encoding="utf-8")
    assert imported(path, settings, dry_run=False) == 0
    assert ("  update somchai.r: desk none -> immigration; roles national-focal-point, officer -> officer, "
            "organisational-focal-point") in capsys.readouterr().out
    bot = ConsoleBot(settings)
    try:
        directory = bot.runtime.directory.current()
        assert directory.contact("somchai.r").roles == {Role.ORGANISATIONAL_FOCAL_POINT, Role.OFFICER}
        assert directory.contact("niran.p") is not None and directory.contact("ana.o") is not None
    finally:
        run(bot.runtime.close())


def test_an_update_keeps_what_the_portal_does_not_know() -> None:
    base = small_network()
    keeper = person("th-keeper", "TH", Role.CONTACT, Role.ADMIN, Role.NATIONAL_FOCAL_POINT, desk="police",
                    backup="th-npoc", tz="Asia/Bangkok")
    directory = Directory.build(base.organisations.values(), [*base.contacts.values(), keeper])
    rows, unknown = read_portal(HEADER + "K. Eeper,k@th.go,TH,,User,@k:example.org,,console:th-keeper,\n")
    [contact], errors = check_portal_rows(rows, directory)
    assert unknown == [] and errors == []
    assert contact.id == "th-keeper" and contact.name == "K. Eeper" and contact.desk is None
    assert contact.roles == {Role.CONTACT, Role.ADMIN, Role.OFFICER}  # the portal's role replaces only its own
    assert contact.backup == "th-npoc" and contact.timezone == "Asia/Bangkok"
    assert [str(i) for i in contact.identities] == ["console:th-keeper", "matrix:@k:example.org"]


@pytest.mark.parametrize("row, line_and_reason", [
    ("Eve,eve@x.org,TH,,Administrator,,,console:eve,", 'row 3 (eve@x.org): role: expected "National Focal Point", '
                                                      '"Organisational Focal Point" or "User", got \'Administrator\''),
    ("Eve,eve@x.org,Atlantis,,User,,,console:eve,", "row 3 (eve@x.org): country: 'Atlantis' is not a country of "
                                                   "the network"),
    ("Eve,eve@x.org,TH,,User,,,,", "row 3 (eve@x.org): accounts: expected at least one account"),
    ("Eve,eve@x.org,TH,,Organisational Focal Point,,,console:eve,",
     "row 3 (eve@x.org): role: an Organisational Focal Point in Thailand stands for one of its desks"),
    ("Eve,eve@x.org,TH,customs,User,,,console:eve,",
     "row 3 (eve@x.org): organisation: 'customs' is neither an organisation of the network nor a desk of Thailand "
     "(its desks: immigration, police)"),
    ("Eve,eve@x.org,,IOM,National Focal Point,,,console:eve,",
     "row 3 (eve@x.org): role: a National Focal Point is of a country"),
    ("Eve,eve@x.org,TH,,User,,@eve,console:eve,", "row 3 (eve@x.org): telegram: 'telegram:user:@eve' is not an "
                                                 "account"),
    ("Eve,eve@x.org,TH,,User,,,console:niran,", "row 3 (eve@x.org): accounts: console:niran is on row 2 too"),
    # Only the console runs: someone with no account there could never be reached.
    ("Eve,eve@x.org,TH,,User,@eve:example.org,42,,",
     "row 3 (eve@x.org): accounts: none of matrix:@eve:example.org, telegram:user:42 is on a platform this bot "
     "runs (it runs console): nothing could reach them; give an account such as console:alice"),
    ("Eve,not-an-address,TH,,User,,,console:eve,", "row 3 (not-an-address): email: 'not-an-address' is not an "
                                                  "email address"),
    ("Eve,eve@x.org,TH,,User,,,console:eve,Mars/Base", "timezone: 'Mars/Base' is not an IANA time zone"),
    ("Eve,eve@x.org,TH,,User,,,console:th-npoc;console:my-officer,",
     "accounts: they belong to different people (my-officer, th-npoc)"),
    ("Eve,eve@x.org,TH,,National Focal Point,,,console:th-npoc,",
     "row 3 (th-npoc): accounts: they are th-npoc's, whom the configuration file names and sets again at every "
     "start: change them there"),
])
def test_one_bad_row_refuses_the_whole_file_with_its_line_and_reason(tmp_path: Path, capsys, row: str,  # noqa: ANN001
                                                                    line_and_reason: str) -> None:
    path = tmp_path / "portal.csv"
    path.write_text(HEADER + "Niran Police,niran.p@police.go.th,TH,police,User,,,console:niran,\n" + row + "\n",
                    encoding="utf-8")
    settings = settings_for(tmp_path)
    assert imported(path, settings, dry_run=False) == 1
    err = capsys.readouterr().err
    assert "1 error; nothing was changed." in err and line_and_reason in err, err
    bot = ConsoleBot(settings)
    try:
        assert bot.runtime.directory.current().contact("niran.p") is None  # the good row was not taken either
    finally:
        run(bot.runtime.close())


def test_an_unknown_column_refuses_the_file(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    path = tmp_path / "portal.csv"
    path.write_text("Name,Country,Role,Accounts,Clearance\nEve,TH,User,console:eve,secret\n", encoding="utf-8")
    assert imported(path, settings_for(tmp_path), dry_run=False) == 1
    assert "row 1: unknown column(s) clearance; expected name, email, country" in capsys.readouterr().err
