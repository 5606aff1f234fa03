from datetime import timedelta

import pytest

from bot.config import LoyaltySettings
from bot.promo.customers.profiles import get_by_external_id, upsert_customer
from bot.promo.customers.tiers import Tier, customer_tier, tier_for, tiers
from bot.promo.shop.orders import upsert_order


def spend_tiers(specs: tuple[str, ...], currency: str) -> tuple[Tier, ...]:
    """The spend tiers as `PROMOBOT_TIERS` and `PROMOBOT_CURRENCY` give them."""
    return tiers(LoyaltySettings(tiers=",".join(specs), currency=currency))


def test_default_tiers_are_in_kopecks():
    assert spend_tiers(("5000:3", "20000:5", "50000:8", "100000:12+fs"), "RUB") == (
        Tier(1, 500_000, 3), Tier(2, 2_000_000, 5), Tier(3, 5_000_000, 8),
        Tier(4, 10_000_000, 12, free_shipping=True),
    )
    assert tiers(LoyaltySettings()) == spend_tiers(
        ("5000:3", "20000:5", "50000:8", "100000:12+fs"), "RUB")


def test_thresholds_follow_the_currency_precision():
    assert [t.threshold for t in spend_tiers(("1000:2",), "JPY")] == [1000]
    assert [t.threshold for t in spend_tiers(("99.50:2",), "EUR")] == [9950]
    with pytest.raises(ValueError):
        spend_tiers(("99.505:2",), "EUR")


@pytest.mark.parametrize("spec", ["5000", "abc:3", "5000:x", "0:3", "5000:101", "-5:3"])
def test_bad_tier_settings_are_refused(spec):
    with pytest.raises(ValueError):
        spend_tiers((spec,), "RUB")


@pytest.mark.parametrize(
    ("net_spend", "percent", "left"),
    [
        (0, 0, 500_000),
        (499_999, 0, 1),
        (500_000, 3, 1_500_000),
        (1_999_900, 3, 100),
        (2_000_000, 5, 3_000_000),
        (9_999_999, 8, 1),
    ],
)
def test_tier_boundaries(settings, net_spend, percent, left):
    status = tier_for(net_spend, settings.loyalty)
    assert status.percent == percent
    assert status.left == left
    assert 0 <= status.progress < 1


def test_progress_between_tiers_and_at_the_top(settings):
    halfway = tier_for(1_250_000, settings.loyalty)
    assert (halfway.current.index, halfway.next.index) == (1, 2)
    assert halfway.progress == pytest.approx(0.5)
    top = tier_for(12_000_000, settings.loyalty)
    assert top.is_top and top.free_shipping and top.percent == 12
    assert (top.next, top.left, top.progress) == (None, 0, 1.0)
    assert tier_for(0, settings.loyalty).current is None
    assert tier_for(0, settings.loyalty).progress == 0.0


def test_order_count_ladder(settings):
    loyalty = settings.replace(tier_basis="orders").loyalty
    assert [(t.threshold, t.percent) for t in tiers(loyalty)] == [(3, 5), (7, 10)]
    assert tier_for(2, loyalty).percent == 0
    assert tier_for(2, loyalty).left == 1
    assert tier_for(3, loyalty).percent == 5
    assert tier_for(7, loyalty).is_top


async def test_net_spend_tier_through_orders_and_a_return(db, settings, clock):
    async def push(order_id, total, **fields):
        async with db.session() as session:
            result = await upsert_order(
                session, order_id, customer="c-1", placed_at=clock() - timedelta(days=1),
                total=total, currency="RUB", items=[], now=clock(), shop=settings.shop,
                **{"status": "delivered", **fields},
            )
            await session.commit()
        return result

    async with db.session() as session:
        await upsert_customer(session, "c-1", now=clock())
        await session.commit()
    await push("o-1", 1_500_000)
    result = await push("o-2", 499_900)
    assert result.net_spend == 1_999_900
    assert tier_for(result.net_spend, settings.loyalty).percent == 3
    result = await push("o-3", 100)
    assert tier_for(result.net_spend, settings.loyalty).percent == 5
    # A 5 000 ₽ return brings the shopper back to 3 %.
    result = await push("o-1", 1_500_000, status="partially_returned", returned_amount=500_000)
    assert result.net_spend == 1_500_000
    assert tier_for(result.net_spend, settings.loyalty).percent == 3

    async with db.read_session() as session:
        customer = await get_by_external_id(session, "c-1")
    status = customer_tier(customer, settings.loyalty)
    assert (status.percent, status.left) == (3, 500_000)
