"""Async rate limits: one shared bucket for the whole connector, and buckets keyed by chat, group or room.

    limiter = RateLimiter(shared=Rate(30, 1.0),
                          keyed={"chat": Rate(1, 1.0), "group": Rate(20, 60.0, burst=3)})
    await limiter.acquire(chat=-100123, group=-100123)  # returns when every bucket named allows a send
    limiter.hold(5.0, chat=-100123)                     # the platform said "retry after 5 s" for that chat

Each bucket is a GCRA token bucket (a "theoretical arrival time" per bucket): `Rate(count, per,
burst)` allows `count` sends per `per` seconds on average, and at most `burst` at once. A kind
that acquire() does not name is not charged, so a private chat skips the "group" bucket.

Why the shared bucket is reserved and the keyed ones are waited for: a send first waits, without
reserving anything, until its own chat and group allow it, then takes the next free slot of the
shared bucket in arrival order (FIFO), and charges its keyed buckets at that same moment. So a
message held back by its own chat (a long message split in parts, one per second) never blocks
the shared slots that messages to other chats could use, and no chat is ever charged for a moment
earlier than the one its message actually goes out at.

The limiter never sleeps holding a lock; acquire() may be cancelled at any point (a slot it had
reserved is simply not used). Keyed buckets that have fully refilled are dropped now and then, so
memory stays bounded by the chats that were active recently.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Hashable, Mapping

_PRUNE_ABOVE = 4096  # keyed buckets kept before idle ones are dropped


@dataclass(frozen=True, slots=True)
class Rate:
    """`count` sends per `per` seconds on average, at most `burst` back to back."""

    count: int
    per: float
    burst: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or self.per <= 0 or self.burst < 1:
            raise ValueError(f"not a rate: {self}")

    @property
    def interval(self) -> float:
        return self.per / self.count

    @property
    def tolerance(self) -> float:
        return (self.burst - 1) * self.interval


class _Bucket:
    __slots__ = ("rate", "tat")

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self.tat = -math.inf  # theoretical arrival time; -inf is a full bucket

    def ready_at(self) -> float:
        """The earliest moment the bucket allows one more send."""
        return self.tat - self.rate.tolerance

    def take(self, at: float) -> None:
        self.tat = max(self.tat, at) + self.rate.interval

    def hold_until(self, moment: float) -> None:
        self.tat = max(self.tat, moment + self.rate.tolerance)


class RateLimiter:
    def __init__(
        self,
        shared: Rate | None = None,
        keyed: Mapping[str, Rate] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._shared = _Bucket(shared) if shared is not None else None
        self._rates = dict(keyed or {})
        self._keyed: dict[tuple[str, Hashable], _Bucket] = {}
        self._clock = clock
        self._sleep = sleep

    async def acquire(self, **keys: Hashable) -> None:
        """Wait until a send to `keys` (kind=key, for kinds given at construction) is allowed, and count it."""
        buckets = [self._bucket(kind, key) for kind, key in keys.items()]
        while True:
            now = self._clock()
            ready = max((bucket.ready_at() for bucket in buckets), default=now)
            if ready <= now:
                break
            await self._sleep(ready - now)
        # From the check above to the charges below nothing awaits: the reservation is atomic.
        at = now
        if self._shared is not None:
            at = max(now, self._shared.ready_at())
            self._shared.take(at)
        for bucket in buckets:
            bucket.take(at)
        if at > now:
            await self._sleep(at - now)

    def hold(self, seconds: float, **keys: Hashable) -> None:
        """Allow nothing to `keys` for `seconds` (a platform's retry-after); no keys holds the shared bucket."""
        until = self._clock() + max(0.0, seconds)
        if not keys:
            if self._shared is not None:
                self._shared.hold_until(until)
            return
        for kind, key in keys.items():
            self._bucket(kind, key).hold_until(until)

    def ready_in(self, **keys: Hashable) -> float:
        """Seconds until a send to `keys` would be allowed, shared bucket included (0 when it would be now)."""
        now = self._clock()
        buckets = [self._bucket(kind, key) for kind, key in keys.items()]
        if self._shared is not None:
            buckets.append(self._shared)
        return max([0.0] + [bucket.ready_at() - now for bucket in buckets])

    def _bucket(self, kind: str, key: Hashable) -> _Bucket:
        found = self._keyed.get((kind, key))
        if found is None:
            rate = self._rates.get(kind)
            if rate is None:
                raise KeyError(f"no rate for {kind!r}; known: {', '.join(self._rates) or 'none'}")
            if len(self._keyed) >= _PRUNE_ABOVE:
                self._prune()
            found = self._keyed[(kind, key)] = _Bucket(rate)
        return found

    def _prune(self) -> None:
        now = self._clock()
        for name in [name for name, bucket in self._keyed.items() if bucket.tat <= now]:
            del self._keyed[name]
