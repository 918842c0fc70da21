"""The connector sections of the configuration: [console], [matrix], [telegram].

A disabled connector's keys are still checked for type, so that a mistake is found before the
day someone enables it; what it requires is only required once it is enabled.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from alerts.identity import UserRef
from bot.config_reader import Table
from bot.config_values import Refused
from bot.credentials import SecretRef

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_BOT_USERNAME = re.compile(r"^@?[A-Za-z][A-Za-z0-9_]{3,31}$")
_SECRET_DIR = "/run/credentials/liaison"


@dataclass(frozen=True, slots=True)
class ConsoleSettings:
    enabled: bool = True  # the console needs no account anywhere: `make run` starts it


def read_console(table: Table) -> ConsoleSettings:
    enabled = table.boolean("enabled", default=True)
    table.done()
    return ConsoleSettings(enabled=True if enabled is None else enabled)


def http_url(raw: Any, https_only: bool = False) -> str:
    if not isinstance(raw, str):
        raise ValueError(raw)
    parts = urlsplit(raw.strip())
    schemes = ("https",) if https_only else ("https", "http")
    if parts.scheme not in schemes or not parts.hostname or parts.password is not None:
        raise ValueError(raw)
    return raw.strip().rstrip("/")


def _is_plain_http_elsewhere(url: str | None) -> bool:
    """Plain HTTP is fine to a homeserver on this machine (tests), not across a network."""
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname not in _LOOPBACK


class DeviceTrust(enum.Enum):
    TOFU = "tofu"          # trust a device the first time it is seen, and record it in the audit log
    VERIFIED = "verified"  # send only to verified devices; a new device blocks the send and alerts admins


@dataclass(frozen=True, slots=True)
class MatrixSettings:
    enabled: bool = False
    homeserver: str | None = None  # "https://matrix.example.org"
    user_id: str | None = None  # the bot's own account, "@liaison-bot:example.org"
    password: SecretRef | None = None  # log in with a password ...
    access_token: SecretRef | None = None  # ... or with an access token: exactly one
    device_name: str = "liaison-bot"
    store_path: Path = Path("var/matrix")  # device id, token and crypto store, created 0600
    pickle_key: SecretRef | None = None  # encrypts the crypto store
    device_trust: DeviceTrust = DeviceTrust.TOFU


def matrix_user_id(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(raw)
    return UserRef.parse("matrix:" + raw.strip()).user_id


def read_matrix(table: Table) -> MatrixSettings:
    enabled = bool(table.boolean("enabled", default=False))
    homeserver = table.value("homeserver", http_url, 'an address like "https://matrix.example.org"', None)
    user_id = table.value("user_id", matrix_user_id, 'a Matrix user id like "@liaison-bot:example.org"', None)
    password = table.secret("password", "LIAISON_MATRIX_PASSWORD", f"{_SECRET_DIR}/matrix-password")
    token = table.secret("access_token", "LIAISON_MATRIX_TOKEN", f"{_SECRET_DIR}/matrix-token")
    pickle_key = table.secret("pickle_key", "LIAISON_MATRIX_PICKLE_KEY", f"{_SECRET_DIR}/matrix-pickle-key")
    settings = MatrixSettings(
        enabled=enabled,
        homeserver=homeserver,
        user_id=user_id,
        password=password,
        access_token=token,
        device_name=table.string("device_name", default="liaison-bot") or "liaison-bot",
        store_path=table.path_value("store_path", default=None) or table.resolve("var/matrix"),
        pickle_key=pickle_key,
        device_trust=table.choice("device_trust", DeviceTrust, DeviceTrust.TOFU) or DeviceTrust.TOFU,
    )
    if table.has("password") and table.has("access_token"):
        table.error("access_token", "expected either password or access_token, not both")
    if enabled:
        _require(table, "homeserver", 'an address like "https://matrix.example.org"')
        _require(table, "user_id", 'a Matrix user id like "@liaison-bot:example.org"')
        if not table.has("password") and not table.has("access_token"):
            table.missing("access_token", 'a secret for access_token or for password, like '
                                          '{ env = "LIAISON_MATRIX_TOKEN" }')
        _require(table, "pickle_key", '{ env = "LIAISON_MATRIX_PICKLE_KEY" } or '
                                      f'{{ file = "{_SECRET_DIR}/matrix-pickle-key" }}')
    if _is_plain_http_elsewhere(homeserver):
        table.warn("homeserver", "plain http to another machine: use https outside a test setup")
    table.done()
    return settings


class TelegramMode(enum.Enum):
    POLLING = "polling"  # no public address needed
    WEBHOOK = "webhook"  # Telegram posts updates to webhook_url; needs a reverse proxy with TLS


@dataclass(frozen=True, slots=True)
class TelegramSettings:
    enabled: bool = False
    token: SecretRef | None = None  # from @BotFather
    mode: TelegramMode = TelegramMode.POLLING
    webhook_url: str | None = None  # public https address that Telegram posts to
    webhook_listen: tuple[str, int] = ("127.0.0.1", 8443)  # where the bot listens behind the proxy
    webhook_secret: SecretRef | None = None  # checked against X-Telegram-Bot-Api-Secret-Token
    bot_username: str | None = None  # without @; learned from getMe when not given
    api_url: str | None = None  # a self-hosted Bot API server; None means Telegram's own


def listen_address(raw: Any) -> tuple[str, int]:
    if not isinstance(raw, str):
        raise ValueError(raw)
    host, sep, port = raw.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(raw)
    return host, int(port)


def bot_username(raw: Any) -> str:
    if not isinstance(raw, str) or not _BOT_USERNAME.match(raw.strip()):
        raise ValueError(raw)
    name = raw.strip().removeprefix("@")
    if not name.lower().endswith("bot"):
        raise Refused("Telegram bot usernames end in \"bot\"")
    return name


def read_telegram(table: Table) -> TelegramSettings:
    enabled = bool(table.boolean("enabled", default=False))
    mode = table.choice("mode", TelegramMode, TelegramMode.POLLING) or TelegramMode.POLLING
    settings = TelegramSettings(
        enabled=enabled,
        token=table.secret("token", "LIAISON_TELEGRAM_TOKEN", f"{_SECRET_DIR}/telegram-token"),
        mode=mode,
        webhook_url=table.value("webhook_url", lambda r: http_url(r, https_only=True),
                                'an https address like "https://bot.example.org/telegram"', None),
        webhook_listen=table.value("webhook_listen", listen_address, 'a "host:port" like "127.0.0.1:8443"',
                                   ("127.0.0.1", 8443)) or ("127.0.0.1", 8443),
        webhook_secret=table.secret("webhook_secret", "LIAISON_TELEGRAM_WEBHOOK_SECRET",
                                    f"{_SECRET_DIR}/telegram-webhook-secret"),
        bot_username=table.value("bot_username", bot_username, 'a bot username like "LiaisonNetworkBot"', None),
        api_url=table.value("api_url", http_url, 'an address like "http://127.0.0.1:8081/bot"', None),
    )
    if enabled:
        _require(table, "token", '{ env = "LIAISON_TELEGRAM_TOKEN" } or '
                                 f'{{ file = "{_SECRET_DIR}/telegram-token" }}')
        if mode is TelegramMode.WEBHOOK:
            _require(table, "webhook_url", 'an https address like "https://bot.example.org/telegram" (mode is webhook)')
            _require(table, "webhook_secret", '{ env = "LIAISON_TELEGRAM_WEBHOOK_SECRET" } (mode is webhook)')
    if _is_plain_http_elsewhere(settings.api_url):
        table.warn("api_url", "plain http to another machine: use https outside a test setup")
    table.done()
    return settings


def _require(table: Table, name: str, expect: str) -> None:
    if not table.has(name):
        table.missing(name, f"{expect} when enabled = true")
