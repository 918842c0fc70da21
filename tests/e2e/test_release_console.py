"""Two-person release through the console, a real process: a TLP:RED alert is held unsent, its
originator cannot approve it, a second person approves (or declines) it; and, in-process with a
manual clock, one nobody decides on expires."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from alerts.clock import ManualClock
from alerts.identity import ChatRef, UserRef
from alerts.messages import InboundMessage, MessageKind
from bot.config.settings import load_settings
from bot.runtime.app import build_runtime
from handlers.followup_reminders import ReminderService
from storage.tables import outbox
from tests.e2e.command_world import T0
from tests.e2e.test_console import console, workdir  # noqa: F401 - a fixture, by name

RED = "/alert to:@th-npoc tlp:red\nInformant says the boat leaves tonight\n\n"


def blocks_to(out: str, who: str) -> list[str]:
    return [b for b in out.split("┌─ ") if b.startswith(f"to {who}")]


def test_a_red_alert_waits_for_a_second_person_and_its_originator_cannot_approve_it(workdir: Path) -> None:
    script = (RED + "/approve A-2026-0001\n:as rso-coordinator\n/approve A-2026-0001\n"
              ":as my-npoc\n/approve A-2026-0001\n")
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    officer = "".join(blocks_to(out, "Immigration liaison officer (Malaysia)"))
    assert "Alert A-2026-0001 is held (TLP:RED H0): nothing is sent until a second person approves it. Waiting " \
           "for approval by National point of contact (Malaysia)" in officer
    assert "You sent A-2026-0001, so you cannot approve or decline it: a second person must." in officer
    coordinator = "".join(blocks_to(out, "Network coordinator"))
    assert "You may not approve or decline A-2026-0001." in coordinator  # Malaysia has its own approver
    approver = "".join(blocks_to(out, "National point of contact (Malaysia)"))
    assert "asks you to approve the release of alert A-2026-0001" in approver
    assert "Approved: A-2026-0001 is on its way to National point of contact (Thailand)." in approver
    thailand = blocks_to(out, "National point of contact (Thailand)")
    assert [b for b in thailand if "Informant says the boat leaves tonight" in b], out
    assert "Traceback" not in out + run.stderr


def test_a_declined_alert_is_never_sent_and_its_originator_hears_why(workdir: Path) -> None:
    run = console(workdir, RED + ":as my-npoc\n/decline A-2026-0001 source would be exposed\n"
                  "/approve A-2026-0001\n")
    assert run.returncode == 0, run.stderr
    out = run.stdout
    assert not blocks_to(out, "National point of contact (Thailand)")
    officer = "".join(blocks_to(out, "Immigration liaison officer (Malaysia)"))
    assert "declined A-2026-0001: source would be exposed. Nothing was sent, and it is closed." in officer
    assert "A-2026-0001 was declined by National point of contact (Malaysia)" in out


def test_an_alert_nobody_decides_on_expires_unsent(workdir: Path) -> None:
    """The running bot of config.example.toml in-process, its reminder tick driven with a manual clock."""
    settings = load_settings(workdir / "config.toml")
    clock = ManualClock(T0)
    runtime = build_runtime(settings, out=io.StringIO(), clock=clock, notice=io.StringIO())
    try:
        message = InboundMessage("e1", UserRef.parse("console:my-officer"), ChatRef.parse("console:@my-officer"),
                                 RED.strip(), clock.now(), direct=True)
        with runtime.uow_factory() as uow:
            uow.inbox.record(message)
            uow.commit()
        runtime.inbox.process_pending()
        service = ReminderService(runtime.uow_factory, runtime.directory, settings.reminders.policy(),
                                  release=settings.release.policy())
        service.tick(T0 + timedelta(hours=2, minutes=1))
        service.tick(T0 + timedelta(hours=24, minutes=1))
        with runtime.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.key, outbox.c.kind, outbox.c.destination)).all()
        assert not [r for r in rows if r.kind == MessageKind.DELIVERY.value]
        keys = {r.key: r.destination for r in rows}
        assert "release:A-2026-0001:remind:1:my-npoc" in keys  # the approver reminded
        assert keys["release:A-2026-0001:expired"] == "direct:console:my-officer"  # the originator told
    finally:
        runtime.engine.dispose()


def test_a_correction_raised_to_red_is_held_until_a_second_person_approves_it(workdir: Path) -> None:
    script = ("/alert to:@th-npoc tlp:amber\nThe boat leaves pier 4 tonight\n\n"
              "/correct A-2026-0001 tlp:red\nThe boat leaves pier 7 at 23:30\n\n"
              "/approve A-2026-0001\n:as my-npoc\n/approve A-2026-0001\n")
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    officer = "".join(blocks_to(out, "Immigration liaison officer (Malaysia)"))
    assert "A-2026-0001 rev 2 is held (TLP:RED H0): nothing is sent, and the earlier copies stay as they are, " \
           "until a second person approves it." in officer
    assert "You sent A-2026-0001, so you cannot approve or decline it" in officer
    approver = "".join(blocks_to(out, "National point of contact (Malaysia)"))
    assert "asks you to approve the release of alert A-2026-0001 rev 2 (TLP:RED H0)" in approver
    assert "Approved: A-2026-0001 rev 2 is on its way to National point of contact (Thailand)" in approver
    thailand = blocks_to(out, "National point of contact (Thailand)")
    pier4 = [n for n, b in enumerate(thailand) if "pier 4" in b]
    pier7 = [n for n, b in enumerate(thailand) if "pier 7" in b]
    superseded = [n for n, b in enumerate(thailand) if "Superseded by A-2026-0001 rev 2" in b]  # rev 1 edited
    # rev 1 first; its edit and rev 2 only after the approval, in that order.
    assert len(pier4) == len(pier7) == len(superseded) == 1 and pier4[0] < superseded[0] < pier7[0], out
    assert out.index(thailand[pier7[0]]) > out.index("Approved: A-2026-0001 rev 2"), "sent only once approved"
    assert "Traceback" not in out + run.stderr
