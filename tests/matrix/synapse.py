"""A real Synapse homeserver for the tests: installed from PyPI (the test extra), started on 127.0.0.1 on
a free port with SQLite (or, for the benchmarks, a database of its own on the local PostgreSQL, as
production homeservers run), no federation, no presence, a media repository, relaxed rate limits; users
registered with the shared secret through the admin API."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SERVER_NAME = "localhost"
SHARED_SECRET = "liaison-test-registration-secret"
START_TIMEOUT = 300.0  # seconds; Synapse is slow to start on a loaded two-core machine

_RELAXED = {"per_second": 1000, "burst_count": 1000}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def homeserver_config(root: Path, port: int, postgres_db: str | None = None) -> dict[str, Any]:
    database: dict[str, Any] = {"name": "sqlite3", "args": {"database": str(root / "homeserver.db")}}
    if postgres_db is not None:
        database = {"name": "psycopg2", "args": {"user": "postgres", "host": "127.0.0.1", "port": 5432,
                                                 "database": postgres_db, "cp_min": 5, "cp_max": 10}}
    return {
        "server_name": SERVER_NAME,
        "pid_file": str(root / "homeserver.pid"),
        "listeners": [{"port": port, "bind_addresses": ["127.0.0.1"], "type": "http", "tls": False,
                       "x_forwarded": False, "resources": [{"names": ["client"], "compress": False}]}],
        "database": database,
        "log_config": str(root / "log.yaml"),
        "media_store_path": str(root / "media"),
        "enable_media_repo": True,  # photos and files (bot/connectors/matrix/media.py)
        "max_upload_size": "20M",
        "url_preview_enabled": False,
        "registration_shared_secret": SHARED_SECRET,
        "enable_registration": False,
        "report_stats": False,
        "macaroon_secret_key": "liaison-test-macaroon",
        "form_secret": "liaison-test-form",
        "signing_key_path": str(root / "signing.key"),
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "federation_domain_whitelist": [],
        "presence": {"enabled": False},
        "rc_message": _RELAXED,
        "rc_registration": _RELAXED,
        "rc_login": {"address": _RELAXED, "account": _RELAXED, "failed_attempts": _RELAXED},
        "rc_joins": {"local": _RELAXED, "remote": _RELAXED},
        "rc_invites": {"per_room": _RELAXED, "per_user": _RELAXED, "per_issuer": _RELAXED},
        "rc_room_creation": _RELAXED,
        "rc_key_requests": _RELAXED,
        "rc_profile": _RELAXED,
    }


LOG_CONFIG = """\
version: 1
formatters:
  precise:
    format: '%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - %(request)s - %(message)s'
filters:
  context:
    (): synapse.logging.context.LoggingContextFilter
    request: ""
handlers:
  file:
    class: logging.FileHandler
    formatter: precise
    filename: {path}
    filters: [context]
root:
  level: WARNING
  handlers: [file]
disable_existing_loggers: false
"""


@dataclass
class Account:
    user_id: str
    password: str
    access_token: str
    device_id: str

    @property
    def localpart(self) -> str:
        return self.user_id[1:].split(":", 1)[0]


def _postgres(statement: str) -> None:
    import psycopg  # the bot's own driver; Synapse itself talks psycopg2

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as conn:
        conn.execute(statement)  # type: ignore[arg-type]  # names made here, never from input


class Synapse:
    def __init__(self, root: Path, postgres: bool = False) -> None:
        """`postgres`: keep the homeserver's data in a fresh database on 127.0.0.1:5432 (dropped at stop).
        Synapse on SQLite writes one event at a time for the whole server; production runs PostgreSQL."""
        self.root = root
        self.postgres_db = f"synapse_{os.getpid()}_{os.urandom(3).hex()}" if postgres else None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None
        self.admin: Account | None = None

    # --- process -------------------------------------------------------------------------------

    def start(self) -> None:
        import yaml
        from signedjson.key import generate_signing_key, write_signing_keys

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / "signing.key", "w") as handle:
            write_signing_keys(handle, [generate_signing_key("a_test")])
        (self.root / "log.yaml").write_text(LOG_CONFIG.replace("{path}", str(self.root / "homeserver.log")))
        config = self.root / "homeserver.yaml"
        if self.postgres_db is not None:
            _postgres(f"CREATE DATABASE {self.postgres_db} ENCODING 'UTF8' LC_COLLATE='C' LC_CTYPE='C' "
                      "TEMPLATE template0")
        config.write_text(yaml.safe_dump(homeserver_config(self.root, self.port, self.postgres_db)))
        out = open(self.root / "stdout.log", "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "synapse.app.homeserver", "-c", str(config)],
            cwd=self.root, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Synapse exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=5) as response:
                    if response.status == 200:
                        break
            except (OSError, urllib.error.URLError):
                time.sleep(0.5)
        else:
            self.stop()
            raise RuntimeError(f"Synapse did not answer within {START_TIMEOUT:.0f}s:\n{self.log_tail()}")
        self.admin = self.register("admin", admin=True)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        if self.postgres_db is not None:
            _postgres(f"DROP DATABASE IF EXISTS {self.postgres_db}")
            self.postgres_db = None

    def log_tail(self, lines: int = 40) -> str:
        text = ""
        for name in ("stdout.log", "homeserver.log"):
            path = self.root / name
            if path.exists():
                text += f"--- {name}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) + "\n"
        return text

    # --- HTTP ------------------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def register(self, localpart: str, admin: bool = False, password: str | None = None) -> Account:
        """A new account (shared-secret registration); its access token has a device of its own."""
        password = password or f"pw-{localpart}-{os.urandom(4).hex()}"
        status, nonce = self.request("GET", "/_synapse/admin/v1/register")
        assert status == 200, nonce
        mac = hmac.new(SHARED_SECRET.encode(), digestmod=hashlib.sha1)
        mac.update(b"\x00".join([nonce["nonce"].encode(), localpart.encode(), password.encode(),
                                 b"admin" if admin else b"notadmin"]))
        status, body = self.request("POST", "/_synapse/admin/v1/register", {
            "nonce": nonce["nonce"], "username": localpart, "password": password, "admin": admin,
            "mac": mac.hexdigest(),
        })
        assert status == 200, body
        return Account(body["user_id"], password, body["access_token"], body["device_id"])

    def override_ratelimit(self, user_id: str, per_second: int, burst: int) -> None:
        """0 and 0 lift the user's rate limit; anything else replaces rc_message for that user."""
        assert self.admin is not None
        status, body = self.request("POST", f"/_synapse/admin/v1/users/{user_id}/override_ratelimit",
                                    {"messages_per_second": per_second, "burst_count": burst},
                                    token=self.admin.access_token)
        assert status == 200, body

    def room_events(self, room_id: str, token: str, limit: int = 200) -> list[dict[str, Any]]:
        """The room's latest events as a member sees them (oldest first), undecrypted."""
        from urllib.parse import quote

        status, body = self.request(
            "GET", f"/_matrix/client/v3/rooms/{quote(room_id)}/messages?dir=b&limit={limit}", token=token)
        assert status == 200, body
        return list(reversed(body["chunk"]))
