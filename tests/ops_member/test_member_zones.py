"""A person's time zone at the operator's command line: `member add --tz` and both files `member import`
reads take the zones /member add's tz: takes (alerts/zones.py), kept as the tz database spells them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.cli.member_portal import check_portal_rows, read_portal
from bot.cli.member_rows import check_rows
from tests.ops_member.test_member_cli import config, in_directory, member  # noqa: F401 (a fixture)
from tests.ops_member.test_member_portal import HEADER
from tests.sample_network import small_network

ODD = ["localtime", "Factory", "posixrules", "posix/Asia/Bangkok", "right/UTC"]


def test_add_keeps_a_zone_typed_in_any_case_as_the_tz_database_spells_it(config: Path, capsys) -> None:  # noqa: ANN001, F811
    code, out, err = member(config, capsys, "add", "console:bob", "--country", "TH", "--role", "contact",
                            "--tz", "asia/bangkok")
    assert code == 0, err
    assert "time zone Asia/Bangkok;" in out


@pytest.mark.parametrize("odd", ODD)
def test_add_refuses_an_odd_entry_of_the_tz_database_and_changes_nothing(config: Path, capsys, odd: str) -> None:  # noqa: ANN001, F811
    code, out, err = member(config, capsys, "add", "console:bob", "--country", "TH", "--role", "contact",
                            "--tz", odd)
    assert code == 2 and not out and "Traceback" not in err
    assert err.startswith(f"Time zone '{odd}' is not valid: use an IANA zone such as Asia/Bangkok or UTC, or "
                          "default for the network's. Example: liaison-bot member add")
    assert not in_directory(config, "bob")


def _row(zone: str) -> dict[str, object]:
    return {"id": "new-one", "name": "New One", "organisation": "TH", "roles": ["officer"],
            "identities": ["console:new-one"], "timezone": zone}


@pytest.mark.parametrize("odd", ODD)
def test_an_import_refuses_an_odd_zone_with_its_row(odd: str) -> None:
    contacts, [error] = check_rows([_row(odd)], small_network())
    assert contacts == [] and error.message.startswith(f"timezone: {odd!r} is not an IANA time zone")


@pytest.mark.parametrize("zone, kept", [("asia/bangkok", "Asia/Bangkok"), ("utc", "UTC"), (" Asia/Tokyo ", "Asia/Tokyo")])
def test_an_import_keeps_a_zone_in_any_case_as_the_tz_database_spells_it(zone: str, kept: str) -> None:
    [contact], errors = check_rows([_row(zone)], small_network())
    assert errors == [] and contact.timezone == kept


@pytest.mark.parametrize("zone, kept", [("asia/bangkok", "Asia/Bangkok"), ("utc", "UTC"), ("localtime", None),
                                        ("Factory", None), ("posix/Asia/Bangkok", None)])
def test_the_portal_list_takes_the_same_zones(zone: str, kept: str | None) -> None:
    rows, _ = read_portal(HEADER + f"Eve,eve@x.org,TH,,User,,,console:eve,{zone}\n")
    contacts, errors = check_portal_rows(rows, small_network())
    if kept is None:
        assert contacts == [] and [e.message for e in errors] == [
            f"timezone: {zone!r} is not an IANA time zone like Asia/Bangkok"]
    else:
        assert errors == [] and [c.timezone for c in contacts] == [kept]
