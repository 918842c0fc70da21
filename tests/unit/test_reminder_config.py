"""The [reminders] section: the example's values, the defaults, and one line per mistake."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from alerts.identity import ChatRef
from alerts.priority import Priority
from alerts.reminder_policy import DEFAULT_STAGES, QuietHours
from bot.config.settings import ConfigError, load_settings, settings_from_toml

EXAMPLE = Path(__file__).resolve().parents[2] / "config.example.toml"


def _without_reminders(text: str) -> str:
    """The example with its [reminders] tables taken out."""
    lines, skipping = [], False
    for line in text.splitlines():
        if line.startswith("["):
            skipping = line.startswith("[reminders")
        if not skipping:
            lines.append(line)
    return "\n".join(lines)


def _with(**reminders: str) -> str:
    body = "\n".join(f"{key} = {value}" for key, value in reminders.items())
    return _without_reminders(EXAMPLE.read_text()) + f"\n[reminders]\n{body}\n"


def test_the_example_section_loads_and_means_what_its_comments_say() -> None:
    settings = load_settings(EXAMPLE).reminders
    assert settings.enabled and settings.tick == timedelta(minutes=1)
    assert settings.quiet_hours == QuietHours(time(22, 0), time(7, 0))
    assert settings.quiet_for == frozenset({Priority.ROUTINE})
    assert (settings.digest_time, settings.digest_timezone) == (time(8, 0), "Asia/Bangkok")
    assert settings.digest_room == ChatRef.parse("console:#coordination")
    assert (settings.bulletin_day, settings.bulletin_room) == (1, ChatRef.parse("console:#network"))
    assert dict(settings.stages) == dict(DEFAULT_STAGES)
    assert settings.policy().stages[Priority.URGENT].coordinators_after == timedelta(hours=1)


def test_without_the_section_the_defaults_apply_and_nothing_is_posted() -> None:
    settings = settings_from_toml(_without_reminders(EXAMPLE.read_text()), Path("config.toml")).reminders
    assert settings.enabled and settings.digest_room is None and settings.bulletin_room is None
    assert settings.digest_timezone == "Asia/Bangkok"  # the bot's default_timezone
    assert dict(settings.stages) == dict(DEFAULT_STAGES)


def test_off_leaves_a_stage_or_the_quiet_hours_out() -> None:
    text = _with(quiet_hours='"off"') + '[reminders.routine]\nbefore = "off"\nmax_repeats = 0\n'
    settings = settings_from_toml(text, Path("config.toml")).reminders
    assert settings.quiet_hours is None
    assert (settings.stages[Priority.ROUTINE].before, settings.stages[Priority.ROUTINE].max_repeats) == (None, 0)
    assert settings.stages[Priority.ROUTINE].repeat == DEFAULT_STAGES[Priority.ROUTINE].repeat


@pytest.mark.parametrize("key, value, expected", [
    ("quiet_for", '["urgent"]', 'reminders.quiet_for[0]: expected a priority: "routine" or "priority" (never '
                                '"urgent"), got "urgent"; urgent reminders are never held back'),
    ("quiet_hours", '"10pm to 7am"', 'reminders.quiet_hours: expected a span of the local day like "22:00-07:00", '
                                     'or "off", got "10pm to 7am"'),
    ("digest_room", '"console:#nowhere"', 'reminders.digest_room: expected a room registered in [[network.rooms]], '
                                          'got "console:#nowhere"'),
    ("bulletin_day", "31", "reminders.bulletin_day: expected a day of the month from 1 to 28 (every month has it), "
                           "got 31"),
    ("digest_time", '"8am"', 'reminders.digest_time: expected a time of day like "08:00", got "8am"'),
    ("tick", '"5s"', "reminders.tick: expected a duration from 10s to 1h, got 0:00:05"),
    ("quiet_hour", '"22:00-07:00"', "reminders.quiet_hour: unknown key (did you mean quiet_hours?)"),
    ("second_instance", '"refuse"', "reminders.second_instance: unknown key; expected one of"),  # gone: see [failover]
])
def test_each_mistake_is_one_line_naming_the_key(key: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as refused:
        settings_from_toml(_with(**{key: value}), Path("config.toml"))
    assert any(line.startswith(f"config.toml: {expected}") for line in refused.value.lines), refused.value.lines
