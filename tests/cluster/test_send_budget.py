"""The send budget in every store: evenly spaced slots, never more than the rate in any
second for all processes together, one message per chat per second, replies before a
broadcast, and a 429's pause felt by every process."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.cluster import Cluster, Store
from bot.cluster.send_budget import Answer, SendBudget, book, open_budget


def peak(times: list[float], window: float = 1.0) -> int:
    """The most stamps within any `window` seconds."""
    times = sorted(times)
    start, most = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= window:
            start += 1
        most = max(most, end - start + 1)
    return most


async def bulk(budget: SendBudget, stamps: list[float], sends: int, chat_base: int) -> None:
    for n in range(sends):
        await budget.turn(chat_base + n)
        stamps.append(time.monotonic())


def test_the_booking_rule() -> None:
    rule = {"interval": 0.1, "chat_interval": 1.0, "lookahead": 0.1}
    booked = book(10.0, 10.05, 0.0, 0.0, reply=False, **rule)
    assert (booked.answer, booked.next_at, booked.chat_next) == (Answer.BOOKED, 10.15, 11.05)
    assert booked.wait == pytest.approx(0.05)
    # Booked two slots ahead: a broadcast asks again later, a reply takes the slot.
    assert book(10.0, 10.2, 0.0, 0.0, reply=False, **rule).answer is Answer.AHEAD
    assert book(10.0, 10.2, 0.0, 0.0, reply=True, **rule).answer is Answer.BOOKED
    busy = book(10.0, 0.0, 0.0, 10.7, reply=True, **rule)
    assert busy.answer is Answer.CHAT_BUSY and busy.wait == pytest.approx(0.7)
    paused = book(10.0, 0.0, 13.0, 0.0, reply=True, **rule)
    assert paused.answer is Answer.BOOKED and paused.wait == pytest.approx(3.0)
    # Woken late for the slot at 9.9, the send gave it up: that booking does not hold
    # the chat; another one does.
    again = book(10.0, 10.0, 0.0, 10.9, reply=False, forgone=9.9, **rule)
    assert again.answer is Answer.BOOKED
    other = book(10.0, 10.0, 0.0, 10.9, reply=False, forgone=9.5, **rule)
    assert other.answer is Answer.CHAT_BUSY


async def test_never_more_than_the_rate_in_a_second(cluster: Cluster) -> None:
    """How close to the rate it gets is `tests.bench.bench_broadcast`'s to measure."""
    rate = 300 if cluster.store is Store.MEMORY else 100
    budget = open_budget(cluster, rate)
    stamps: list[float] = []
    await asyncio.gather(*(bulk(budget, stamps, rate // 5, 1000 * w) for w in range(8)))
    assert len(stamps) == 8 * (rate // 5) and peak(stamps) <= rate


async def test_processes_share_one_rate(cluster: Cluster) -> None:
    """Three processes, each with its own budget on the store: 30/s in all, not 90."""
    if cluster.store is Store.MEMORY:
        pytest.skip("memory is one process's")
    budgets = [open_budget(cluster, 30) for _ in range(3)]
    stamps: list[float] = []
    begun = time.monotonic()
    await asyncio.gather(*(bulk(b, stamps, 20, 1000 * n) for n, b in enumerate(budgets)))
    elapsed = time.monotonic() - begun
    assert peak(stamps) <= 30
    assert elapsed >= 59 / 30 * 0.97  # 60 slots a thirtieth of a second apart


async def test_a_chat_gets_one_message_a_second(cluster: Cluster) -> None:
    budget = open_budget(cluster, 1000)
    begun = time.monotonic()
    await budget.turn(42, reply=True)
    await budget.turn(43)
    assert time.monotonic() - begun < 0.5
    await budget.turn(42)
    assert time.monotonic() - begun >= 1.0


async def test_a_reply_goes_before_the_broadcast(cluster: Cluster) -> None:
    budget = open_budget(cluster, 20)  # a slot every ~51 ms
    stamps: list[float] = []
    broadcast = asyncio.gather(*(bulk(budget, stamps, 10, 1000 * w) for w in range(4)))
    await asyncio.sleep(0.3)
    asked = time.monotonic()
    await budget.turn(7, reply=True)
    waited = time.monotonic() - asked
    await broadcast
    # Behind at most the few slots booked ahead, not the 40 queued.
    assert waited <= 4 * budget.interval
    assert len(stamps) == 40


async def test_a_pause_holds_every_process(cluster: Cluster) -> None:
    if cluster.store is Store.MEMORY:
        budgets = [open_budget(cluster, 1000)] * 2
    else:
        budgets = [open_budget(cluster, 1000) for _ in range(2)]
    await budgets[0].turn(1)
    begun = time.monotonic()
    await budgets[0].pause(0.4)
    await asyncio.gather(budgets[1].turn(2), budgets[1].turn(3, reply=True))
    assert time.monotonic() - begun >= 0.38
