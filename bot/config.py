"""Settings: the configuration file read once at start into typed, validated, immutable values.

    settings = load_settings(Path("config.toml"))   # raises ConfigError listing every problem
    router = Router(settings.directory(), settings.routing_policy())

Each problem is one line naming the file, the dotted key and what is expected, for example
`config.toml: network.contacts[3].timezone: expected an IANA time zone like "Asia/Bangkok" or
"UTC", got "Bangkok"`. Warnings (the file loads, but something will not work yet) are kept in
`Settings.warnings` for the caller to print. Secrets are only named here; `check_secrets()` reads
those the enabled connectors need, so that `check-config` can tell a missing token before `run`.
The sections live in bot/config_*.py, one concern per module.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from alerts.directory import Directory
from alerts.due import DuePolicy
from alerts.identity import Platform
from alerts.items import Selector
from alerts.routing_rules import RoutingPolicy
from bot.config_connectors import (ConsoleSettings, DeviceTrust, MatrixSettings, TelegramMode, TelegramSettings,
                                   read_console, read_matrix, read_telegram)
from bot.config_network import NetworkSettings, read_network
from bot.config_ops import (FailoverSettings, HealthSettings, LoggingSettings, read_failover, read_health,
                            read_logging)
from bot.config_reader import ConfigError, Problems, Table
from bot.config_reminders import ReminderSettings, SecondInstance, read_reminders
from bot.config_routing import RoutingSettings, parse_selector, read_routing
from bot.config_sections import (AuditSettings, BotSettings, DeliverySettings, DueSettings, KeysSettings,
                                 StorageSettings, read_audit, read_bot, read_delivery, read_due, read_keys,
                                 read_storage)
from bot.credentials import SecretError, SecretRef

__all__ = [
    "AuditSettings", "BotSettings", "ConfigError", "ConsoleSettings", "DeliverySettings", "DeviceTrust",
    "DueSettings", "FailoverSettings", "HealthSettings", "KeysSettings", "LoggingSettings", "MatrixSettings",
    "NetworkSettings", "ReminderSettings", "RoutingSettings",
    "SecondInstance", "SecretRef", "Settings", "StorageSettings", "TelegramMode", "TelegramSettings", "load_settings",
    "parse_selector", "settings_from_data", "settings_from_toml",
]


@dataclass(frozen=True)
class Settings:
    source: Path  # the configuration file, absolute; relative paths in it were resolved from its folder
    bot: BotSettings
    storage: StorageSettings
    keys: KeysSettings
    audit: AuditSettings
    delivery: DeliverySettings
    due: DueSettings
    console: ConsoleSettings
    matrix: MatrixSettings
    telegram: TelegramSettings
    network: NetworkSettings
    routing: RoutingSettings
    reminders: ReminderSettings = ReminderSettings()
    health: HealthSettings = HealthSettings()
    logging: LoggingSettings = LoggingSettings()
    failover: FailoverSettings = FailoverSettings()
    warnings: tuple[str, ...] = ()  # one line each, same form as errors

    def directory(self) -> Directory:
        return self.network.directory()

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
                problems.append(f"{self.source}: {key}: {exc}")
        return problems


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
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return settings_from_data(data, path)


def settings_from_data(data: dict[str, Any], path: Path) -> Settings:
    """Check an already parsed TOML document, as if it were the file at `path`."""
    source = Path(path).expanduser().resolve()
    problems = Problems(str(path))
    root = Table(data, "", problems, source.parent)
    # Sections are read in the order the example file has them, so the lines come in that order too.
    bot = read_bot(root.table("bot"))
    storage = read_storage(root.table("storage"))
    keys = read_keys(root.table("keys"))
    audit = read_audit(root.table("audit"))
    delivery = read_delivery(root.table("delivery"))
    due = read_due(root.table("due"))
    console = read_console(root.table("console"))
    matrix = read_matrix(root.table("matrix"))
    telegram = read_telegram(root.table("telegram"))
    network = read_network(root.table("network"), bot.default_timezone)
    routing = read_routing(root.table("routing"), network)
    reminders = read_reminders(root.table("reminders"), network, bot.default_timezone)
    settings = Settings(source, bot, storage, keys, audit, delivery, due, console, matrix, telegram, network,
                        routing, reminders, health=read_health(root.table("health")),
                        logging=read_logging(root.table("logging")), failover=read_failover(root.table("failover")))
    _check_across_sections(settings, problems)
    root.done()
    if problems.errors:
        raise ConfigError(problems.errors)
    return replace(settings, warnings=tuple(problems.warnings))


def _check_across_sections(settings: Settings, problems: Problems) -> None:
    witness = settings.audit.witness_room
    if witness is not None and all(room.chat != witness for room in settings.network.rooms):
        problems.error("audit.witness_room", f'expected a room registered in [[network.rooms]], got "{witness}"')
    if not (settings.console.enabled or settings.matrix.enabled or settings.telegram.enabled):
        problems.warn("console.enabled", "no connector is enabled: `liaison-bot run` would have nobody to talk to")
