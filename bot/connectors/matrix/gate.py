"""The rate gate: after the homeserver says M_LIMIT_EXCEEDED, no request that it rate-limits leaves
before the window it named has passed (sends, room creation, joins, invites; syncs are not limited).
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable


class RateGate:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._until = 0.0
        self.blocks = 0  # how many 429s closed the gate (for tests and metrics)

    def block(self, seconds: float) -> None:
        """Close the gate for `seconds` from now (never shortens a longer window already in force)."""
        self.blocks += 1
        self._until = max(self._until, self._clock() + max(0.0, seconds))

    @property
    def remaining(self) -> float:
        return max(0.0, self._until - self._clock())

    async def wait(self) -> None:
        """Return once the gate is open; loops, because a sleep may end a hair early or the window grow."""
        while (left := self._until - self._clock()) > 0:
            await asyncio.sleep(left)
