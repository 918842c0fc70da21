"""The console end to end, as a newcomer runs it: a real process, a script on standard input."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.story_clock import StoryClock, story_environment

ROOT = Path(__file__).resolve().parents[2]
# The bot's process reads the tests' story clock (tests/story_clock.py), so its first alert is A-2026-0001, as
# the scripts here type it, whatever the day they run; one shift for all, so time never goes back between runs.
STORY = StoryClock()
ENV = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **story_environment(STORY)}


def liaison_bot(workdir: Path, *args: str) -> list[str]:
    """`liaison-bot --config workdir/config.toml ARGS…` (bot.cli.main) on the story's clock."""
    return [sys.executable, "-m", "tests.story_clock", "--config", str(workdir / "config.toml"), *args]

SCRIPT = """\
# a Malaysian liaison officer posts an urgent alert to Thailand
/alert to:TH tlp:amber topic:document-fraud grade:B2 priority:urgent
Two travellers with altered passports, flight XX123 KUL-BKK 14:30 today.

/alert to:TH tlp:red Named source details
/alert to:TH tlp:orange oops
:as th-npoc
/whoami
"""


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "config.example.toml", tmp_path / "config.toml")
    return tmp_path


def console(workdir: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        liaison_bot(workdir, "console", *args), input=script, capture_output=True, text=True, cwd=workdir,
        timeout=120, env=ENV,
    )


def test_an_alert_travels_from_the_console_to_thailand(workdir: Path) -> None:
    run = console(workdir, SCRIPT)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    receipt = next(line for line in out.splitlines() if "accepted (TLP:AMBER" in line)
    reference = receipt.split("Alert ", 1)[1].split(" ", 1)[0]
    to_thailand = out.split("(Thailand), direct chat", 1)[1]
    # What a phone's notification shows: the banner, then the body; the reference and caveat follow.
    shown = to_thailand.splitlines()
    assert shown[1] == "│ [TLP:AMBER] URGENT · document-fraud · from Malaysia"
    assert shown[2] == "│ Two travellers with altered passports, flight XX123 KUL-BKK 14:30 today."
    assert f"│ {reference} · alert from Immigration liaison officer (Malaysia) · to TH" in shown
    assert "│ TLP:AMBER: recipient organisations only, need to know. H0: may be shared within law enforcement." in shown
    assert re.search(r"│ Feedback due \d\d [A-Z][a-z]{2} \d\d:\d\d UTC\+7\n", to_thailand)  # on Bangkok's clock
    assert "Not sent: TLP:RED goes only to named people" in out
    assert "TLP 'orange' is not valid" in out
    assert "You are" in out and "(th-npoc)" in out
    assert "Traceback" not in out + run.stderr


def test_references_stay_unique_across_restarts(workdir: Path) -> None:
    first = console(workdir, "/alert to:TH one\n\n")
    second = console(workdir, "/alert to:TH two\n\n")
    refs = [line.split("Alert ", 1)[1].split(" ", 1)[0]
            for run in (first, second) for line in run.stdout.splitlines() if " accepted (" in line]
    assert len(refs) == 2 and refs[0] != refs[1], first.stdout + second.stdout


def test_no_content_reaches_the_database_in_clear(workdir: Path) -> None:
    console(workdir, "/alert to:TH tlp:amber CANARY-7f3a9 passport N1234567\n\n")
    for path in (workdir / "var").rglob("*"):
        if path.is_file():
            assert b"CANARY-7f3a9" not in path.read_bytes(), path


def test_a_red_alert_typed_in_a_room_leaves_it_and_its_facts_stay_in_direct_chats(workdir: Path) -> None:
    script = (":in #network\n/alert to:@th-npoc tlp:red\nInformant says the boat leaves tonight\n\n"
              "/status A-2026-0001\n:in direct\n/status A-2026-0001\n:as my-npoc\n/approve A-2026-0001\n")
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    blocks = run.stdout.split("┌─ ")
    in_room = [b for b in blocks if b.startswith("in Network room (#network)")]
    assert any("· removal" in b and "removed (TLP:RED goes only to direct chats" in b for b in blocks)
    assert any("was removed from this chat: it carried a TLP:RED alert" in b for b in in_room)
    assert sum("answered in your direct chat with the bot" in b for b in in_room) == 2  # the receipt, the /status
    assert not any("Informant" in b or "National point of contact" in b for b in in_room)
    to_officer = [b for b in blocks if b.startswith("to Immigration liaison officer (Malaysia), direct chat")]
    assert any("Alert A-2026-0001 is held (TLP:RED H0)" in b for b in to_officer)
    assert any("approved A-2026-0001. Alert A-2026-0001 accepted (TLP:RED H0). Sending to National point of contact "
               "(Thailand)" in b for b in to_officer)
    assert any("Your TLP:RED alert was removed from Network room" in b for b in to_officer)
    assert sum("A-2026-0001 · TLP:RED H0 · open" in b for b in to_officer) == 2  # asked in the room, then here
    assert "Traceback" not in run.stdout + run.stderr


def test_cancel_drops_an_alert_still_being_typed(workdir: Path) -> None:
    run = console(workdir, "/alert to:TH tlp:amber\nTwo travellers, wrong country\n/cancel\n/cancel\n")
    assert run.returncode == 0, run.stderr
    assert "Cancelled. Nothing was sent." in run.stdout
    assert "Nothing to cancel." in run.stdout  # the second /cancel: no body was pending
    assert " accepted (" not in run.stdout and "Two travellers" not in run.stdout


def test_a_withdrawn_alert_is_removed_from_each_readers_chat_and_later_commands_say_so(workdir: Path) -> None:
    script = ("/alert to:TH tlp:amber Two travellers, flight XX123\n\n"
              "/withdraw A-2026-0001 sent to the wrong country\n"
              ":as th-npoc\n/ack A-2026-0001\n")
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    blocks = run.stdout.split("┌─ ")
    assert any(b.startswith("in @th-npoc · removal") and "removed (the item was withdrawn)" in b for b in blocks)
    to_thailand = [b for b in blocks if b.startswith("to National point of contact (Thailand), direct chat")]
    assert any("A-2026-0001 was withdrawn by Immigration liaison officer (Malaysia) on " in b
               and "sent to the wrong country. Disregard it; the bot removes its copy." in b for b in to_thailand)
    assert any("A-2026-0001: withdrawn on " in b and "(sent to the wrong country). It is closed" in b
               for b in blocks)
    assert any("Withdrew A-2026-0001. 1 delivered copy to be removed" in b for b in blocks), run.stdout
    assert "Traceback" not in run.stdout + run.stderr


def test_a_withdrawal_reason_is_sealed_with_the_item_and_erased_with_its_case(workdir: Path) -> None:
    console(workdir, "/alert to:TH tlp:amber Two travellers\n\n/withdraw A-2026-0001 CANARY-WD-51c2 wrong desk\n")
    for path in (workdir / "var").rglob("*"):
        if path.is_file():
            assert b"CANARY-WD-51c2" not in path.read_bytes(), path
    erased = subprocess.run(
        liaison_bot(workdir, "audit", "erase", "A-2026-0001", "--reason", "retention period over"),
        capture_output=True, text=True, cwd=workdir, timeout=120, env=ENV)
    assert erased.returncode == 0, erased.stderr
    run = console(workdir, "/status A-2026-0001\n")
    assert "A-2026-0001: content erased on " in run.stdout and "(retention period over)" in run.stdout
    assert "CANARY-WD-51c2" not in run.stdout and "Traceback" not in run.stdout + run.stderr


def test_a_correction_reaches_the_new_route_and_marks_the_earlier_copy(workdir: Path) -> None:
    script = ("/alert to:TH tlp:amber Two travellers, flight XX123\n\n"
              "/correct A-2026-0001 to:TH,MY\nTwo travellers, flight XX124\n\n"
              ":as th-npoc\n/ack A-2026-0001\n")
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    blocks = run.stdout.split("┌─ ")
    to_thailand = [b for b in blocks if b.startswith("to National point of contact (Thailand), direct chat")]
    # The earlier copy is shown edited in place: the mark, then its banner, and none of its content.
    [edited] = [b for b in to_thailand if " · edit of console-" in b]
    assert edited.split("\n")[1:3] == ["│ Superseded by A-2026-0001 rev 2 — see the new copy",
                                       "│ [TLP:AMBER] from Malaysia"] and "XX123" not in edited
    assert not any("is superseded by" in b for b in to_thailand)  # edited, so no line after it
    assert any("A-2026-0001 rev 2 · alert from" in b and "· rev 2\n" in b and "flight XX124" in b for b in to_thailand)
    assert any(b.startswith("to National point of contact (Malaysia), direct chat · delivery")
               and "A-2026-0001 rev 2" in b for b in blocks), run.stdout
    assert any("A-2026-0001 rev 2 accepted (TLP:AMBER H0)." in b and "1 marked superseded" in b for b in blocks)
    assert any("Acknowledged A-2026-0001." in b for b in blocks)
    assert "Traceback" not in run.stdout + run.stderr


def test_find_mine_all_and_history_on_the_running_bot(workdir: Path) -> None:
    script = ("/alert to:TH tlp:amber topic:document-fraud Altered passports on flight XX123\n\n"
              "/alert to:TH tlp:green Boat sighted\n\n/close A-2026-0002 done\n"
              "/find passports topic:document-fraud country:TH\n/mine all\n/history A-2026-0001\n")
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    found = out.split("Found, newest first (page 1, times ", 1)[1].split("└─", 1)[0]
    assert "A-2026-0001 TLP:AMBER" in found and "Altered passports on flight XX123" in found
    assert "A-2026-0002" not in found
    mine = out.split("Your items, open and closed, newest first", 1)[1].split("└─", 1)[0]
    assert mine.index("A-2026-0002") < mine.index("A-2026-0001") and "· closed: Boat sighted" in mine
    history = out.split("A-2026-0001 · TLP:AMBER H0 · history (times ", 1)[1].split("└─", 1)[0]
    assert "alert sent by Immigration liaison officer (Malaysia)" in history
    assert "delivered to National point of contact (Thailand)" in history
    assert "Traceback" not in out + run.stderr


def _quick_start() -> tuple[str, list[str]]:
    """The README's quick-start session: what is typed (after a prompt `who>`, or `…` for the lines of
    the body and the empty line that sends it), and what the console shows."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Quick start"):readme.index("### A delivery as a phone shows it")]
    block = next(b for b in re.findall(r"^```[a-z]*\n(.*?)^```", section, re.S | re.M) if "my-officer> " in b)
    typed, shown = [], []
    for line in block.splitlines():
        if prompt := re.match(r"^[\w-]+> (.*)$", line):
            typed.append(prompt.group(1))
        elif line == "…" or line.startswith("… "):
            typed.append(line[2:])
        else:
            shown.append(line)
    return "\n".join(typed) + "\n", shown


def test_the_readme_quick_start_shows_what_it_says(workdir: Path) -> None:
    script, shown = _quick_start()
    assert "/ack A-2026-0001" in script and len(shown) > 10
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    when = r"\d\d [A-Z][a-z]{2} \d\d:\d\d"  # the README's day and time are of the day it was written
    missing = []
    for line in shown:
        for piece in filter(None, (p.strip() for p in line.removeprefix("│ ").split("…"))):  # README lines wrap
            if piece not in ("│", "└─") and not re.search(when.join(map(re.escape, re.split(when, piece))), run.stdout):
                missing.append(piece)
    assert missing == [], run.stdout
