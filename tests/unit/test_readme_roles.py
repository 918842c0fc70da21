"""The README's table of who may do what is the command declarations' (handlers/command_list.py):
every command in exactly one row, each row's ticks exactly the roles its commands declare."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alerts.focal import FOCAL_POINTS
from alerts.roles import Role
from bot.config.settings import load_settings
from handlers.command_list import COMMANDS
from tests.unit.test_registry import Bot

README = Path(__file__).resolve().parents[2] / "README.md"
ALLOWED = {"yes"}
FOCAL_CELLS = {"own country": Role.NATIONAL_FOCAL_POINT, "own organisation": Role.ORGANISATIONAL_FOCAL_POINT}
DENIED = "—"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def read_table() -> tuple[list[Role], list[tuple[list[str], list[str]]]]:
    lines = README.read_text(encoding="utf-8").splitlines()
    start = lines.index("### Who may do what")
    header_at = next(i for i in range(start, len(lines)) if lines[i].startswith("| commands |"))
    roles = [Role.parse(name) for name in _cells(lines[header_at])[1:]]
    rows = []
    for line in lines[header_at + 2:]:
        if not line.startswith("|"):
            break
        first, *marks = _cells(line)
        rows.append((re.findall(r"`/([a-z]+)`", first), marks))
    return roles, rows


def test_the_table_has_a_column_for_every_role_once() -> None:
    roles, _ = read_table()
    assert sorted(roles, key=lambda r: r.value) == sorted(Role, key=lambda r: r.value)


def test_every_command_is_in_one_row_with_exactly_its_declared_roles() -> None:
    roles, rows = read_table()
    seen: list[str] = []
    for commands, marks in rows:
        assert len(marks) == len(roles), commands
        allowed = set()
        for role, mark in zip(roles, marks):
            if mark in ALLOWED:
                allowed.add(role)
            elif mark in FOCAL_CELLS:
                # "own country" only under the national focal point, "own organisation" under the other.
                assert FOCAL_CELLS[mark] is role and role in FOCAL_POINTS, (commands, mark)
                allowed.add(role)
            else:
                assert mark == DENIED, (commands, mark)
        for name in commands:
            spec = COMMANDS.spec_for(name)
            assert spec is not None and spec.name == name, name
            assert spec.roles == allowed, (name, sorted(r.value for r in spec.roles), sorted(r.value for r in allowed))
        seen += commands
    assert sorted(seen) == sorted(spec.name for spec in COMMANDS.specs)  # each once, none missing


def test_the_focal_points_reach_their_own_people_only_through_member() -> None:
    for spec in COMMANDS.specs:
        if spec.roles & FOCAL_POINTS and spec.roles != frozenset(Role):
            assert spec.name == "member", spec.name


@pytest.mark.parametrize("who, may_close, may_withdraw, may_correct", [
    ("my-officer", True, True, True),         # the originator
    ("rso-coordinator", True, True, False),   # a coordinator
    ("th-npoc", False, False, False),         # a recipient
    ("rso-admin", False, False, False),
    ("rso-auditor", False, False, False),
])
def test_within_a_command_the_acts_the_readme_names_need_more(who: str, may_close: bool, may_withdraw: bool,
                                                              may_correct: bool) -> None:
    """"/close of someone else's item needs a coordinator, /withdraw is for the item's originator or a
    coordinator and /correct for its originator", on the sample network."""
    readme = README.read_text(encoding="utf-8")
    assert ("`/close` of someone else's item needs a coordinator,\n`/withdraw` is for the item's originator or a "
            "coordinator and `/correct` for its originator") in readme
    directory = load_settings(README.parent / "config.example.toml").directory()
    for command, allowed, done in [("/close A-2026-0001 both arrested", may_close, "Closed A-2026-0001. 1 recipient is told."),
                                   ("/withdraw A-2026-0001 sent to the wrong country", may_withdraw, "Withdrew A-2026-0001."),
                                   ("/correct A-2026-0001 tlp:green", may_correct, "A-2026-0001 rev 2 accepted")]:
        bot = Bot(directory=directory)
        assert " accepted (" in bot.says("my-officer", "/alert to:TH tlp:amber topic:document-fraud Two at gate C3")[0]
        answer = bot.says(who, command)[0]
        assert answer.startswith(done) if allowed else answer.startswith("Only the originator of A-2026-0001"), (
            who, command, answer)
