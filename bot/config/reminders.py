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

from datetime import time, timedelta
from types import MappingProxyType
from typing import Annotated, Any, Mapping

from pydantic import ValidationInfo, model_validator

from alerts.arrangements import ENDING_NOTICE
from alerts.identity import ChatRef
from alerts.incident import COUNT_MINIMUM
from alerts.priority import Priority
from alerts.reminder_policy import DEFAULT_STAGES, QuietHours, ReminderPolicy, StageTimes
from bot.config.reader import Check, Items, Load, Refused, Table, loaded, refuse, settings
from bot.config.values import CHAT_EXPECT, Between, Bool, TimeZone, Whole, parse_duration

_OFF = timedelta(0)  # what "off" reads as: no such stage


DurationOrOff = Annotated[timedelta | None, Check(lambda text: _OFF if text.lower() == "off" else parse_duration(text),
                                                  'a duration like "15m", "4h" or "1d", or "off"', text=True)]


@settings
class StageEntry:
    before: DurationOrOff = None  # the priority's own default when left out
    repeat: DurationOrOff = None
    max_repeats: Annotated[int | None, Whole(0)] = None
    backup_after: DurationOrOff = None
    coordinators_after: DurationOrOff = None


def _stages(priority: Priority) -> Check:
    """[reminders.<priority>]: what is left out keeps the priority's default; "off" leaves a stage out."""
    default = DEFAULT_STAGES[priority]

    def build(entry: StageEntry, load: Load) -> StageTimes:
        given: dict[str, Any] = {name: getattr(entry, name) for name in StageTimes.__dataclass_fields__}
        chosen: dict[str, Any] = {name: getattr(default, name) if value is None else None if value == _OFF else value
                                  for name, value in given.items()}
        return StageTimes(**chosen)
    return Table(StageEntry, build)


def _held_priority(text: str) -> Priority:
    priority = Priority.parse(text)
    if priority is Priority.URGENT:
        raise Refused("urgent reminders are never held back")
    return priority


def _day(raw: Any) -> int:
    day = Whole(1).convert(raw)
    if day > 28:
        raise refuse(f"expected a day of the month from 1 to 28 (every month has it), got {day}")
    return day


def _room(text: str, load: Load) -> ChatRef:
    chat = ChatRef.parse(text)
    if chat not in load.taken("room"):  # a room refused for another mistake is still registered
        raise refuse(f'expected a room registered in [[network.rooms]], got "{chat}"')
    return chat


Room = Annotated[ChatRef | None, Check(_room, CHAT_EXPECT, load=True, text=True)]


@settings
class ReminderSettings:
    # each person's own time zone
    quiet_hours: Annotated[QuietHours | None, Check(
        lambda text: None if text.lower() in ("off", "none", "") else QuietHours.parse(text),
        'a span of the local day like "22:00-07:00", or "off"', text=True)] = QuietHours(time(22, 0), time(7, 0))
    quiet_for: Annotated[frozenset[Priority], Items(Check(
        _held_priority, 'a priority: "routine" or "priority" (never "urgent")', text=True), into=frozenset)
    ] = frozenset({Priority.ROUTINE})
    tick: Annotated[timedelta, Between(timedelta(seconds=10), timedelta(hours=1))] = timedelta(minutes=1)
    bulletin_day: Annotated[int, Check(_day, "a whole number of at least 1")] = 1  # of each month, for the one before
    enabled: Bool = True
    routine: Annotated[StageTimes, _stages(Priority.ROUTINE)] = DEFAULT_STAGES[Priority.ROUTINE]
    priority: Annotated[StageTimes, _stages(Priority.PRIORITY)] = DEFAULT_STAGES[Priority.PRIORITY]
    urgent: Annotated[StageTimes, _stages(Priority.URGENT)] = DEFAULT_STAGES[Priority.URGENT]
    digest_time: Annotated[time, Check(time.fromisoformat, 'a time of day like "08:00"', text=True)] = time(8, 0)
    digest_timezone: TimeZone = "UTC"  # in a file, the bot's default_timezone
    digest_room: Room = None  # the coordinators' room; None: no daily digest
    bulletin_room: Room = None  # None: no monthly bulletin; TLP:GREEN content only in a registered room
    # how long before its last day a sharing arrangement reminds the coordinators (once)
    arrangement_notice: Annotated[timedelta, Between(timedelta(days=1), timedelta(days=366))] = ENDING_NOTICE
    # the smallest count of a harmonised incident field /stats and the bulletin show
    count_minimum: Annotated[int, Whole(1)] = COUNT_MINIMUM

    @property
    def stages(self) -> Mapping[Priority, StageTimes]:
        return MappingProxyType({p: getattr(self, p.value) for p in Priority})

    def policy(self) -> ReminderPolicy:
        return ReminderPolicy(dict(self.stages), self.quiet_hours, frozenset(self.quiet_for))

    @model_validator(mode="before")
    @classmethod
    def _local_digest(cls, data: Any, info: ValidationInfo) -> Any:
        load = loaded(info)
        return {"digest_timezone": load.default_timezone} | data if load and isinstance(data, dict) else data
