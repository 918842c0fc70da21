"""A national focal point at the console, as a real process: they onboard, offboard and set backups
for the people of their own country, and are refused for anyone else's."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_console import console, workdir  # noqa: F401 - a fixture, by name

FOCAL_POINT = """

[[network.contacts]]
id = "th-nfp"
name = "Thai focal point"
organisation = "TH"
roles = ["officer", "national-focal-point"]
identities = ["console:th-nfp"]
timezone = "Asia/Bangkok"
"""

SCRIPT = """\
:as th-nfp
/member add console:somsak country:TH role:officer desk:immigration
/member backup console:somsak th-immigration
/member remove console:my-officer
/member backup console:th-officer my-officer
/member add console:eve country:TH role:admin
:as somsak
/whoami
:as my-officer
/whoami
:as th-officer
/member remove console:th-immigration
"""


def test_a_national_focal_point_manages_their_own_people_only(workdir: Path) -> None:  # noqa: F811
    with (workdir / "config.toml").open("a", encoding="utf-8") as config:
        config.write(FOCAL_POINT)
    run = console(workdir, SCRIPT)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert "Added somsak (@somsak, Thailand, immigration desk) with roles officer;" in out
    assert "somsak joins (onboarding)" in out  # the room actions were carried out
    assert "is now the backup of somsak (Thailand immigration) (@somsak)" in out
    assert "Not allowed: you manage the people of Thailand only; this person is of Malaysia. Ask an admin." in out
    assert "Not allowed: you manage the people of Thailand only; the backup is of Malaysia. Ask an admin." in out
    assert "not admin. Ask an admin." in out
    assert "my-officer is removed" not in out and "Removed" not in out
    assert "You are somsak (somsak).\n│ Organisation: Thailand, immigration desk" in out
    assert "Backup: Immigration desk (Thailand immigration)" in out
    assert "You are Immigration liaison officer (my-officer)." in out  # still in the directory
    assert "/member needs one of these roles: admin, national-focal-point, organisational-focal-point." in out
    assert "Traceback" not in out + run.stderr
