import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.db.models import (
    CodeSource,
    CodeStatus,
    Customer,
    DiscountType,
    Order,
    OrderItem,
    PromoCode,
    Redemption,
    Referral,
    ReferralStatus,
)
from bot.promo.codes.offers import Basket
from bot.promo.customers.profiles import upsert_customer
from bot.promo.errors import DomainError, NotFound
from bot.promo.shop.orders import ItemIn, upsert_order
from tests.support import factories
from tests.support.checkout import redeem


async def push(db, settings, clock, order_id, *, customer="c-1", **fields):
    data = {
        "placed_at": clock() - timedelta(days=1), "status": "paid", "total": 300_000,
        "currency": "RUB", "items": [ItemIn(sku="tea-1", price=300_000, category="tea")],
    }
    data.update(fields)
    async with db.session() as session:
        result = await upsert_order(
            session, order_id, customer=customer, now=clock(), shop=settings.shop, **data
        )
        await session.commit()
    return result


async def load_customer(db, external_id="c-1"):
    async with db.read_session() as session:
        return await session.scalar(select(Customer).where(Customer.external_id == external_id))


async def load_order(db, order_id):
    async with db.read_session() as session:
        return await session.scalar(select(Order).where(Order.external_id == order_id))


async def test_new_order_counts_and_a_resend_changes_nothing(db, settings, clock):
    await factories.customer(db, now=clock())
    placed = clock() - timedelta(days=3)
    pushed_at = clock()
    first = await push(db, settings, clock, "o-1", placed_at=placed)
    assert (first.created, first.changed, first.orders_count, first.net_spend) == (
        True, True, 1, 300_000,
    )
    clock.advance(minutes=5)
    again = await push(db, settings, clock, "o-1", placed_at=placed)
    assert (again.created, again.changed) == (False, False)

    customer = await load_customer(db)
    assert (customer.orders_count, customer.gross_spend, customer.net_spend) == (
        1, 300_000, 300_000,
    )
    assert customer.first_order_at == customer.last_order_at == placed
    assert customer.favourite_category == "tea"
    order = await load_order(db, "o-1")
    assert order.updated_at == pushed_at  # the resend wrote nothing
    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(OrderItem)) == 1


async def test_cancel_undoes_the_order_and_recency_follows(db, settings, clock):
    await factories.customer(db, now=clock())
    older = clock() - timedelta(days=40)
    newer = clock() - timedelta(days=2)
    await push(db, settings, clock, "o-1", placed_at=older, total=100_000,
               items=[ItemIn(sku="cup", price=100_000, category="dishes")])
    await push(db, settings, clock, "o-2", placed_at=newer, total=700_000,
               items=[ItemIn(sku="tea", price=350_000, quantity=2, category="tea")])
    customer = await load_customer(db)
    assert (customer.orders_count, customer.net_spend) == (2, 800_000)
    assert (customer.last_order_at, customer.favourite_category) == (newer, "tea")

    result = await push(db, settings, clock, "o-2", placed_at=newer, total=700_000,
                        status="cancelled", items=None)
    assert (result.previous_status, result.status) == ("paid", "cancelled")
    customer = await load_customer(db)
    assert (customer.orders_count, customer.gross_spend, customer.net_spend) == (
        1, 100_000, 100_000,
    )
    assert (customer.first_order_at, customer.last_order_at) == (older, older)
    assert customer.favourite_category == "dishes"
    # The items sent first are kept when a later push leaves them out.
    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(OrderItem)) == 2


async def test_returns_lower_net_spend_but_keep_the_order(db, settings, clock):
    await factories.customer(db, now=clock())
    await push(db, settings, clock, "o-1", total=500_000)
    partial = await push(db, settings, clock, "o-1", total=500_000,
                         status="partially_returned", returned_amount=120_000)
    assert (partial.orders_count, partial.net_spend) == (1, 380_000)
    # The same partial return pushed again without the amount keeps it.
    again = await push(db, settings, clock, "o-1", total=500_000, status="partially_returned")
    assert (again.changed, again.net_spend) == (False, 380_000)
    full = await push(db, settings, clock, "o-1", total=500_000, status="returned")
    assert (full.orders_count, full.net_spend) == (1, 0)
    customer = await load_customer(db)
    assert customer.gross_spend == 500_000
    assert (await load_order(db, "o-1")).returned_amount == 500_000


async def test_delivered_is_stamped_once(db, settings, clock):
    await factories.customer(db, now=clock())
    await push(db, settings, clock, "o-1")
    clock.advance(days=2)
    delivered_at = clock()
    await push(db, settings, clock, "o-1", status="delivered")
    clock.advance(days=1)
    await push(db, settings, clock, "o-1", status="delivered")
    assert (await load_order(db, "o-1")).delivered_at == delivered_at


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"status": "lost"}, "invalid_status"),
        ({"total": -1}, "invalid_total"),
        ({"currency": "RU"}, "invalid_currency"),
        ({"currency": "rub"}, "invalid_currency"),
        ({"currency": "USD"}, "unsupported_currency"),
        ({"returned_amount": 400_000}, "invalid_returned_amount"),
        ({"items": [ItemIn(sku="x", price=100, quantity=0)]}, "invalid_item"),
        ({"items": [ItemIn(sku="x", price=-5)]}, "invalid_item"),
    ],
)
async def test_bad_orders_are_refused(db, settings, clock, fields, code):
    await factories.customer(db, now=clock())
    with pytest.raises(DomainError) as raised:
        await push(db, settings, clock, "o-1", **fields)
    assert raised.value.code == code
    assert await load_order(db, "o-1") is None


async def test_unknown_customer_and_foreign_order(db, settings, clock):
    await factories.customer(db, now=clock())
    await factories.customer(db, "c-2", now=clock())
    with pytest.raises(NotFound):
        await push(db, settings, clock, "o-1", customer="nobody")
    await push(db, settings, clock, "o-1")
    with pytest.raises(DomainError) as raised:
        await push(db, settings, clock, "o-1", customer="c-2")
    assert raised.value.code == "order_customer_mismatch"


async def test_concurrent_first_pushes_create_one_order(db, settings, clock):
    await factories.customer(db, now=clock())
    placed = clock() - timedelta(hours=1)
    results = await asyncio.gather(
        *(push(db, settings, clock, "o-1", placed_at=placed) for _ in range(6))
    )
    assert [r.created for r in results].count(True) == 1
    customer = await load_customer(db)
    assert (customer.orders_count, customer.net_spend) == (1, 300_000)
    async with db.read_session() as session:
        assert await session.scalar(select(func.count()).select_from(OrderItem)) == 1


async def test_cancel_pushed_five_times_concurrently_releases_the_code_once(db, settings, clock):
    customer = await factories.customer(db, now=clock())
    async with db.session() as session:
        session.add(PromoCode(
            code="WELCOME2345", source=CodeSource.MANUAL, discount_type=DiscountType.PERCENT,
            discount_value=10, currency="RUB", customer_id=customer.id, usage_limit=1,
            per_customer_limit=1,
        ))
        await session.commit()
    outcome = await redeem(db.hot, "WELCOME2345", customer_id=customer.id,
                           order_external_id="o-1", basket=Basket(total=300_000), now=clock())
    assert outcome.ok
    await push(db, settings, clock, "o-1", promo_code="WELCOME2345", discount=30_000)

    results = await asyncio.gather(
        *(push(db, settings, clock, "o-1", status="cancelled", items=None) for _ in range(5))
    )
    assert sorted(r.released_uses for r in results) == [0, 0, 0, 0, 1]
    assert [r.changed for r in results].count(True) == 1
    customer = await load_customer(db)
    assert (customer.orders_count, customer.net_spend, customer.gross_spend) == (0, 0, 0)
    assert customer.last_order_at is None
    async with db.read_session() as session:
        code = await session.scalar(select(PromoCode))
        redemption = await session.scalar(select(Redemption))
    assert code.used_count == 0
    assert redemption.released_at == clock()


async def test_return_revokes_rewards_the_order_earned(db, settings, clock):
    friend = await factories.customer(db, "friend", now=clock())
    referrer = await factories.customer(db, "referrer", now=clock())
    first = await push(db, settings, clock, "o-1", customer="friend")
    other = await push(db, settings, clock, "o-2", customer="friend")

    def reward(code, order_id, owner):
        return PromoCode(
            code=code, source=CodeSource.REVIEW, discount_type=DiscountType.PERCENT,
            discount_value=5, currency="RUB", customer_id=owner, earned_by_order_id=order_id,
        )

    async with db.session() as session:
        session.add_all([
            reward("REVIEW22222", first.order_id, friend.id),
            reward("REFERRER333", first.order_id, referrer.id),
            reward("OTHER444444", other.order_id, friend.id),
        ])
        session.add(Referral(referrer_id=referrer.id, referee_id=friend.id,
                             status=ReferralStatus.QUALIFIED, first_order_id=first.order_id))
        await session.commit()

    clock.advance(days=3)
    result = await push(db, settings, clock, "o-1", customer="friend",
                        status="partially_returned", returned_amount=50_000)
    assert (result.revoked_codes, result.rejected_referrals, result.released_uses) == (2, 1, 0)
    again = await push(db, settings, clock, "o-1", customer="friend", status="returned")
    assert (again.revoked_codes, again.rejected_referrals) == (0, 0)

    async with db.read_session() as session:
        codes = {c.code: c for c in await session.scalars(select(PromoCode))}
        referral = await session.scalar(select(Referral))
    assert codes["REVIEW22222"].status == CodeStatus.REVOKED
    assert codes["REVIEW22222"].revoke_reason == "order returned"
    assert codes["REVIEW22222"].revoked_at == clock()
    assert codes["REFERRER333"].status == CodeStatus.REVOKED
    assert codes["OTHER444444"].status == CodeStatus.ACTIVE
    assert referral.status == ReferralStatus.REJECTED


async def test_customer_object_in_the_session_is_kept_current(db, settings, clock):
    await factories.customer(db, now=clock())
    async with db.session() as session:
        customer, _ = await upsert_customer(session, "c-1", now=clock())
        await upsert_order(
            session, "o-1", customer=customer, placed_at=clock(), status="paid",
            total=250_000, currency="RUB", items=[], now=clock(), shop=settings.shop,
        )
        assert (customer.orders_count, customer.net_spend) == (1, 250_000)
        await session.commit()


async def test_the_shops_delivery_time_is_kept(db, settings, clock):
    await factories.customer(db, now=clock())
    delivered = clock() - timedelta(days=20)
    await push(db, settings, clock, "o-1", status="returned", delivered_at=delivered)
    await push(db, settings, clock, "o-1", status="returned", delivered_at=clock())
    assert (await load_order(db, "o-1")).delivered_at == delivered
