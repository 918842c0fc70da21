"""bot.connectors.ratelimit on virtual time: the pace is checked exactly, and no test sleeps."""

from __future__ import annotations

import asyncio
import heapq
import itertools

import pytest

from bot.connectors.ratelimit import Rate, RateLimiter
from bot.connectors.telegram.sender import telegram_limiter


class VirtualTime:
    """sleep() parks a coroutine until run() moves the clock to its wake-up time."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list = []
        self._seq = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def run(self, *coroutines) -> list:  # noqa: ANN002
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while not all(t.done() for t in tasks):
            for _ in range(10):
                await asyncio.sleep(0)
            if self._sleepers and not all(t.done() for t in tasks):
                moment, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, moment)
                future.set_result(None)
        return [t.result() for t in tasks]


def limiter(time: VirtualTime, **kwargs) -> RateLimiter:  # noqa: ANN003
    return RateLimiter(clock=time.clock, sleep=time.sleep, **kwargs)


async def send_times(time: VirtualTime, lim: RateLimiter, keys: list[dict]) -> list[float]:
    async def one(k: dict) -> float:
        await lim.acquire(**k)
        return time.now
    return await time.run(*(one(k) for k in keys))


def most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + window - 1e-6) for start in times)  # float sums


async def test_a_fan_out_to_100_chats_goes_at_exactly_the_shared_rate() -> None:
    time = VirtualTime()
    lim = limiter(time, shared=Rate(30, 1.0), keyed={"chat": Rate(1, 1.0)})
    times = await send_times(time, lim, [{"chat": n} for n in range(100)])
    assert sorted(times)[-1] == pytest.approx(99 / 30)
    assert most_in_any_window(times, 1.0) == 30


async def test_one_chat_gets_one_a_second_and_does_not_hold_up_the_others() -> None:
    time = VirtualTime()
    lim = limiter(time, shared=Rate(30, 1.0), keyed={"chat": Rate(1, 1.0)})

    async def three_parts() -> list[float]:
        sent = []
        for _ in range(3):
            await lim.acquire(chat="long")
            sent.append(time.now)
        return sent

    async def other(chat: int) -> float:
        await lim.acquire(chat=chat)
        return time.now

    parts, *rest = await time.run(three_parts(), *(other(n) for n in range(29)))
    assert parts == pytest.approx([0.0, 1.0, 2.0])
    assert max(rest) < 1.0  # the other 29 chats went within the first second


async def test_groups_burst_a_little_then_keep_to_twenty_a_minute() -> None:
    time = VirtualTime()
    lim = limiter(time, keyed={"group": Rate(20, 60.0, burst=3)})
    times = await send_times(time, lim, [{"group": -1}] * 6)
    assert sorted(times) == pytest.approx([0.0, 0.0, 0.0, 3.0, 6.0, 9.0])


async def test_a_retry_after_holds_only_that_chat() -> None:
    time = VirtualTime()
    lim = limiter(time, shared=Rate(30, 1.0), keyed={"chat": Rate(1, 1.0)})
    lim.hold(5.0, chat="flooded")
    held, other = await send_times(time, lim, [{"chat": "flooded"}, {"chat": "calm"}])
    assert held >= 5.0 and other < 1.0
    assert lim.ready_in(chat="flooded") > 0


async def test_holding_the_shared_bucket_holds_everyone() -> None:
    time = VirtualTime()
    lim = limiter(time, shared=Rate(30, 1.0), keyed={"chat": Rate(1, 1.0)})
    lim.hold(2.0)
    assert min(await send_times(time, lim, [{"chat": 1}, {"chat": 2}])) >= 2.0


async def test_telegram_limits_and_unknown_kinds() -> None:
    lim = telegram_limiter()
    with pytest.raises(KeyError):
        await lim.acquire(room="!x")
    with pytest.raises(ValueError):
        Rate(0, 1.0)
