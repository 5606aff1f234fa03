"""The sender against the fake Bot API over HTTP, with a real aiogram Bot."""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta

from aiogram import Bot
from sqlalchemy import select

from bot.clock import utcnow
from bot.cluster.send_budget import MemoryBudget
from bot.config import Settings
from bot.db import Database, create_database
from bot.db.models import CodeStatus, Delivery, DeliveryStatus, PromoCode, TelegramAccount
from bot.delivery.sender import Sender
from bot.delivery.sender import send as send_module
from bot.delivery.sender.claim import Job, claim
from bot.delivery.sender.record import Kind, Outcome
from bot.texts.notices import render_message
from tests.support.delivery import deliver_all, eventually, make_bot, queue, shoppers, statuses
from tests.support.limits import LimitedBotAPI


async def _codes(db: Database) -> dict[int, PromoCode]:
    async with db.session() as session:
        return {c.customer_id: c for c in await session.scalars(select(PromoCode))}


async def _rows(db: Database) -> dict[int, Delivery]:
    async with db.session() as session:
        return {d.customer_id: d for d in await session.scalars(select(Delivery))}


async def test_broadcast_sends_each_once_and_starts_code_validity(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    people = await shoppers(db, 30)
    await queue(db, people, now=utcnow())
    await deliver_all(Sender(db, bot, dsettings, render=render_message), db)

    assert set(api.delivered().values()) == {1}
    assert set(api.delivered()) == {p.chat_id for p in people}
    rows, codes = await _rows(db), await _codes(db)
    for person in people:
        row, code = rows[person.customer_id], codes[person.customer_id]
        assert row.status == DeliveryStatus.SENT and row.message_id and row.sent_at
        assert row.lease_until is None
        assert code.expires_at is not None
        # The deadline the message showed is the one stored, counted from the send.
        # The deadline the message showed, counted from just before the send.
        lag = row.sent_at + timedelta(days=14) - code.expires_at
        assert timedelta(0) <= lag < timedelta(seconds=2)
        text = api.last_text(person.chat_id)
        assert code.code in text


async def test_429_pauses_everything_and_retries_the_same_row(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    people = await shoppers(db, 40)
    await queue(db, people, now=utcnow())
    sender = Sender(
        db, bot, dsettings.replace(send_rate=100.0), render=render_message
    )
    await sender.start()
    await eventually(lambda: len(api.send_times()) >= 10)
    api.fail("sendMessage", 429, retry_after=1)
    await deliver_all(sender, db)

    assert set(api.delivered().values()) == {1} and len(api.delivered()) == 40
    assert sender.stats.rate_limited == 1
    limited = next(r for r in api.requests if id(r) in api.failed)
    during = [r.at - limited.at for r in api.requests if 0 < r.at - limited.at < 0.95]
    # Nobody sent during the pause, but for requests already on their way.
    assert len(during) <= sender.concurrency
    assert all(delay < 0.1 for delay in during)
    assert (await statuses(db)) == {DeliveryStatus.SENT: 40}


async def test_403_marks_unreachable_without_retry_and_gives_the_code_back(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    people = await shoppers(db, 3)
    blocked = people[1]
    await queue(db, people, now=utcnow())
    api.fail("sendMessage", 403, chat_id=blocked.chat_id, times=None)
    await deliver_all(Sender(db, bot, dsettings, render=render_message), db)

    assert len(api.calls("sendMessage", chat_id=blocked.chat_id)) == 1
    rows, codes = await _rows(db), await _codes(db)
    assert rows[blocked.customer_id].status == DeliveryStatus.UNREACHABLE
    assert "blocked" in (rows[blocked.customer_id].error or "")
    assert codes[blocked.customer_id].status == CodeStatus.REVOKED
    assert codes[blocked.customer_id].expires_at is None
    assert codes[people[0].customer_id].status == CodeStatus.ACTIVE
    async with db.session() as session:
        account = await session.get(TelegramAccount, blocked.chat_id)
        assert account is not None and account.is_blocked and account.blocked_at

    # A later message to the blocked shopper is settled without a request.
    await queue(db, [blocked], now=utcnow(), key="later")
    await deliver_all(Sender(db, bot, dsettings, render=render_message), db)
    assert len(api.calls("sendMessage", chat_id=blocked.chat_id)) == 1
    assert (await statuses(db))[DeliveryStatus.UNREACHABLE] == 2


async def test_400_chat_not_found_is_final(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    people = await shoppers(db, 2)
    await queue(db, people, now=utcnow())
    api.fail("sendMessage", 400, chat_id=people[0].chat_id, times=None)
    await deliver_all(Sender(db, bot, dsettings, render=render_message), db)

    assert len(api.calls("sendMessage", chat_id=people[0].chat_id)) == 1
    rows = await _rows(db)
    assert rows[people[0].customer_id].status == DeliveryStatus.FAILED
    assert "chat not found" in (rows[people[0].customer_id].error or "")
    assert (await _codes(db))[people[0].customer_id].status == CodeStatus.REVOKED
    assert rows[people[1].customer_id].status == DeliveryStatus.SENT


async def test_5xx_retries_with_backoff_then_succeeds_or_fails(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    people = await shoppers(db, 3)
    flaky, dead, fine = people
    await queue(db, people, now=utcnow())
    api.fail("sendMessage", 502, chat_id=flaky.chat_id, times=2)
    api.fail("sendMessage", 500, chat_id=dead.chat_id, times=None)
    await deliver_all(Sender(db, bot, dsettings, render=render_message), db)

    rows = await _rows(db)
    assert len(api.calls("sendMessage", chat_id=flaky.chat_id)) == 3
    assert rows[flaky.customer_id].status == DeliveryStatus.SENT
    assert rows[flaky.customer_id].attempts == 3
    # send_max_attempts = 3, then failed for good and the code given back.
    assert len(api.calls("sendMessage", chat_id=dead.chat_id)) == 3
    assert rows[dead.customer_id].status == DeliveryStatus.FAILED
    assert (await _codes(db))[dead.customer_id].status == CodeStatus.REVOKED
    assert rows[fine.customer_id].status == DeliveryStatus.SENT
    gaps = [b.at - a.at for a, b in zip(api.calls(chat_id=dead.chat_id),
                                        api.calls(chat_id=dead.chat_id)[1:], strict=False)]
    assert all(gap >= 0.04 for gap in gaps)  # waited the (test-sized) backoff


async def test_timeout_is_retried(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    people = await shoppers(db, 2)
    await queue(db, people, now=utcnow())
    api.chat_latency[people[0].chat_id] = 1.6  # longer than send_timeout_seconds = 1
    await deliver_all(Sender(db, bot, dsettings, render=render_message), db)

    rows = await _rows(db)
    assert rows[people[0].customer_id].status == DeliveryStatus.SENT
    assert rows[people[0].customer_id].attempts == 2
    # The timed-out request may have gone through: the one duplicate sendMessage allows.
    assert api.delivered()[people[0].chat_id] <= 2


async def test_two_instances_never_send_a_row_twice(
    db: Database, api: LimitedBotAPI, dsettings: Settings
) -> None:
    people = await shoppers(db, 200)
    await queue(db, people, now=utcnow())
    other_db = create_database(dsettings.db.url)
    bots = [make_bot(dsettings), make_bot(dsettings)]
    senders = [
        Sender(db, bots[0], dsettings, concurrency=8, batch=20, render=render_message),
        Sender(other_db, bots[1], dsettings, concurrency=8, batch=20, render=render_message),
    ]
    try:
        await asyncio.gather(*(deliver_all(s, d) for s, d in zip(senders, [db, other_db],
                                                                   strict=True)))
    finally:
        for b in bots:
            await b.session.close()
        await other_db.dispose()
    assert set(api.delivered().values()) == {1} and len(api.delivered()) == 200
    assert senders[0].stats.sent > 0 and senders[1].stats.sent > 0
    assert senders[0].stats.sent + senders[1].stats.sent == 200


async def test_stop_finishes_in_flight_and_releases_the_rest(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    people = await shoppers(db, 50)
    await queue(db, people, now=utcnow())
    api.latency = 0.05
    sender = Sender(
        db, bot, dsettings.replace(send_rate=50.0), concurrency=4,
        render=render_message,
    )
    await sender.start()
    await eventually(lambda: len(api.send_times()) >= 5)
    await sender.stop()

    got = await statuses(db)
    assert got.get(DeliveryStatus.SENDING, 0) == 0
    assert got[DeliveryStatus.SENT] == len(api.delivered())
    assert got[DeliveryStatus.SENT] + got[DeliveryStatus.PENDING] == 50
    async with db.session() as session:
        leased = await session.scalars(select(Delivery).where(Delivery.lease_until.is_not(None)))
        assert list(leased) == []


async def test_within_telegrams_limits_at_full_speed(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    """30/s overall and one message per chat per second, enforced by the fake (a breach
    is answered 429 and counted); three messages to one chat go a second apart. How
    close to 30/s it gets is measured by `tests.bench.bench_broadcast`, not here."""
    api.enforce, api.overall = True, 30
    people = await shoppers(db, 75)
    await queue(db, people, now=utcnow())
    await queue(db, people[:1], now=utcnow(), key="again", promotional=False)
    await queue(db, people[:1], now=utcnow(), key="third", promotional=False)
    await deliver_all(Sender(
        db, bot, dsettings.replace(send_rate=30.0), render=render_message
    ), db)

    assert api.violations == []
    assert len(api.send_times()) == 77
    mine = [r.at for r in api.calls("sendMessage", chat_id=people[0].chat_id)]
    assert all(b - a >= 1.0 for a, b in itertools.pairwise(mine))


async def test_several_blocked_shoppers_all_get_their_codes_back(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    people = await shoppers(db, 4)
    for person in people[:3]:
        await queue(db, [person], now=utcnow(), key=f"first{person.customer_id}")
    async with db.session() as session:
        for person in people[:3]:
            account = await session.get(TelegramAccount, person.chat_id)
            assert account is not None
            account.is_blocked = True
        await session.commit()
    await queue(db, people[:3], now=utcnow(), key="again")
    await deliver_all(Sender(db, bot, dsettings, render=render_message), db)

    assert not api.calls("sendMessage")
    codes = await _all_codes(db)
    assert len(codes) == 6 and {c.status for c in codes} == {CodeStatus.REVOKED}


async def _all_codes(db: Database) -> list[PromoCode]:
    async with db.session() as session:
        return list(await session.scalars(select(PromoCode)))


async def test_a_row_claimed_while_leases_renew_keeps_its_own_lease(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings, monkeypatch
) -> None:
    """Renewal pushes forward only the rows it held when it began: a row claimed while
    the renewal's transaction was open keeps its claim's lease, so its outcome (here a
    final 400) is still recorded instead of leaving the row `sending` until the lease
    runs out and another sender retries it."""
    people = await shoppers(db, 2)
    await queue(db, people, now=utcnow())
    sender = Sender(db, bot, dsettings, render=render_message)
    now = utcnow()

    async def claim_one() -> Job:
        [job] = await claim(db, now=now, limit=1, lease=sender.lease, policy=sender.policy,
                            shop=dsettings.shop)
        sender._held[job.id] = job
        return job

    first = await claim_one()
    late: list[Job] = []
    real_renew = send_module.renew_leases

    async def renew_while_another_claims(session, jobs, new_lease) -> None:
        late.append(await claim_one())
        await real_renew(session, jobs, new_lease)

    monkeypatch.setattr(send_module, "renew_leases", renew_while_another_claims)
    await sender._renew()
    await sender._write([Outcome(late[0], Kind.FAILED, utcnow(), error="Bad Request")])

    rows = {row.id: row for row in (await _rows(db)).values()}
    assert rows[late[0].id].status == DeliveryStatus.FAILED
    assert rows[first.id].status == DeliveryStatus.SENDING
    renewed = rows[first.id].lease_until
    assert renewed is not None and renewed > now + sender.lease == late[0].lease


async def test_a_budget_that_fails_costs_no_worker_and_no_message(
    db: Database, api: LimitedBotAPI, bot: Bot, dsettings: Settings
) -> None:
    """A slot that cannot be had (a store's error nobody foresaw) releases the row; the
    worker lives on and the message goes out on a later claim."""

    class Failing(MemoryBudget):
        failures = 3

        async def turn(self, chat_id: int | None, *, reply: bool = False) -> None:
            if self.failures:
                self.failures -= 1
                raise RuntimeError("the store said something odd")
            await super().turn(chat_id, reply=reply)

    people = await shoppers(db, 2)
    await queue(db, people, now=utcnow())
    budget = Failing(500.0)
    sender = Sender(db, bot, dsettings, concurrency=1, render=render_message, budget=budget)
    await deliver_all(sender, db)
    assert budget.failures == 0 and set(api.delivered().values()) == {1}
    assert len(api.delivered()) == 2
