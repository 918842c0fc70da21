"""The [reminders] section: reminder stages by priority, quiet hours, the scheduler, digest and bulletin.

    [reminders]
    quiet_hours = "22:00-07:00"        # each person's own time zone; "off" for none
    quiet_for = ["routine"]            # priorities held back by quiet hours (never "urgent")
    digest_room = "console:#coordination"
    [reminders.urgent]
    before = "15m"                     # "off" for no early reminder
    repeat = "30m"
    max_repeats = 3
    backup_after = "30m"
    coordinators_after = "1h"

Rooms must be registered in [[network.rooms]]: the digest goes to the coordinators' room, and the
bulletin carries TLP:GREEN content only in a registered room (alerts.bulletin).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import time, timedelta
from types import MappingProxyType
from typing import Any, Mapping

from alerts.identity import ChatRef
from alerts.priority import Priority
from alerts.reminder_policy import DEFAULT_STAGES, QuietHours, ReminderPolicy, StageTimes
from bot.config_network import NetworkSettings
from bot.config_reader import Table
from bot.config_values import CHAT_EXPECT, TIMEZONE_EXPECT, Refused, chat_ref, parse_duration, timezone_name

DURATION_OR_OFF = 'a duration like "15m", "4h" or "1d", or "off"'
TIME_EXPECT = 'a time of day like "08:00"'
QUIET_EXPECT = 'a span of the local day like "22:00-07:00", or "off"'
_OFF = object()


class SecondInstance(enum.Enum):
    """What a bot does when another one already schedules reminders on the same database."""

    REFUSE = "refuse"    # stop with a clear message
    STANDBY = "standby"  # run without scheduling, and take over when the other one stops


@dataclass(frozen=True, slots=True)
class ReminderSettings:
    enabled: bool = True
    tick: timedelta = timedelta(minutes=1)  # how often due reminders are looked for
    stages: Mapping[Priority, StageTimes] = field(default_factory=lambda: MappingProxyType(dict(DEFAULT_STAGES)))
    quiet_hours: QuietHours | None = QuietHours(time(22, 0), time(7, 0))
    quiet_for: frozenset[Priority] = frozenset({Priority.ROUTINE})
    second_instance: SecondInstance = SecondInstance.REFUSE
    digest_time: time = time(8, 0)
    digest_timezone: str = "UTC"
    digest_room: ChatRef | None = None  # None: no daily digest
    bulletin_day: int = 1               # of each month, at digest_time, for the month before
    bulletin_room: ChatRef | None = None  # None: no monthly bulletin

    def policy(self) -> ReminderPolicy:
        return ReminderPolicy(dict(self.stages), self.quiet_hours, self.quiet_for)


def _duration_or_off(raw: Any) -> Any:
    if isinstance(raw, str) and raw.strip().lower() == "off":
        return _OFF
    if not isinstance(raw, str):
        raise ValueError(raw)
    return parse_duration(raw)


def _time_of_day(raw: Any) -> time:
    if not isinstance(raw, str):
        raise ValueError(raw)
    return time.fromisoformat(raw.strip())


def _quiet(raw: Any) -> Any:
    if isinstance(raw, str) and raw.strip().lower() in ("off", "none", ""):
        return _OFF
    if not isinstance(raw, str):
        raise ValueError(raw)
    return QuietHours.parse(raw)


def _held_priority(raw: Any) -> Priority:
    if not isinstance(raw, str):
        raise ValueError(raw)
    priority = Priority.parse(raw)
    if priority is Priority.URGENT:
        raise Refused("urgent reminders are never held back")
    return priority


def _optional(table: Table, name: str, default: timedelta | None) -> timedelta | None:
    value = table.value(name, _duration_or_off, DURATION_OR_OFF, default=_OFF if default is None else default)
    return None if value is _OFF else value


def _stages(table: Table, default: StageTimes) -> StageTimes:
    times = StageTimes(
        before=_optional(table, "before", default.before),
        repeat=_optional(table, "repeat", default.repeat),
        max_repeats=table.integer("max_repeats", 0, default=default.max_repeats) or 0,
        backup_after=_optional(table, "backup_after", default.backup_after),
        coordinators_after=_optional(table, "coordinators_after", default.coordinators_after),
    )
    table.done()
    return times


def _room(table: Table, name: str, network: NetworkSettings) -> ChatRef | None:
    chat = table.value(name, chat_ref, CHAT_EXPECT, default=None)
    if chat is not None and all(room.chat != chat for room in network.rooms):
        table.error(name, f'expected a room registered in [[network.rooms]], got "{chat}"')
    return chat


def read_reminders(table: Table, network: NetworkSettings, default_timezone: str) -> ReminderSettings:
    default = ReminderSettings()
    quiet = table.value("quiet_hours", _quiet, QUIET_EXPECT, default=default.quiet_hours)
    held = table.items("quiet_for", _held_priority, 'a priority: "routine" or "priority" (never "urgent")',
                       default=tuple(default.quiet_for))
    second = table.choice("second_instance", SecondInstance, default=default.second_instance)
    tick = table.duration("tick", default=default.tick) or default.tick
    if tick < timedelta(seconds=10) or tick > timedelta(hours=1):
        table.error("tick", f"expected a duration from 10s to 1h, got {tick}")
    bulletin_day = table.integer("bulletin_day", 1, default=default.bulletin_day) or default.bulletin_day
    if bulletin_day > 28:
        table.error("bulletin_day", f"expected a day of the month from 1 to 28 (every month has it), got {bulletin_day}")
    settings = ReminderSettings(
        enabled=table.boolean("enabled", default=True) is not False,
        tick=tick,
        stages=MappingProxyType({p: _stages(table.table(p.value), DEFAULT_STAGES[p]) for p in Priority}),
        quiet_hours=None if quiet is _OFF else quiet,
        quiet_for=frozenset(held or ()),
        second_instance=second or default.second_instance,
        digest_time=table.value("digest_time", _time_of_day, TIME_EXPECT, default=default.digest_time)
        or default.digest_time,
        digest_timezone=table.value("digest_timezone", timezone_name, TIMEZONE_EXPECT, default=default_timezone)
        or default_timezone,
        digest_room=_room(table, "digest_room", network),
        bulletin_day=bulletin_day,
        bulletin_room=_room(table, "bulletin_room", network),
    )
    table.done()
    return settings
