"""A room and a contact the file names on Matrix while only the console runs, end to end through
`liaison-bot console`: the admins are told once at start, in one line; an alert for the room's hub
goes to the direct chat instead of waiting for a platform that does not run; /room sync plans
nothing for the Matrix room and says so."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.e2e.test_console import console, workdir  # noqa: F401 - a fixture, by name
from tests.ops.test_seeded_aside import seeded_text


def test_a_room_and_a_contact_on_matrix_are_set_aside_and_the_console_goes_on(workdir: Path) -> None:  # noqa: F811
    config = workdir / "config.toml"
    config.write_text(seeded_text(config.read_text())[0])
    script = (":as my-officer\n"
              "/alert to:TH hub:KUL tlp:green Two travellers with altered passports\n"
              ":as rso-admin\n"
              "/room sync\n")
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    out, lines = run.stdout, run.stdout.splitlines()
    assert "Traceback" not in out + run.stderr
    told = [line for line in lines if "Set aside at start" in line]
    assert len(told) == 1 and "1 room and 1 contact" in told[0] and "network.rooms[2]" in told[0], out
    receipt = next(line for line in lines if "accepted (" in line)
    assert "Cannot reach" not in receipt
    assert "KUL airport on Matrix is on matrix, which this bot does not run (it runs console)" in out
    assert "(Thailand), direct chat" in out  # the copy went to Thailand's point of contact on the console
    assert ("│ Left out: KUL airport on Matrix (matrix:!kul:example.org) is on matrix, which this bot does not run "
            "(it runs console): nothing is planned for it.") in lines
    assert "set aside" in run.stderr.lower() and "E-" in run.stderr  # the log: the reference, no content
    assert "Somchai" not in run.stderr and "KUL airport" not in run.stderr

    again = console(workdir, ":as rso-admin\n/rooms\n")
    assert again.returncode == 0, again.stderr
    assert "Set aside at start" not in again.stdout  # told once


def test_member_add_and_remove_plan_nothing_on_a_platform_not_run_and_say_what_is_left_to_do_by_hand(
        workdir: Path) -> None:  # noqa: F811
    """th-npoc has a Matrix account too, and the KUL airport room is on Matrix, which this bot does not
    run: an invite or removal there would wait in the outbox for ever while the admin was told "I will
    say here when it is done". The admin is told instead what was not done, and what to do by hand."""
    config = workdir / "config.toml"
    text = seeded_text(config.read_text())[0]
    assert text.count('identities = ["console:th-npoc"]') == 1, "config.example.toml moved"
    config.write_text(text.replace('identities = ["console:th-npoc"]',
                                   'identities = ["console:th-npoc", "matrix:@th:example.org"]'))
    run = console(workdir, ":as rso-admin\n"
                           "/member add console:th-npoc country:TH role:coordinator\n"
                           '/member remove th-npoc reason:"posted elsewhere"\n')
    assert run.returncode == 0, run.stderr
    out, lines = run.stdout, run.stdout.splitlines()
    assert "Traceback" not in out + run.stderr
    assert "(matrix:@th:example.org) from KUL" not in out and "(matrix:@th:example.org) to KUL" not in out, out
    assert ("│ Left out: KUL airport on Matrix (matrix:!kul:example.org) is on matrix, which this bot does not run "
            "(it runs console): they are not invited there.") in lines, out
    assert ("│ Not removed from KUL airport on Matrix (matrix:!kul:example.org): it is on matrix, which this bot does "
            "not run (it runs console); if matrix:@th:example.org is in it, remove them there by hand.") in lines, out
    assert "leaves their Matrix direct chat" not in out
    with sqlite3.connect(workdir / "var" / "liaison.sqlite") as db:
        waiting = db.execute("SELECT kind, destination FROM outbox WHERE platform != 'console' AND state = 'pending'"
                             ).fetchall()
    assert waiting == []  # nothing waits for a platform that does not run
