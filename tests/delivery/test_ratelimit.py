"""The pacer: evenly spaced, never more than `rate` in any second, close to `rate`."""

from __future__ import annotations

import asyncio
import time

from bot.delivery.sender.pacing import ChatSpacing, Pacer


def _peak(times: list[float], window: float = 1.0) -> int:
    start, peak = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


async def test_pacer_spaces_evenly_and_keeps_the_rate() -> None:
    pacer = Pacer(300)
    stamps: list[float] = []

    async def worker() -> None:
        for _ in range(60):
            await pacer.acquire()
            stamps.append(time.monotonic())

    begun = time.monotonic()
    await asyncio.gather(*(worker() for _ in range(8)))  # 480 acquisitions
    elapsed = time.monotonic() - begun
    stamps.sort()
    assert _peak(stamps) <= 300
    assert 480 / elapsed >= 0.9 * 300  # no slack (a loaded machine aside)


async def test_pacer_hold_after_429() -> None:
    pacer = Pacer(1000)
    await pacer.acquire()
    pacer.hold(time.monotonic() + 0.2)
    begun = time.monotonic()
    await pacer.acquire()
    assert time.monotonic() - begun >= 0.19


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_one_message_per_chat_per_second() -> None:
    clock = FakeTime()
    chats = ChatSpacing(1.0, monotonic=clock, sleep=clock.sleep)
    assert chats.take(1)
    assert not chats.take(1)
    assert chats.take(2)
    await chats.wait(1)
    assert clock.now == 101.0
    assert chats.take(1)
