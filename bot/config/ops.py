"""The operations sections of the configuration: [health], [logging], [failover].

    [health]
    enabled = false                 # the HTTP endpoint for /healthz and /metrics
    listen = "127.0.0.1:9464"       # host:port; localhost unless a scraper elsewhere needs it
    max_outbox_age = "15m"          # /healthz answers 503 when the oldest unsent message is older

    [logging]
    format = "text"                 # or "json": one object per line, for a log collector
    level = "info"                  # debug, info, warning, error (the bot's own loggers)

    [failover]
    enabled = true                  # one instance per database is active; a second one stands by
    poll = "1s"                     # how often a standby tries to take over
    keepalive = "1s"                # how often the active one checks that it still holds the lock
"""

from __future__ import annotations

import enum
import ipaddress
from datetime import timedelta
from typing import Annotated

from pydantic import ValidationInfo, model_validator

from bot.config.reader import Check, Refused, loaded, settings
from bot.config.values import Between, Bool, Choice, Duration

LISTEN_EXPECT = 'an address like "127.0.0.1:9464" or "[::1]:9464"'


class LogFormat(enum.Enum):
    TEXT = "text"
    JSON = "json"


class LogLevel(enum.Enum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


def _split(text: str) -> tuple[str, str, str]:
    if text.startswith("["):
        return text[1:].partition("]:")
    return text.rpartition(":")


def listen_address(text: str) -> str:
    """"host:port" (an IP address, or localhost); IPv6 in brackets. Host names other than localhost
    are refused: which interface they bind to depends on name resolution at start."""
    host, sep, port = _split(text)
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(text)
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise Refused("the host must be an IP address (or localhost)") from None
    return f"[{host}]:{int(port)}" if ":" in host else f"{host}:{int(port)}"


@settings
class HealthSettings:
    # next to the Prometheus exporters' usual range; localhost unless a scraper elsewhere needs it
    listen: Annotated[str, Check(listen_address, LISTEN_EXPECT, text=True)] = "127.0.0.1:9464"
    max_outbox_age: Duration = timedelta(minutes=15)  # /healthz answers 503 when the oldest unsent is older
    enabled: Bool = False

    @property
    def host(self) -> str:
        return _split(self.listen)[0]

    @property
    def port(self) -> int:
        return int(_split(self.listen)[2])

    @model_validator(mode="after")
    def _local(self, info: ValidationInfo) -> HealthSettings:
        load = loaded(info)
        if load and self.enabled and self.host not in ("127.0.0.1", "::1", "localhost"):
            load.warn("health.listen", f"the health endpoint listens on {self.listen}, beyond this machine: it has "
                                       "no authentication, so keep it behind a firewall")
        return self


@settings
class LoggingSettings:
    format: Annotated[LogFormat, Choice(LogFormat)] = LogFormat.TEXT
    level: Annotated[LogLevel, Choice(LogLevel)] = LogLevel.INFO


@settings
class FailoverSettings:
    poll: Annotated[timedelta, Between(timedelta(seconds=1), timedelta(minutes=1))] = timedelta(seconds=1)
    keepalive: Annotated[timedelta, Between(timedelta(seconds=1), timedelta(minutes=1))] = timedelta(seconds=1)
    enabled: Bool = True
