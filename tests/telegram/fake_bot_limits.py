"""The fake server's flood control and fault injection.

Flood control follows Telegram's published limits: about one message a second in a chat, 20 a
minute in a group, 30 a second overall. Each is a token bucket refilled continuously (an
algorithm deliberately unlike the bot's GCRA, so the two cannot share a mistake), with a small
burst allowance, as Telegram tolerates short bursts. A request over a limit is answered 429 with
parameters.retry_after (whole seconds) and opens a window; a request into an open window is
answered 429 again and counted in `inside_window`, which tests expect to stay 0.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Limit:
    per_second: float
    burst: float


@dataclass(frozen=True)
class Limits:
    chat: Limit = Limit(1.0, 2.0)
    group: Limit = Limit(20 / 60, 5.0)
    overall: Limit = Limit(30.0, 5.0)


class _Bucket:
    def __init__(self, limit: Limit, now: float) -> None:
        self.limit = limit
        self.tokens = limit.burst
        self.at = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.limit.burst, self.tokens + (now - self.at) * self.limit.per_second)
        self.at = now

    def wait(self) -> float:
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.limit.per_second


@dataclass
class Window:
    scope: str           # "chat" or "overall"
    chat_id: int | None
    start: float
    end: float


@dataclass
class FloodControl:
    limits: Limits | None = field(default_factory=Limits)  # None: no limits at all
    windows: list[Window] = field(default_factory=list)
    too_many: int = 0        # 429 answers given
    inside_window: int = 0   # requests that came while a window covering them was open
    _buckets: dict[tuple[str, int | None], _Bucket] = field(default_factory=dict)

    def open_window(self, chat_id: int | None, retry_after: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        scope = "chat" if chat_id is not None else "overall"
        self.windows.append(Window(scope, chat_id, now, now + retry_after))

    def check(self, chat_id: int, now: float | None = None) -> int | None:
        """None when a message to `chat_id` may go now (and count it); else the retry_after to answer."""
        now = time.monotonic() if now is None else now
        for window in self.windows:
            if window.start <= now < window.end and window.chat_id in (None, chat_id):
                self.inside_window += 1
                self.too_many += 1
                return max(1, math.ceil(window.end - now))
        if self.limits is None:
            return None
        buckets = [self._bucket("chat", chat_id, self.limits.chat, now)]
        if chat_id < 0:
            buckets.append(self._bucket("group", chat_id, self.limits.group, now))
        overall = self._bucket("overall", None, self.limits.overall, now)
        own_wait = max(bucket.wait() for bucket in buckets)
        wait = max(own_wait, overall.wait())
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            self.open_window(chat_id if own_wait >= overall.wait() else None, retry_after, now)
            self.too_many += 1
            return retry_after
        buckets.append(overall)
        for bucket in buckets:
            bucket.tokens -= 1.0
        return None

    def _bucket(self, kind: str, key: int | None, limit: Limit, now: float) -> _Bucket:
        bucket = self._buckets.get((kind, key))
        if bucket is None:
            bucket = self._buckets[(kind, key)] = _Bucket(limit, now)
        bucket.refill(now)
        return bucket


@dataclass
class Fault:
    method: str
    kind: str                     # "status" (after `seconds`), "stall" (answer late, after doing it), "drop" (do it, hang up)
    status: int = 500
    retry_after: int | None = None
    chat_id: int | None = None
    seconds: float = 0.0
    times: int = 1

    def matches(self, method: str, chat_id: int | None) -> bool:
        return self.times > 0 and self.method == method and self.chat_id in (None, chat_id)
