"""Priority of an item; it sets due times, reminder stages and who else is told."""

from __future__ import annotations

import enum

from alerts.errors import InvalidValue

_ALIASES = {
    "routine": "routine",
    "normal": "routine",
    "low": "routine",
    "r": "routine",
    "priority": "priority",
    "high": "priority",
    "important": "priority",
    "p": "priority",
    "urgent": "urgent",
    "flash": "urgent",
    "immediate": "urgent",
    "u": "urgent",
}


class Priority(enum.Enum):
    ROUTINE = "routine"
    PRIORITY = "priority"
    URGENT = "urgent"

    @classmethod
    def parse(cls, text: str) -> Priority:
        key = _ALIASES.get(text.strip().lower())
        if key is None:
            raise InvalidValue(
                "Priority", text, "routine, priority, urgent (or flash, immediate, high)", "priority:urgent"
            )
        return cls(key)
