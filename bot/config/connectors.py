"""The connector sections of the configuration: [console], [matrix], [telegram].

A disabled connector's keys are still checked for type, so that a mistake is found before the
day someone enables it; what it requires is only required once it is enabled.
"""

from __future__ import annotations

import enum
import re
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, model_validator

from alerts.identity import UserRef
from bot.config.reader import Check, Loc, Refused, loaded, settings
from bot.config.values import Bool, Choice, FilePath, Secret, Text, require, with_checks
from bot.config.credentials import SecretRef

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
_BOT_USERNAME = re.compile(r"^@?[A-Za-z][A-Za-z0-9_]{3,31}$")
_SECRET_DIR = "/run/credentials/liaison"


@settings
class ConsoleSettings:
    enabled: Bool = True  # the console needs no account anywhere: `make run` starts it


def http_url(text: str, https_only: bool = False) -> str:
    parts = urlsplit(text)
    schemes = ("https",) if https_only else ("https", "http")
    if parts.scheme not in schemes or not parts.hostname or parts.password is not None:
        raise ValueError(text)
    return text.rstrip("/")


def _plain_http_elsewhere(url: str | None) -> bool:
    """Plain HTTP is fine to a homeserver on this machine (tests), not across a network."""
    if not url:
        return False
    parts = urlsplit(url)
    return parts.scheme == "http" and parts.hostname not in _LOOPBACK


class DeviceTrust(enum.Enum):
    TOFU = "tofu"          # trust a device the first time it is seen, and record it in the audit log
    VERIFIED = "verified"  # send only to verified devices; a new device blocks the send and alerts admins


@settings
class MatrixSettings:
    enabled: Bool = False
    homeserver: Annotated[str | None, Check(http_url, 'an address like "https://matrix.example.org"', text=True)] = None
    user_id: Annotated[str | None, Check(  # the bot's own account
        lambda text: UserRef.parse("matrix:" + text).user_id, 'a Matrix user id like "@liaison-bot:example.org"',
        text=True)] = None
    # log in with a password or with an access token: exactly one
    password: Annotated[SecretRef | None, Secret("LIAISON_MATRIX_PASSWORD", f"{_SECRET_DIR}/matrix-password")] = None
    access_token: Annotated[SecretRef | None, Secret("LIAISON_MATRIX_TOKEN", f"{_SECRET_DIR}/matrix-token")] = None
    # encrypts the crypto store
    pickle_key: Annotated[SecretRef | None, Secret("LIAISON_MATRIX_PICKLE_KEY",
                                                   f"{_SECRET_DIR}/matrix-pickle-key")] = None
    device_name: Annotated[str, Text()] = "liaison-bot"
    store_path: FilePath = Field(Path("var/matrix"), validate_default=True)  # device id, token, crypto store; 0600
    device_trust: Annotated[DeviceTrust, Choice(DeviceTrust)] = DeviceTrust.TOFU

    @model_validator(mode="wrap")
    @classmethod
    def _complete(cls, data: Any, handler: Any, info: ValidationInfo) -> MatrixSettings:
        settings = with_checks(cls, data, handler, info, cls._requirements)
        if (load := loaded(info)) and _plain_http_elsewhere(settings.homeserver):
            load.warn("matrix.homeserver", "plain http to another machine: use https outside a test setup")
        return settings

    @classmethod
    def _requirements(cls, written: dict[str, Any]) -> list[tuple[Loc, str]]:
        problems: list[tuple[Loc, str]] = []
        if "password" in written and "access_token" in written:
            problems.append((("access_token",), "expected either password or access_token, not both"))
        if written.get("enabled") is True:
            problems += require(cls, written, ("homeserver", "user_id"), "when enabled = true")
            if "password" not in written and "access_token" not in written:
                problems.append((("access_token",), "missing; expected a secret for access_token or for password, "
                                                    'like { env = "LIAISON_MATRIX_TOKEN" }'))
            problems += require(cls, written, ("pickle_key",), "when enabled = true")
        return problems


class TelegramMode(enum.Enum):
    POLLING = "polling"  # no public address needed
    WEBHOOK = "webhook"  # Telegram posts updates to webhook_url; needs a reverse proxy with TLS


def listen_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(text)
    return host, int(port)


def _bot_username(text: str) -> str:
    if not _BOT_USERNAME.fullmatch(text):
        raise ValueError(text)
    name = text.removeprefix("@")
    if not name.lower().endswith("bot"):
        raise Refused("Telegram bot usernames end in \"bot\"")
    return name


@settings
class TelegramSettings:
    enabled: Bool = False
    mode: Annotated[TelegramMode, Choice(TelegramMode)] = TelegramMode.POLLING
    token: Annotated[SecretRef | None, Secret("LIAISON_TELEGRAM_TOKEN", f"{_SECRET_DIR}/telegram-token")] = None
    # public https address that Telegram posts to
    webhook_url: Annotated[str | None, Check(lambda text: http_url(text, https_only=True),
                                             'an https address like "https://bot.example.org/telegram"',
                                             text=True)] = None
    # where the bot listens behind the proxy
    webhook_listen: Annotated[tuple[str, int], Check(listen_address, 'a "host:port" like "127.0.0.1:8443"', text=True)] = (
        "127.0.0.1", 8443)
    # checked against X-Telegram-Bot-Api-Secret-Token
    webhook_secret: Annotated[SecretRef | None, Secret("LIAISON_TELEGRAM_WEBHOOK_SECRET",
                                                       f"{_SECRET_DIR}/telegram-webhook-secret")] = None
    # without @; learned from getMe when not given
    bot_username: Annotated[str | None, Check(_bot_username, 'a bot username like "LiaisonNetworkBot"', text=True)] = None
    # a self-hosted Bot API server; None means Telegram's own
    api_url: Annotated[str | None, Check(http_url, 'an address like "http://127.0.0.1:8081/bot"', text=True)] = None

    @model_validator(mode="wrap")
    @classmethod
    def _complete(cls, data: Any, handler: Any, info: ValidationInfo) -> TelegramSettings:
        settings = with_checks(cls, data, handler, info, cls._requirements)
        if (load := loaded(info)) and _plain_http_elsewhere(settings.api_url):
            load.warn("telegram.api_url", "plain http to another machine: use https outside a test setup")
        return settings

    @classmethod
    def _requirements(cls, written: dict[str, Any]) -> list[tuple[Loc, str]]:
        if written.get("enabled") is not True:
            return []
        problems = require(cls, written, ("token",), "when enabled = true")
        if str(written.get("mode", "")).strip().lower() == TelegramMode.WEBHOOK.value:
            problems += require(cls, written, ("webhook_url",), "(mode is webhook) when enabled = true")
            if "webhook_secret" not in written:
                problems.append((("webhook_secret",), 'missing; expected { env = "LIAISON_TELEGRAM_WEBHOOK_SECRET" } '
                                                      "(mode is webhook) when enabled = true"))
        return problems
