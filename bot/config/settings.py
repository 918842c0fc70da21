"""Settings: the configuration file read once at start into typed, validated, immutable values.

    settings = load_settings(Path("config.toml"))   # raises ConfigError listing every problem
    router = Router(settings.directory(), settings.routing_policy())

Each problem is one line naming the file, the dotted key and what is expected, for example
`config.toml: network.contacts[3].timezone: expected an IANA time zone like "Asia/Bangkok" or
"UTC", got "Bangkok"`. Warnings (the file loads, but something will not work yet) are kept in
`Settings.warnings` for the caller to print. Secrets are only named here; `check_secrets()` reads
those the enabled connectors need, so that `check-config` can tell a missing token before `run`.
The sections live beside this module in bot/config/, one concern per module, each a frozen pydantic dataclass
whose fields say their type, default and what they expect (bot/config/reader.py: how they are checked).
"""

from __future__ import annotations

import tomllib
from dataclasses import field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError, ValidationInfo, model_validator

from alerts.directory import Directory
from alerts.due import DuePolicy
from alerts.identity import Platform
from alerts.items import Selector
from alerts.routing_rules import RoutingPolicy
from bot.config.attachments import AttachmentSettings
from bot.config.connectors import ConsoleSettings, DeviceTrust, MatrixSettings, TelegramMode, TelegramSettings
from bot.config.network import NetworkSettings
from bot.config.ops import FailoverSettings, HealthSettings, LoggingSettings
from bot.config.portal import PortalSettings
from bot.config.toml_repeats import repeated
from bot.config.reader import HERE, ConfigError, Load, Loc, explain, fields_of, key_path, loaded, settings
from bot.config.release import ReleaseSettings
from bot.config.reminders import ReminderSettings
from bot.config.routing import RoutingSettings, parse_selector
from bot.config.sections import (AuditSettings, BotSettings, DeliverySettings, DueSettings, KeysSettings,
                                 StorageSettings)
from bot.config.credentials import SecretError, SecretRef

__all__ = [
    "AuditSettings", "BotSettings", "ConfigError", "ConsoleSettings", "DeliverySettings", "DeviceTrust",
    "DueSettings", "FailoverSettings", "HealthSettings", "KeysSettings", "LoggingSettings", "MatrixSettings",
    "NetworkSettings", "PortalSettings", "ReleaseSettings", "ReminderSettings", "RoutingSettings", "SecretRef", "Settings", "StorageSettings",
    "TelegramMode", "TelegramSettings", "load_settings",
    "parse_selector", "settings_from_data", "settings_from_toml",
]


@settings
class Sections:
    """The file's sections, in the order the example file has them, so the lines come in that order too.
    Network comes before routing and reminders, which are checked against it."""

    bot: BotSettings
    storage: StorageSettings
    keys: KeysSettings
    audit: AuditSettings
    delivery: DeliverySettings
    attachments: AttachmentSettings
    due: DueSettings
    console: ConsoleSettings
    matrix: MatrixSettings
    telegram: TelegramSettings
    network: NetworkSettings
    routing: RoutingSettings
    release: ReleaseSettings
    reminders: ReminderSettings
    health: HealthSettings
    logging: LoggingSettings
    failover: FailoverSettings
    portal: PortalSettings

    @model_validator(mode="after")
    def _across(self, info: ValidationInfo) -> Sections:
        if (load := loaded(info)) is None:
            return self
        if not (self.console.enabled or self.matrix.enabled or self.telegram.enabled):
            load.warn("console.enabled", "no connector is enabled: `liaison-bot run` would have nobody to talk to")
        return self


@settings
class Settings(Sections):
    source: Path = field(kw_only=True)  # the file, absolute; relative paths in it were resolved from its folder
    # The file as the operator typed it: every line about the file (error, warning, OK) begins with it.
    given: Path = field(kw_only=True)
    warnings: tuple[str, ...] = field(default=(), kw_only=True)  # one line each, same form as errors

    def directory(self) -> Directory:
        return self.network.directory(self.bot.default_timezone)

    def enabled_platforms(self) -> frozenset[Platform]:
        """The platforms whose connectors `run` starts."""
        sections = ((Platform.CONSOLE, self.console), (Platform.MATRIX, self.matrix), (Platform.TELEGRAM, self.telegram))
        return frozenset(platform for platform, section in sections if section.enabled)

    def topic_defaults(self) -> dict[str, tuple[Selector, ...]]:
        return dict(self.routing.topic_defaults)

    def routing_policy(self) -> RoutingPolicy:
        """Topic defaults, rules, where to post and the arrangements policy, for alerts.routing.Router."""
        return self.routing.policy()

    def due_policy(self) -> DuePolicy:
        return DuePolicy(dict(self.due.by_priority))

    def secrets_in_use(self) -> tuple[tuple[str, SecretRef], ...]:
        """(dotted key, reference) for every secret that the enabled parts will read."""
        named = [("storage.password", self.storage.password)]
        if self.matrix.enabled:
            named += [("matrix.password", self.matrix.password), ("matrix.access_token", self.matrix.access_token),
                      ("matrix.pickle_key", self.matrix.pickle_key)]
        if self.telegram.enabled:
            named.append(("telegram.token", self.telegram.token))
            if self.telegram.mode is TelegramMode.WEBHOOK:
                named.append(("telegram.webhook_secret", self.telegram.webhook_secret))
        return tuple((key, ref) for key, ref in named if ref is not None)

    def check_secrets(self) -> list[str]:
        """One line per secret in use that cannot be read; the values read are dropped at once."""
        problems = []
        for key, ref in self.secrets_in_use():
            try:
                ref.read()
            except SecretError as exc:
                problems.append(f"{self.given}: {key}: {exc}")
        return problems


_SECTIONS: TypeAdapter[Sections] = TypeAdapter(Sections)


def load_settings(path: Path) -> Settings:
    """Read and check `path`; ConfigError lists every problem found, one line each."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read the configuration file: {exc.strerror}"]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    return settings_from_toml(text, path)


def settings_from_toml(text: str, path: Path) -> Settings:
    """Check TOML text as if it were the file at `path` (which need not exist): for tests and tools."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        twice = repeated(text, str(exc))
        raise ConfigError([f"{path}: {twice}" if twice else f"{path}: not valid TOML: {exc}"]) from None
    return settings_from_data(data, path)


def settings_from_data(data: dict[str, Any], path: Path) -> Settings:
    """Check an already parsed TOML document, as if it were the file at `path`."""
    source = Path(path).expanduser().resolve()
    load = Load(source.parent)
    document = {name: {} for name in fields_of(Sections)} | data  # a section left out takes its defaults
    try:
        sections = _SECTIONS.validate_python(document, context={"load": load})
        problems = _unregistered_witness(load)
    except ValidationError as exc:
        problems = explain(exc, Sections) + _unregistered_witness(load)
    if problems:
        raise ConfigError([_line(path, loc, message) for loc, message in problems])
    values = {name: getattr(sections, name) for name in fields_of(Sections)}
    return Settings(**values, source=source, given=Path(path),
                    warnings=tuple(f"{path}: {line}" for line in load.warnings))


def _unregistered_witness(load: Load) -> list[tuple[Loc, str]]:
    """The witness room is read before the rooms are, so it is checked against them at the end."""
    return [(("audit", "witness_room"), f'expected a room registered in [[network.rooms]], got "{chat}"')
            for chat in load.found.get("audit.witness_room", ()) if chat not in load.taken("room")]


def _line(path: Path, loc: tuple[str | int, ...], message: str) -> str:
    message = message.replace(HERE, key_path(loc))
    return f"{path}: {key_path(loc)}: {message}" if loc else f"{path}: {message}"
