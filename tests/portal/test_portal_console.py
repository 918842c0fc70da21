"""`liaison-bot run` on the sample network serves the portal and prints its address; `/portal` typed on
the console gives a link, and the coordinator who follows it sees the items the console created and
the statistics' charts. A real process, as `make run` starts it."""

from __future__ import annotations

import queue
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

from tests.portal.client import Client

ROOT = Path(__file__).resolve().parents[2]
LINK = re.compile(r"(http://127\.0\.0\.1:\d+/login/[A-Za-z0-9_-]+)")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_make_run_serves_the_portal_and_the_console_gives_its_link(tmp_path: Path) -> None:
    port = _free_port()
    text = (ROOT / "config.example.toml").read_text()
    assert 'listen = "127.0.0.1:8470"' in text and "[portal]\nenabled = true" in text  # what `make run` serves
    (tmp_path / "config.toml").write_text(text.replace('listen = "127.0.0.1:8470"', f'listen = "127.0.0.1:{port}"'))
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "--config", str(tmp_path / "config.toml"), "run"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or ()], daemon=True).start()

    def wait_for(pattern: re.Pattern[str]) -> re.Match[str]:
        seen = []
        while True:
            line = lines.get(timeout=60)
            seen.append(line)
            if found := pattern.search(line):
                return found
            assert "Traceback" not in line, "".join(seen)

    try:
        assert process.stdin is not None
        assert wait_for(re.compile(r"Web portal: (\S+)")).group(1) == f"http://127.0.0.1:{port}"
        process.stdin.write("/alert to:TH tlp:amber topic:document-fraud priority:urgent\nTravellers, flight XX123\n\n"
                            ":as rso-coordinator\n/portal\n")
        process.stdin.flush()
        link = wait_for(LINK).group(1)
        client = Client(f"http://127.0.0.1:{port}")
        assert client.log_in(link).status == 303
        assert client.get("/board").status == 200
        items = client.get("/items").body
        assert "A-2026-0001" in items or re.search(r"A-\d{4}-0001", items)
        stats = client.get("/stats").body
        assert 'id="volume-chart" src="data:image/svg+xml;base64,' in stats
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the console ends, and with it the process
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=30)
