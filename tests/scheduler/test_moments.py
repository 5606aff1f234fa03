"""Moments (issue 17): a thank-you code on the anniversary of the first kept order and on
the birthday the shop sent, each once a year per customer however often the job runs
(twice, on two instances at once, after a relink), on the customer's local day,
29 February on the 28th in other years; promotional, so nothing for who declined
promotions; within the margin guardrail. Through the job, the outbox, the real sender
and the fake Bot API."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

import tests.support.factories as factories
import tests.support.shop as shop
from bot.config import Settings
from bot.db import Database, create_database
from bot.db.models import CampaignStatus, CodeStatus, DeliveryStatus, MomentReward
from bot.delivery.sender import Sender
from bot.promo.campaigns.builtin import ensure_builtin
from bot.promo.campaigns.global_holdout import is_member
from bot.promo.campaigns.running import run_kind
from bot.promo.checkout.order_discount import Terms
from bot.promo.codes.guardrail import Stacking
from bot.promo.customers.accounts import Who, link, touch
from bot.texts.notices import render_message
from bot.texts.terms import loyalty_terms
from tests.conftest import FakeClock
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.telegram import api, bot, tg_settings

__all__ = ["api", "bot", "tg_settings"]

# 12:00 in Moscow (the shop's zone): after the moments' 10:00, before the quiet hours.
NOON = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


async def run(db: Database, settings: Settings, now: datetime) -> Any:
    return await run_kind(shop.context(db, settings, now), "moments")


async def send(db: Database, bot: Any, settings: Settings, now: datetime) -> None:
    clock = FakeClock(now)
    await Sender(db, bot, settings, clock=clock, render=render_message).run_until_idle()


async def claims(db: Database) -> list[tuple[int, str, int]]:
    async with db.read_session() as session:
        rows = await session.scalars(select(MomentReward).order_by(MomentReward.id))
        return [(row.customer_id, row.kind, row.year) for row in rows]


async def buyer(db: Database, settings: Settings, name: str, first: datetime, *,
                status: str = "delivered", **fields: Any) -> int:
    """A linked customer whose first order (`status`) was placed at `first`."""
    cid = (await factories.linked_customer(db, name, now=NOON, **fields)).id
    await shop.order(db, settings, f"{name}-o1", cid, placed_at=first, now=NOON, status=status)
    return cid


async def test_two_years_with_us_once_a_year(db, tg_settings, bot, api: FakeBotAPI) -> None:
    anna = await buyer(db, tg_settings, "anna", NOON - timedelta(days=730))
    result = await run(db, tg_settings, NOON)
    assert (result.issued, result.queued) == (1, 1)
    await send(db, bot, tg_settings, NOON)
    (message,) = api.sent(factories.TELEGRAM_BASE + anna)
    assert message.text.startswith("🎉 2 года с нами! Спасибо, что всё это время вы с нами. "
                                   "Небольшой подарок в знак благодарности к следующему "
                                   "заказу:")
    (code,) = await shop.codes(db, source="anniversary")
    assert f"<code>{code.code}</code>" in message.text and "скидка 5\xa0%" in message.text
    # Valid 14 days from the delivery, like the welcome code.
    assert code.expires_at is not None and code.valid_days == 14
    # The job again, later the same day and the next: nothing more.
    for later in (NOON + timedelta(hours=1), NOON + timedelta(days=1)):
        assert (await run(db, tg_settings, later)).issued == 0
    # Her Telegram relinked to a new account: still hers, still done this year.
    async with db.session() as session:
        await touch(session, Who(id=42, chat_id=42, username=None, first_name=None,
                                 language_code="ru"), NOON)
        await link(session, anna, 42, NOON)
        await session.commit()
    assert (await run(db, tg_settings, NOON + timedelta(hours=2))).issued == 0
    # A year on: three years, once again, to the account she uses now.
    next_year = NOON.replace(year=2027)
    assert (await run(db, tg_settings, next_year)).issued == 1
    await send(db, bot, tg_settings, next_year)
    assert api.last_text(42).startswith("🎉 3 года с нами!")
    assert await claims(db) == [(anna, "anniversary", 2026), (anna, "anniversary", 2027)]
    assert len(api.sent()) == 2


async def test_five_years_in_english(db, tg_settings, bot, api: FakeBotAPI) -> None:
    boris = await buyer(db, tg_settings, "boris", NOON.replace(year=2021), locale="en")
    await run(db, tg_settings, NOON)
    await send(db, bot, tg_settings, NOON)
    assert api.last_text(factories.TELEGRAM_BASE + boris).startswith(
        "🎉 5 years with us! Thank you for staying with us all this time.")


async def test_two_instances_at_once_reward_each_once(db, settings) -> None:
    people = [await buyer(db, settings, f"c{i}", NOON - timedelta(days=366 + i % 2))
              for i in range(12)]
    engines = [create_database(settings.db.url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(
            run_kind(shop.context(other, settings, NOON, batch_size=5), "moments")
            for other in engines))
    finally:
        for other in engines:
            await other.dispose()
    assert sum(r.issued for r in results) == 12
    assert sorted(c for c, _kind, _year in await claims(db)) == people
    assert len(await shop.codes(db, source="anniversary")) == 12
    assert len(await shop.deliveries(db, reason="anniversary")) == 12


async def test_opted_out_customers_get_nothing(db, settings) -> None:
    await buyer(db, settings, "quiet", NOON - timedelta(days=730), marketing_opt_in=False,
                birthday=date(1990, 6, 1))
    result = await run(db, settings, NOON)
    assert (result.issued, result.opted_out) == (0, 2)
    assert await claims(db) == [] and await shop.deliveries(db) == []


async def test_the_birthday_on_the_customers_own_day(db, tg_settings, bot,
                                                     api: FakeBotAPI) -> None:
    # Vladivostok (UTC+10) is a day ahead of Moscow (the shop's zone) from 14:00 UTC.
    far = (await factories.linked_customer(
        db, "far", now=NOON, name="Анна", timezone="Asia/Vladivostok",
        birthday=date(1990, 6, 2))).id
    near = (await factories.linked_customer(db, "near", now=NOON,
                                            birthday=date(1990, 6, 2))).id
    assert (await run(db, tg_settings, datetime(2026, 6, 1, 13, 50, tzinfo=UTC))).issued == 0
    past_midnight = datetime(2026, 6, 1, 14, 30, tzinfo=UTC)
    assert (await run(db, tg_settings, past_midnight)).issued == 1
    (queued,) = await shop.deliveries(db, reason="birthday")
    # Due at 10:00 on her day in her zone; gone for good when her window of 3 days ends.
    assert queued.customer_id == far and queued.promotional
    assert (queued.due_at, queued.expires_at) == (datetime(2026, 6, 2, 0, 0, tzinfo=UTC),
                                                  datetime(2026, 6, 4, 14, 0, tzinfo=UTC))
    await send(db, bot, tg_settings, datetime(2026, 6, 2, 1, 0, tzinfo=UTC))
    assert api.last_text(factories.TELEGRAM_BASE + far).startswith(
        "🎂 Анна, с днём рождения! Спасибо, что вы с нами. Небольшой подарок от нас к "
        "следующему заказу:")
    # Moscow's 2 June comes later, and the customer there gets theirs.
    assert (await run(db, tg_settings, datetime(2026, 6, 1, 21, 30, tzinfo=UTC))).issued == 1
    assert [c for c, _kind, _year in await claims(db)] == [far, near]


async def test_29_february_on_the_28th_in_other_years(db, settings) -> None:
    leapling = (await factories.linked_customer(db, "leap", now=NOON,
                                                birthday=date(2000, 2, 29))).id
    await shop.order(db, settings, "leap-o1", leapling,
                     placed_at=datetime(2024, 2, 29, 9, 0, tzinfo=UTC), now=NOON)
    feb_27 = datetime(2027, 2, 27, 9, 0, tzinfo=UTC)
    assert (await run(db, settings, feb_27)).issued == 0
    assert (await run(db, settings, feb_27 + timedelta(days=1))).issued == 2
    # In a leap year, the 29th itself.
    assert (await run(db, settings, datetime(2028, 2, 28, 9, 0, tzinfo=UTC))).issued == 0
    assert (await run(db, settings, datetime(2028, 2, 29, 9, 0, tzinfo=UTC))).issued == 2
    assert sorted(await claims(db)) == [
        (leapling, "anniversary", 2027), (leapling, "anniversary", 2028),
        (leapling, "birthday", 2027), (leapling, "birthday", 2028)]


async def test_no_moment_without_a_kept_order_a_year_old_or_a_birthday(db, settings) -> None:
    await factories.linked_customer(db, "new", now=NOON)
    await buyer(db, settings, "recent", NOON - timedelta(days=200))
    await buyer(db, settings, "returned", NOON - timedelta(days=730), status="returned")
    await buyer(db, settings, "cancelled", NOON - timedelta(days=730), status="cancelled")
    # The first order went back; the one she kept was a month later: that is her day.
    kept = await buyer(db, settings, "kept", NOON - timedelta(days=730), status="returned")
    await shop.order(db, settings, "kept-o2", kept, placed_at=NOON - timedelta(days=700),
                     now=NOON)
    assert (await run(db, settings, NOON)).issued == 0
    assert (await run(db, settings, NOON + timedelta(days=30))).issued == 1
    assert await claims(db) == [(kept, "anniversary", 2026)]


async def test_the_margin_guardrail(db, settings) -> None:
    cid = await buyer(db, settings, "anna", NOON - timedelta(days=730),
                      birthday=date(1990, 6, 1))
    # 40 % is above the 18 % ceiling: refused with the numbers, the birthday still given.
    result = await run(db, settings.replace(anniversary_offer="40"), NOON)
    assert result.status == "refused" and "18%" in result.message
    assert await claims(db) == [(cid, "birthday", 2026)]
    # Level 4 gives 12 % and free shipping: a 5 % code would never apply.
    rich = await buyer(db, settings, "rich", NOON - timedelta(days=730),
                       net_spend=10_000_000)
    result = await run(db, settings, NOON)
    assert (result.issued, result.no_room) == (1, 1)
    assert rich not in [c for c, _kind, _year in await claims(db)]


async def test_a_message_past_its_window_is_cancelled_not_sent(
        db, tg_settings, bot, api: FakeBotAPI) -> None:
    await buyer(db, tg_settings, "anna", NOON - timedelta(days=730))
    await run(db, tg_settings, NOON)
    await send(db, bot, tg_settings, NOON + timedelta(days=3))
    assert api.sent() == []
    (message,) = await shop.deliveries(db, reason="anniversary")
    (code,) = await shop.codes(db, source="anniversary")
    assert message.status == DeliveryStatus.CANCELLED and code.status == CodeStatus.REVOKED


def test_the_terms_promise_them(settings) -> None:
    (codes,) = [s["lines"] for s in loyalty_terms(settings, _terms(settings), "ru")
                if s["title"] == "Промокоды"]
    assert "Каждый год в годовщину вашего первого заказа мы благодарим вас кодом: скидка " \
           "5\xa0%." in codes
    off = settings.replace(anniversary_offer="0", birthday_offer="0")
    (codes,) = [s["lines"] for s in loyalty_terms(off, _terms(off), "ru")
                if s["title"] == "Промокоды"]
    assert not any("годовщин" in line or "рожд" in line for line in codes)


def _terms(settings: Settings) -> Terms:
    return Terms(Stacking.EXCLUSIVE, Decimal(18), settings.guardrail.shipping_cost)


async def test_held_past_its_window_by_the_caps_it_is_cancelled(
        db, tg_settings, bot, api: FakeBotAPI) -> None:
    # Both moments on one day, one message a week allowed, the rest waiting for room:
    # the second would wait a week, past its window, so it is cancelled instead.
    settings = tg_settings.replace(caps="1/7d", cap_overflow="defer")
    cid = await buyer(db, settings, "anna", NOON - timedelta(days=730),
                      birthday=date(1990, 6, 1))
    assert (await run(db, settings, NOON)).queued == 2
    await send(db, bot, settings, NOON)
    assert len(api.sent(factories.TELEGRAM_BASE + cid)) == 1
    states = {m.reason: (m.status, m.error) for m in await shop.deliveries(db)}
    assert states["anniversary"] == (DeliveryStatus.SENT, None)
    assert states["birthday"][0] == DeliveryStatus.CANCELLED
    assert states["birthday"][1].startswith("expired:")
    assert (await shop.codes(db, source="birthday"))[0].status == CodeStatus.REVOKED


async def test_the_global_holdout_gets_them_as_the_terms_promise(db, settings) -> None:
    people = [await buyer(db, settings, f"c{i}", NOON - timedelta(days=730))
              for i in range(8)]
    held = settings.replace(global_holdout=30)
    assert any(is_member(cid, 30) for cid in people)
    assert (await run(db, held, NOON)).issued == 8


async def test_paused_with_its_campaign(db, settings) -> None:
    await buyer(db, settings, "anna", NOON - timedelta(days=730))
    ctx = shop.context(db, settings, NOON)
    await shop.set_status(db, await ensure_builtin(ctx, "moments"), CampaignStatus.PAUSED)
    result = await run(db, settings, NOON)
    assert (result.status, result.issued) == ("inactive", 0)
