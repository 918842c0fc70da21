"""The runtime sections of the configuration: [bot], [storage], [keys], [audit], [delivery], [due]."""

from __future__ import annotations

from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Mapping
from urllib.parse import urlsplit

from pydantic import Field

from alerts.due import DEFAULT_DUE, DueTimes
from alerts.identity import ChatRef
from alerts.priority import Priority
from bot.config.reader import Check, Load, Refused, Table, refuse, settings
from bot.config.values import (CHAT_EXPECT, TIMEZONE_EXPECT, Duration, FilePath, Number, Secret, Text, Whole,
                               format_duration, number, timezone_name)
from bot.config.credentials import SecretRef

STORAGE_EXPECT = 'a string like "sqlite:///var/liaison.sqlite" or "postgresql://liaison@db.example.org/liaison"'


def _default_timezone(text: str, load: Load) -> str:
    load.default_timezone = timezone_name(text)  # for the contacts and the digest below
    return load.default_timezone


@settings
class BotSettings:
    name: Annotated[str, Text('a name like "liaison-bot"')] = "liaison-bot"
    # for contacts whose own time zone is not given
    default_timezone: Annotated[str, Check(_default_timezone, TIMEZONE_EXPECT, load=True, text=True)] = "UTC"
    # how long a command sent without its text (/alert to:TH alone) waits for the sender's next message
    body_wait_minutes: Annotated[int, Whole(1)] = 5


def storage_url(text: str, load: Load) -> str:
    """A SQLAlchemy URL for SQLite or PostgreSQL; a relative SQLite path is made absolute."""
    scheme, sep, rest = text.partition("://")
    backend = scheme.split("+", 1)[0].lower()
    if not sep:
        raise ValueError(text)
    if backend == "sqlite":
        if rest and not rest.startswith("/"):
            raise ValueError(text)  # sqlite://host/... has no meaning
        path, question, query = rest[1:].partition("?")
        if path in ("", ":memory:") or path.startswith("file:"):
            raise Refused("the bot needs a database file, so that nothing accepted is lost on restart")
        return f"{scheme}:///{load.resolve(path)}{question}{query}"
    if backend == "postgresql":
        if urlsplit(text).password is not None:
            raise refuse("the database password must not be in the file; expected a URL without it and "
                         'storage.password = { env = "LIAISON_DB_PASSWORD" }, got a URL with a password')
        return text
    raise ValueError(text)


@settings
class StorageSettings:
    # never holds a password; see `password`
    url: Annotated[str, Check(storage_url, STORAGE_EXPECT, load=True, text=True)] = Field(
        "sqlite:///var/liaison.sqlite", validate_default=True)
    # for PostgreSQL when neither peer auth nor ~/.pgpass is used
    password: Annotated[SecretRef | None, Secret("LIAISON_DB_PASSWORD", "/run/credentials/liaison/db-password")] = None

    @property
    def is_sqlite(self) -> bool:
        return self.url.split("+", 1)[0].split(":", 1)[0].lower() == "sqlite"

    @property
    def sqlite_path(self) -> Path | None:
        """The database file, for file locks and backups; None for PostgreSQL."""
        if not self.is_sqlite:
            return None
        return Path(self.url.partition("://")[2][1:].partition("?")[0])


@settings
class KeysSettings:
    # the key file, outside the database; storage refuses it when wider than 0600
    path: FilePath = Field(Path("var/keys/liaison.keys"), validate_default=True)


def _witness(text: str, load: Load) -> ChatRef:
    load.found["audit.witness_room"] = (chat := ChatRef.parse(text),)
    return chat


@settings
class AuditSettings:
    checkpoint_every: Annotated[int, Whole(1)] = 1000   # entries between signed checkpoints
    checkpoint_minutes: Annotated[int, Whole(1)] = 60   # and at least this often while entries are written
    # checkpoints also written outside the database
    witness_path: FilePath = Field(Path("var/audit/witness.log"), validate_default=True)
    # optionally also posted to a room registered in [[network.rooms]] (checked once rooms are read)
    witness_room: Annotated[ChatRef | None, Check(_witness, CHAT_EXPECT, load=True, text=True)] = None
    retention_days: Annotated[int | None, Whole(1)] = None  # erase cases older than this; None keeps them


def _retry_max(raw: Any, load: Load) -> float:
    base, most = load.entry.get("retry_base_seconds", 2.0), number(raw)
    if most < base:
        raise refuse(f"expected a number not below retry_base_seconds ({base:g}), got {most:g}")
    return most


@settings
class DeliverySettings:
    retry_base_seconds: Number = 2.0  # back-off doubles from here ...
    # ... up to here, unless the platform says when to retry
    retry_max_seconds: Annotated[float, Check(_retry_max, "a number greater than 0, like 2 or 0.5", load=True)] = Field(
        600.0, validate_default=True)
    max_attempts: Annotated[int, Whole(1)] = 10  # after these, the failure is surfaced to the originator and coordinators


@settings
class DueEntry:
    acknowledge: Duration | None = None
    feedback: Duration | None = None


def _due(priority: Priority) -> Check:
    """[due.<priority>]: what is left out keeps the priority's default."""
    default = DEFAULT_DUE[priority]

    def build(entry: DueEntry, load: Load) -> DueTimes:
        times = DueTimes(entry.acknowledge or default.acknowledge, entry.feedback or default.feedback)
        if times.acknowledge > times.feedback:
            raise refuse(f"expected a duration no longer than feedback ({format_duration(times.feedback)}), "
                         f"got {format_duration(times.acknowledge)}", "acknowledge")
        return times
    return Table(DueEntry, build)


@settings
class DueSettings:
    routine: Annotated[DueTimes, _due(Priority.ROUTINE)] = DEFAULT_DUE[Priority.ROUTINE]
    priority: Annotated[DueTimes, _due(Priority.PRIORITY)] = DEFAULT_DUE[Priority.PRIORITY]
    urgent: Annotated[DueTimes, _due(Priority.URGENT)] = DEFAULT_DUE[Priority.URGENT]

    @property
    def by_priority(self) -> Mapping[Priority, DueTimes]:
        return MappingProxyType({p: getattr(self, p.value) for p in Priority})
