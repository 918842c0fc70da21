"""/away end to end on the console: a real process, a script on standard input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update

from storage.db import create_engine_for, sqlite_url
from storage.tables import deliveries, items
from tests.e2e.test_console import STORY, console, workdir  # noqa: F401 - a fixture, by name

NPOC = "National point of contact (Thailand)"
DESK = "Immigration desk (Thailand immigration)"


def _blocks(out: str, heading: str) -> list[str]:
    return [b for b in out.split("┌─ ") if b.startswith(heading)]


def test_away_passes_items_to_the_delegate_keeps_red_back_and_sums_up_when_back(workdir: Path) -> None:  # noqa: F811
    last_day = STORY.now().date() + timedelta(days=5)  # the bot's today
    script = (
        ":as th-npoc\n"
        f"/away until:{last_day:%Y-%m-%d} backup:@th-immigration on leave\n"
        ":as my-officer\n"
        "/alert to:@th-npoc tlp:amber Boat sighted off Satun\n"
        "/alert to:@th-npoc tlp:red Named source details\n"
        ":as my-npoc\n"
        "/approve A-2026-0002\n"  # TLP:RED waits for a second person's release
        ":as th-immigration\n"
        "/ack A-2026-0001\n"
        "/ack A-2026-0002\n"
        ":as th-npoc\n"
        "/away off\n"
    )
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    until = f"{last_day:%d %b %Y}"
    to_desk = _blocks(out, f"to {DESK}, direct chat")
    to_npoc = _blocks(out, f"to {NPOC}, direct chat")
    to_officer = _blocks(out, "to Immigration liaison officer (Malaysia), direct chat")
    # The AMBER item goes to the delegate, headed with whom it is for.
    [amber] = [b for b in to_desk if "· delivery" in b]
    assert f"For {NPOC}, who is away until {until}:" in amber and "Boat sighted off Satun" in amber
    assert not any("Boat sighted" in b for b in to_npoc if "· delivery" in b)
    # The delegate acknowledges for the person; the originator sees for whom.
    assert any(f"A-2026-0001: acknowledged by {DESK} for {NPOC}" in b for b in to_officer)
    # TLP:RED is not passed on: it goes to the person alone, the delegate may not act on it.
    assert not any("Named source" in b for b in to_desk)
    assert any("Named source details" in b for b in to_npoc)
    assert any("TLP:RED is for named people only, so it waits for them" in b for b in to_officer)
    assert any("A-2026-0002 is TLP:RED: it is for named people only, so it waits for" in b for b in to_desk)
    # Back: one summary of what arrived.
    [summary] = [b for b in to_npoc if "Welcome back. While you were away" in b]
    assert f"{DESK} stood in for you" in summary
    assert "A-2026-0001 [TLP:AMBER]" in summary and "acknowledged" in summary
    assert f"What {DESK} did for you: acknowledged A-2026-0001." in summary
    assert "A-2026-0002 [TLP:RED]" in summary and "waiting for you" in summary
    assert "Traceback" not in out + run.stderr
    # A restart does not tell them again.
    again = console(workdir, ":as th-npoc\n/away\n")
    assert again.returncode == 0, again.stderr
    assert "While you were away" not in again.stdout and "You are not set away" in again.stdout


def test_away_refuses_a_date_in_the_past_with_an_example(workdir: Path) -> None:  # noqa: F811
    run = console(workdir, ":as th-npoc\n/away until:2020-01-01 backup:@th-immigration\n/away\n")
    assert run.returncode == 0, run.stderr
    assert "until:2020-01-01 is in the past" in run.stdout and "Example: /away until:" in run.stdout
    assert "You are not set away" in run.stdout


def _shift_back(workdir: Path, span: timedelta) -> None:
    """As if the bot had been down for `span` since the items were sent: their times move back."""
    engine = create_engine_for(sqlite_url(workdir / "var" / "liaison.sqlite"))
    try:
        with engine.begin() as connection:
            for row in connection.execute(select(items.c.reference, items.c.created_at, items.c.ack_due,
                                                 items.c.feedback_due)).all():
                connection.execute(update(items).where(items.c.reference == row.reference).values(
                    created_at=row.created_at - span, ack_due=row.ack_due and row.ack_due - span,
                    feedback_due=row.feedback_due and row.feedback_due - span))
            for row in connection.execute(select(deliveries.c.id, deliveries.c.sent_at)).all():
                if row.sent_at is not None:
                    connection.execute(update(deliveries).where(deliveries.c.id == row.id)
                                       .values(sent_at=row.sent_at - span))
    finally:
        engine.dispose()


def test_the_backup_receives_the_item_at_escalation_and_acts_for_the_contact(workdir: Path) -> None:  # noqa: F811
    first = console(workdir, "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted off Satun\n")
    assert first.returncode == 0, first.stderr
    assert "A-2026-0001 accepted" in first.stdout
    _shift_back(workdir, timedelta(hours=3))  # unacknowledged for hours: escalation is due at the start
    run = console(workdir, ":as th-immigration\n/ack A-2026-0001\n")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    to_desk = _blocks(out, f"to {DESK}, direct chat")
    [escalation] = [b for b in to_desk if "· escalation" in b]
    assert f"Please check with {NPOC}" in escalation and "you are their backup" in escalation and "Boat sighted off Satun" in escalation
    assert "/ack A-2026-0001" in escalation
    assert any(f"Acknowledged A-2026-0001 for {NPOC}" in b for b in to_desk)
    to_officer = _blocks(out, "to Immigration liaison officer (Malaysia), direct chat")
    assert any(f"A-2026-0001: acknowledged by {DESK} for {NPOC}" in b for b in to_officer)
    assert "Traceback" not in out + run.stderr


def test_the_delegate_looks_back_at_what_was_sent_to_them_also_once_the_person_is_back(
        workdir: Path) -> None:  # noqa: F811
    last_day = STORY.now().date() + timedelta(days=5)  # the bot's today
    script = (
        ":as my-officer\n"
        "/alert to:@th-npoc tlp:amber Boat one before the absence\n"
        ":as th-npoc\n"
        f"/away until:{last_day:%Y-%m-%d} backup:@th-immigration on leave\n"
        ":as my-officer\n"
        "/alert to:@th-npoc tlp:amber Boat two off Satun\n"
        ":as th-immigration\n"
        "/reply A-2026-0002 Seen at the pier\n"
        ":as th-npoc\n"
        "/away off\n"
        ":as th-immigration\n"
        "/status A-2026-0002\n"
        "/history A-2026-0002\n"
        "/find boat\n"
        "/status A-2026-0001\n"
    )
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    to_desk = "\n".join(_blocks(out, f"to {DESK}, direct chat"))
    assert f"│ {NPOC}: sent" in to_desk  # /status: the line of the copy they held
    assert f"delivered to {NPOC} (given to {DESK}, standing in)" in to_desk
    assert f"feedback from {DESK} for {NPOC}: Seen at the pier" in to_desk
    found = to_desk.split("Found, newest first", 1)[1].split("└─", 1)[0]
    assert "A-2026-0002" in found and "A-2026-0001" not in found  # not sent to them: not theirs to see
    assert "Only the originator, recipients, coordinators and auditors can see A-2026-0001." in to_desk
    assert "Traceback" not in out + run.stderr


def test_a_delegate_away_later_passes_items_on_and_a_circle_is_refused(workdir: Path) -> None:  # noqa: F811
    last_day = STORY.now().date() + timedelta(days=5)  # the bot's today
    script = (
        ":as th-npoc\n"
        f"/away until:{last_day:%Y-%m-%d} backup:@th-immigration on leave\n"
        ":as th-immigration\n"  # the delegate goes away later, naming someone who is here
        f"/away until:{last_day:%Y-%m-%d} backup:@th-police\n"
        ":as th-police\n"  # naming the first person would close the circle
        f"/away until:{last_day:%Y-%m-%d} backup:@th-npoc\n"
        ":as my-officer\n"
        "/alert to:@th-npoc tlp:amber Boat sighted off Satun\n"
        ":as th-police\n"
        "/ack A-2026-0001\n"
        ":as th-npoc\n"
        "/away off\n"
    )
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert ("backup:@th-npoc would close a circle: Police desk → National point of contact → Immigration desk → "
            "Police desk") in out and "Example: /away until:" in out
    [police] = [b for b in _blocks(out, "to Police desk") if "· delivery" in b]
    assert f"For {NPOC}, who is away until {last_day:%d %b %Y} ({DESK}, who stands in for them, is away too" in police
    assert "Boat sighted off Satun" in police
    assert not any("Boat sighted" in b for b in _blocks(out, f"to {DESK}, direct chat"))
    assert any("A-2026-0001: acknowledged by Police desk" in b and f"for {NPOC}" in b
               for b in _blocks(out, "to Immigration liaison officer (Malaysia), direct chat"))
    [summary] = [b for b in _blocks(out, f"to {NPOC}, direct chat") if "Welcome back. While you were away" in b]
    assert f"{DESK} was away too from" in summary and "stood in for you both then" in summary
    assert "Traceback" not in out + run.stderr


def test_escalation_to_a_backup_who_is_away_goes_to_their_stand_in(workdir: Path) -> None:  # noqa: F811
    # th-npoc's backup in config.example.toml is th-immigration, who goes away naming th-police.
    last_day = STORY.now().date() + timedelta(days=5)  # the bot's today
    first = console(workdir, ":as th-immigration\n"
                             f"/away until:{last_day:%Y-%m-%d} backup:@th-police on leave\n"
                             ":as my-officer\n"
                             "/alert to:@th-npoc tlp:amber priority:urgent Boat sighted off Satun\n")
    assert first.returncode == 0, first.stderr
    assert "A-2026-0001 accepted" in first.stdout
    _shift_back(workdir, timedelta(hours=3))  # unacknowledged for hours: escalation is due at the start
    run = console(workdir, ":as th-police\n/ack A-2026-0001\n")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert not any("· escalation" in b for b in _blocks(out, f"to {DESK}, direct chat"))
    [escalation] = [b for b in _blocks(out, "to Police desk") if "· escalation" in b]
    assert (f"{NPOC}'s backup {DESK} is away until {last_day:%d %b %Y}; sent to Police desk (Thailand police), "
            f"who stands in for {DESK}.") in escalation
    assert f"Please check with {NPOC}" in escalation and "Boat sighted off Satun" in escalation
    assert any(f"Acknowledged A-2026-0001 for {NPOC}" in b for b in _blocks(out, "to Police desk"))
    assert "Traceback" not in out + run.stderr
