"""Operator slips in the file: a room or a contact on a platform the file does not enable. check-config
names each (key path, what is wrong, what is accepted) as a warning, which by the house's convention
does not fail it; at start each one is set aside, logged once with an error reference and no content,
and the admins are told once, in one line."""

from __future__ import annotations

import asyncio
import logging
import re
from pathlib import Path

import pytest

from tests.ops.conftest import bot_runtime
from tests.ops.failover_pair import write_config
from tests.ops.test_start_refusals import cli

MATRIX_ROOM = ('\n[[network.rooms]]\nchat = "matrix:!kul:example.org"\nname = "KUL airport on Matrix"\n'
               'purpose = "network"\norganisations = ["MY", "TH"]\nhubs = ["KUL"]\n')
MATRIX_CONTACT = ('\n[[network.contacts]]\nid = "th-matrix"\nname = "Somchai on Matrix"\norganisation = "TH"\n'
                  'roles = ["officer"]\nidentities = ["matrix:@somchai:example.org"]\n')
ANCHOR_ROOM = 'organisations = ["RSO"]\n'  # the end of the coordination room, the second room
ANCHOR_CONTACT = 'identities = ["console:rso-admin"]\ntimezone = "Asia/Bangkok"\n'


def seeded_text(text: str) -> tuple[str, int, int]:
    """The example with a Matrix room and a Matrix-only contact, the console alone enabled; and the
    key path indexes of the two."""
    assert text.count(ANCHOR_ROOM) == 1 and text.count(ANCHOR_CONTACT) == 1, "config.example.toml moved"
    room_at = text.index(ANCHOR_ROOM) + len(ANCHOR_ROOM)
    text = text[:room_at] + MATRIX_ROOM + text[room_at:]
    contact_at = text.index(ANCHOR_CONTACT) + len(ANCHOR_CONTACT)
    text = text[:contact_at] + MATRIX_CONTACT + text[contact_at:]
    return text, text[:room_at].count("[[network.rooms]]"), text[:contact_at].count("[[network.contacts]]")


@pytest.fixture
def seeded(tmp_path: Path) -> tuple[Path, int, int]:
    config = write_config(tmp_path, None)
    text, room, contact = seeded_text(config.read_text())
    config.write_text(text)
    return config, room, contact


def test_check_config_names_each_room_and_contact_on_a_platform_not_enabled_and_still_passes(
        seeded: tuple[Path, int, int], capsys: pytest.CaptureFixture[str]) -> None:
    config, room, contact = seeded
    assert room == 2
    assert cli("check-config", "--config", str(config)) == 0  # warnings: the file loads (the house's rule)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert (f'warning: {config}: network.rooms[{room}].chat: "matrix:!kul:example.org" is on matrix, which this bot '
            "does not run (it runs console): set aside, nothing is posted there nor synced; expected a room on a "
            'platform it runs, such as "console:#kul", or enable [matrix]') in warnings
    [line] = [w for w in warnings if "th-matrix" in w]
    assert line.startswith(f"warning: {config}: network.contacts[{contact}].identities: contact th-matrix (Somchai on "
                           "Matrix (Thailand)) has no account on an enabled platform (accounts: "
                           "matrix:@somchai:example.org): set aside, nothing reaches them; expected an account on a "
                           'platform this bot runs (console), such as "console:alice"; routed to by: to:@th-matrix')
    assert len(warnings) == 2, warnings
    assert captured.out.strip().endswith("rooms)")  # the summary still says OK


def test_at_start_each_is_set_aside_logged_once_without_content_and_admins_told_once(
        seeded: tuple[Path, int, int], caplog: pytest.LogCaptureFixture) -> None:
    from bot.runtime.seeded import set_aside_at_start

    config, room, contact = seeded

    async def start() -> list[str]:
        runtime, sink = bot_runtime(config)
        try:
            set_aside_at_start(runtime)
            await runtime.settle()
        finally:
            await runtime.close()
        return [m.text for m in sink.sent]

    with caplog.at_level(logging.INFO):
        first = asyncio.run(start())
    logged = [r for r in caplog.records if "set aside" in r.getMessage()]
    assert [r.levelno for r in logged] == [logging.ERROR, logging.ERROR]
    refs = {getattr(r, "liaison_error_ref", None) for r in logged}
    [ref] = refs
    assert ref is not None and re.fullmatch(r"E-[A-Z2-9]{6}", ref)
    messages = [r.getMessage() for r in logged]
    assert f"network.rooms[{room}]" in messages[0] and f"network.contacts[{contact}]" in messages[1]
    for text in messages:  # names, accounts and chats stay out of the log
        assert ref in text
        for content in ("KUL airport", "Somchai", "somchai", "!kul", "th-matrix"):
            assert content not in text, text
    told = [t for t in first if "Set aside" in t]
    assert told == [f"⚠ Set aside at start (reference {ref}): 1 room and 1 contact in the configuration are on a "
                    "platform this bot does not run (it runs console): network.rooms[2], "
                    f"network.contacts[{contact}]. Nothing is posted to them nor synced; liaison-bot check-config "
                    "names each."]
    assert "\n" not in told[0]

    caplog.clear()
    again = asyncio.run(start())  # a restart with the same file: logged again, not told again
    assert [t for t in again if "Set aside" in t] == []
    assert len([r for r in caplog.records if "set aside" in r.getMessage()]) == 2


def test_nothing_is_set_aside_or_told_when_every_room_and_contact_is_reached(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from bot.runtime.seeded import set_aside_at_start

    config = write_config(tmp_path, None)

    async def start() -> list[str]:
        runtime, sink = bot_runtime(config)
        try:
            set_aside_at_start(runtime)
            await runtime.settle()
        finally:
            await runtime.close()
        return [m.text for m in sink.sent]

    assert not [t for t in asyncio.run(start()) if "Set aside" in t]
    assert not [r for r in caplog.records if "set aside" in r.getMessage()]


def test_check_config_names_the_file_as_typed_in_its_warnings_as_in_its_errors(
        seeded: tuple[Path, int, int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """One way for every line about the file: the path given on the command line, not its absolute form."""
    config, _, _ = seeded
    monkeypatch.chdir(config.parent)
    assert cli("check-config", "--config", config.name) == 0
    captured = capsys.readouterr()
    warnings = [line for line in captured.err.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2 and all(w.startswith(f"warning: {config.name}: network.") for w in warnings), warnings
    assert captured.out.startswith(f"{config.name}: OK (")
    config.write_text(config.read_text().replace("[storage]\n", '[storage]\npassword = { env = "LIAISON_NOT_SET_HERE" }\n', 1))
    monkeypatch.delenv("LIAISON_NOT_SET_HERE", raising=False)
    assert cli("check-config", "--config", config.name) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("warning:")]
    assert errors == [f"{config.name}: storage.password: environment variable LIAISON_NOT_SET_HERE is not set"]
