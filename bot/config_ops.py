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
from dataclasses import dataclass
from datetime import timedelta

from bot.config_reader import Table
from bot.config_values import Refused

LISTEN_EXPECT = 'an address like "127.0.0.1:9464" or "[::1]:9464"'


class LogFormat(enum.Enum):
    TEXT = "text"
    JSON = "json"


class LogLevel(enum.Enum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class HealthSettings:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 9464  # next to the Prometheus exporters' usual range
    max_outbox_age: timedelta = timedelta(minutes=15)

    @property
    def listen(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class LoggingSettings:
    format: LogFormat = LogFormat.TEXT
    level: LogLevel = LogLevel.INFO


@dataclass(frozen=True, slots=True)
class FailoverSettings:
    enabled: bool = True
    poll: timedelta = timedelta(seconds=1)
    keepalive: timedelta = timedelta(seconds=1)


def listen_address(raw: object) -> tuple[str, int]:
    """"host:port" (an IP address, or localhost); IPv6 in brackets. Host names other than localhost
    are refused: which interface they bind to depends on name resolution at start."""
    if not isinstance(raw, str):
        raise ValueError(raw)
    text = raw.strip()
    if text.startswith("["):
        host, sep, port = text[1:].partition("]:")
    else:
        host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(raw)
    if host != "localhost":
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise Refused("the host must be an IP address (or localhost)") from None
    return host, int(port)


def read_health(table: Table) -> HealthSettings:
    default = HealthSettings()
    address = table.value("listen", listen_address, LISTEN_EXPECT, default=(default.host, default.port))
    host, port = address or (default.host, default.port)
    age = table.duration("max_outbox_age", default=default.max_outbox_age) or default.max_outbox_age
    settings = HealthSettings(
        enabled=table.boolean("enabled", default=False) is True,
        host=host,
        port=port,
        max_outbox_age=age,
    )
    if settings.enabled and host not in ("127.0.0.1", "::1", "localhost"):
        table.warn("listen", f"the health endpoint listens on {settings.listen}, beyond this machine: it has no "
                             "authentication, so keep it behind a firewall")
    table.done()
    return settings


def read_logging(table: Table) -> LoggingSettings:
    settings = LoggingSettings(
        format=table.choice("format", LogFormat, default=LogFormat.TEXT) or LogFormat.TEXT,
        level=table.choice("level", LogLevel, default=LogLevel.INFO) or LogLevel.INFO,
    )
    table.done()
    return settings


def read_failover(table: Table) -> FailoverSettings:
    default = FailoverSettings()
    poll = table.duration("poll", default=default.poll) or default.poll
    keepalive = table.duration("keepalive", default=default.keepalive) or default.keepalive
    for name, value in (("poll", poll), ("keepalive", keepalive)):
        if not timedelta(seconds=1) <= value <= timedelta(minutes=1):
            table.error(name, f"expected a duration from 1s to 1m, got {value}")
    settings = FailoverSettings(enabled=table.boolean("enabled", default=True) is not False, poll=poll,
                                keepalive=keepalive)
    table.done()
    return settings
