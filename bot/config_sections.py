"""The runtime sections of the configuration: [bot], [storage], [keys], [audit], [delivery], [due]."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping
from urllib.parse import urlsplit

from alerts.due import DEFAULT_DUE, DueTimes
from alerts.identity import ChatRef
from alerts.priority import Priority
from bot.config_reader import Table
from bot.config_values import (CHAT_EXPECT, TIMEZONE_EXPECT, Refused, chat_ref, describe, format_duration,
                              timezone_name)
from bot.credentials import SecretRef

DEFAULT_STORAGE_URL = "sqlite:///var/liaison.sqlite"
STORAGE_EXPECT = 'a string like "sqlite:///var/liaison.sqlite" or "postgresql://liaison@db.example.org/liaison"'


@dataclass(frozen=True, slots=True)
class BotSettings:
    name: str = "liaison-bot"
    default_timezone: str = "UTC"  # for contacts whose own time zone is not given


def read_bot(table: Table) -> BotSettings:
    settings = BotSettings(
        name=table.string("name", 'a name like "liaison-bot"', default="liaison-bot") or "liaison-bot",
        default_timezone=table.value("default_timezone", timezone_name, TIMEZONE_EXPECT, "UTC") or "UTC",
    )
    table.done()
    return settings


class PasswordInUrl(Refused):
    pass


def storage_url(raw: Any, base_dir: Path) -> str:
    """A SQLAlchemy URL for SQLite or PostgreSQL; a relative SQLite path is made absolute."""
    if not isinstance(raw, str):
        raise ValueError(raw)
    scheme, sep, rest = raw.strip().partition("://")
    backend = scheme.split("+", 1)[0].lower()
    if not sep:
        raise ValueError(raw)
    if backend == "sqlite":
        if rest and not rest.startswith("/"):
            raise ValueError(raw)  # sqlite://host/... has no meaning
        path, question, query = rest[1:].partition("?")
        if path in ("", ":memory:") or path.startswith("file:"):
            raise Refused("the bot needs a database file, so that nothing accepted is lost on restart")
        full = Path(path).expanduser()
        full = full if full.is_absolute() else base_dir / full
        return f"{scheme}:///{full}{question}{query}"
    if backend == "postgresql":
        if urlsplit(raw).password is not None:
            raise PasswordInUrl()
        return raw.strip()
    raise ValueError(raw)


@dataclass(frozen=True, slots=True)
class StorageSettings:
    url: str  # never holds a password; see `password`
    password: SecretRef | None = None  # for PostgreSQL when neither peer auth nor ~/.pgpass is used

    @property
    def is_sqlite(self) -> bool:
        return self.url.split("+", 1)[0].split(":", 1)[0].lower() == "sqlite"

    @property
    def sqlite_path(self) -> Path | None:
        """The database file, for file locks and backups; None for PostgreSQL."""
        if not self.is_sqlite:
            return None
        return Path(self.url.partition("://")[2][1:].partition("?")[0])


def read_storage(table: Table) -> StorageSettings:
    url = storage_url(DEFAULT_STORAGE_URL, table.base_dir)
    raw = table.raw("url")
    if table.has("url"):
        try:
            url = storage_url(raw, table.base_dir)
        except PasswordInUrl:
            table.error("url", "the database password must not be in the file; expected a URL without it and "
                               'storage.password = { env = "LIAISON_DB_PASSWORD" }, got a URL with a password')
        except ValueError as exc:
            reason = f"; {exc}" if isinstance(exc, Refused) else ""
            table.error("url", f"expected {STORAGE_EXPECT}, got {describe(raw)}{reason}")
    password = table.secret("password", "LIAISON_DB_PASSWORD", "/run/credentials/liaison/db-password")
    table.done()
    return StorageSettings(url, password)


@dataclass(frozen=True, slots=True)
class KeysSettings:
    path: Path  # the key file, outside the database; storage refuses it when wider than 0600


def read_keys(table: Table) -> KeysSettings:
    path = table.path_value("path", default=None) or table.resolve("var/keys/liaison.keys")
    table.done()
    return KeysSettings(path)


@dataclass(frozen=True, slots=True)
class AuditSettings:
    checkpoint_every: int = 1000   # entries between signed checkpoints
    checkpoint_minutes: int = 60   # and at least this often while entries are written
    witness_path: Path = Path("var/audit/witness.log")  # checkpoints also written outside the database
    witness_room: ChatRef | None = None  # optionally also posted to a registered room
    retention_days: int | None = None  # erase cases older than this; None keeps them


def read_audit(table: Table) -> AuditSettings:
    settings = AuditSettings(
        checkpoint_every=table.integer("checkpoint_every", 1, default=1000) or 1000,
        checkpoint_minutes=table.integer("checkpoint_minutes", 1, default=60) or 60,
        witness_path=table.path_value("witness_path", default=None) or table.resolve("var/audit/witness.log"),
        witness_room=table.value("witness_room", chat_ref, CHAT_EXPECT, default=None),
        retention_days=table.integer("retention_days", 1, default=None),
    )
    table.done()
    return settings


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    max_attempts: int = 10  # after these, the failure is surfaced to the originator and coordinators
    retry_base_seconds: float = 2.0  # back-off doubles from here ...
    retry_max_seconds: float = 600.0  # ... up to here, unless the platform says when to retry


def read_delivery(table: Table) -> DeliverySettings:
    base = table.number("retry_base_seconds", default=2.0) or 2.0
    most = table.number("retry_max_seconds", default=600.0) or 600.0
    if most < base:
        table.error("retry_max_seconds", f"expected a number not below retry_base_seconds ({base:g}), got {most:g}")
    settings = DeliverySettings(table.integer("max_attempts", 1, default=10) or 10, base, most)
    table.done()
    return settings


@dataclass(frozen=True, slots=True)
class DueSettings:
    by_priority: Mapping[Priority, DueTimes]  # a read-only mapping, one entry per priority


def read_due(table: Table) -> DueSettings:
    found: dict[Priority, DueTimes] = {}
    for priority in Priority:
        section = table.table(priority.value)
        default = DEFAULT_DUE[priority]
        acknowledge = section.duration("acknowledge", default.acknowledge) or default.acknowledge
        feedback = section.duration("feedback", default.feedback) or default.feedback
        if acknowledge > feedback:
            section.error("acknowledge", f"expected a duration no longer than feedback ({format_duration(feedback)}),"
                                         f" got {format_duration(acknowledge)}")
        found[priority] = DueTimes(acknowledge, feedback)
        section.done()
    table.done()
    return DueSettings(MappingProxyType(found))
