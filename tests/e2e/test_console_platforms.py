"""A room or an account on a platform the bot does not run, end to end: `liaison-bot console` (the
console alone, whatever the file enables) and `liaison-bot member add` refuse it in one line, and
nothing is kept; the same room on the console is registered."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.e2e.test_console import ENV, console, liaison_bot, workdir  # noqa: F401 - a fixture, by name

FIELDS = 'name:"KUL airport" purpose:network orgs:MY,TH hubs:KUL'


def test_rooms_and_accounts_on_platforms_not_run_are_refused_and_nothing_is_kept(workdir: Path) -> None:  # noqa: F811
    script = (":as rso-admin\n"
              f"/room register matrix:!room:server {FIELDS}\n"
              f"/room register telegram:-1001234567890 {FIELDS}\n"
              "/member add @alice:example.org country:TH role:contact\n"
              "/rooms\n"
              f"/room register console:#kul {FIELDS}\n")
    run = console(workdir, script)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    example = f'Example: /room register console:#kul {FIELDS}'
    assert (f"│ Not registered: matrix:!room:server is on matrix, which this bot does not run (it runs console): "
            f"nothing could be posted there. {example}") in lines
    assert (f"│ Not registered: telegram:-1001234567890 is on telegram, which this bot does not run (it runs "
            f"console): nothing could be posted there. {example}") in lines
    assert ("│ Not added: matrix:@alice:example.org is on matrix, which this bot does not run (it runs console): "
            "nothing could reach them. Example: /member add console:alice country:TH role:contact") in lines
    rooms = run.stdout.split("registered rooms:", 1)[1].split("└─", 1)[0]
    assert "KUL" not in rooms and "matrix" not in rooms and "telegram" not in rooms
    assert any(line.startswith("│ Registered KUL airport (console:#kul)") for line in lines)
    assert "Traceback" not in run.stdout + run.stderr

    # The command line reads the platforms the file enables: the console only, here.
    added = subprocess.run(
        liaison_bot(workdir, "member", "add", "telegram:user:42", "--country", "TH", "--role", "contact"),
        capture_output=True, text=True, cwd=workdir, timeout=120, env=ENV)
    assert added.returncode == 1, added.stderr  # a refusal: a script sees it
    assert ("Not added: telegram:user:42 is on telegram, which this bot does not run (it runs console): nothing "
            "could reach them. Example: /member add console:alice country:TH role:contact") in added.stderr
    assert not added.stdout
    again = console(workdir, ":as rso-admin\n/contacts TH\n")
    assert "telegram:user:42" not in again.stdout and "Telegram user 42" not in again.stdout
