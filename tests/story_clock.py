"""The tests' story time, running on in real time, for a bot whose workers wait in real time.

The tests' story is set on Monday 23 November 2026, 09:00 UTC (alerts.clock.ManualClock's start): the
references it shows are A-2026-…, its dates a few days on from then. A running bot on the system clock
would number its first alert A-2027-0001 once the real calendar reaches 2027, and refuse a date the
story gives once that day has passed. StoryClock starts at the story's moment and moves on with the real
clock, so a bot's answers do not change with the day the tests run.

A bot run as its own process (the command line, the console) is put on the same clock by running it
through `python -m tests.story_clock ARGS…` (bot.cli.main's arguments), with the shift in the environment
(story_environment): every process of one test shares one shift, so time never goes back between them.
"""

from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta, timezone

from alerts.clock import ManualClock

STORY_START = ManualClock().now()
SHIFT_ENV = "LIAISON_TEST_STORY_SHIFT"  # seconds to add to the system clock, read by the launcher below


class StoryClock:
    """The system clock, shifted so that it read `start` when this clock was made."""

    def __init__(self, start: datetime = STORY_START, *, shift: timedelta | None = None) -> None:
        # A test may add to it, to see what the bot does once that much more time has passed.
        self.shift = shift if shift is not None else start - datetime.now(timezone.utc)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.shift


def story_environment(clock: StoryClock) -> dict[str, str]:
    """What a process run through this module needs in its environment to read `clock`."""
    return {SHIFT_ENV: repr(clock.shift.total_seconds())}


def _run_on_story_time() -> int:
    """bot.cli.main with the bot's one real clock (bot.runtime.clock.SystemClock) on story time."""
    from bot.cli.main import main
    from bot.runtime.clock import SystemClock

    clock = StoryClock(shift=timedelta(seconds=float(os.environ[SHIFT_ENV])))
    SystemClock.now = lambda self: clock.now()  # type: ignore[method-assign]
    return main(sys.argv[1:])


if __name__ == "__main__":
    raise SystemExit(_run_on_story_time())
