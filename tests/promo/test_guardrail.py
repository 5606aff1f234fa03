from datetime import timedelta
from decimal import Decimal

import pytest

from bot.db.models import Customer, Order
from bot.promo.codes.guardrail import average_order_value, check_discount
from bot.promo.customers.tiers import Tier


async def check(db, settings, clock, discount_type, value, **kw):
    async with db.read_session() as session:
        return await check_discount(
            session,
            discount_type=discount_type,
            value=value,
            guardrail=settings.guardrail,
            now=clock(),
            **kw,
        )


async def test_ceiling_from_profit_average_and_safety_share(db, settings, clock):
    # 1 500 ₽ profit on a 5 000 ₽ average order: break-even at 30 %, usable 18 % (40 % kept).
    allowed = await check(db, settings, clock, "percent", 18)
    assert allowed.allowed
    assert allowed.break_even_percent == Decimal("30.0")
    assert allowed.ceiling_percent == Decimal("18.0")
    assert (allowed.net_profit, allowed.average_order_value, allowed.average_source) == (
        150_000,
        500_000,
        "fallback",
    )
    refused = await check(db, settings, clock, "percent", 19)
    assert not refused.allowed
    assert refused.requested_percent == Decimal("19.0")
    assert refused.ceiling_percent == Decimal("18.0")
    assert refused.safety_share == Decimal("0.4")


async def test_fixed_amounts_are_a_share_of_the_order(db, settings, clock):
    assert (await check(db, settings, clock, "fixed", 90_000)).allowed  # 900 ₽ of 5 000 ₽
    over = await check(db, settings, clock, "fixed", 90_100)
    assert not over.allowed
    assert over.requested_percent == Decimal("18.1")
    # Against a code's 10 000 ₽ minimum order, 1 500 ₽ off is 15 %.
    assert (await check(db, settings, clock, "fixed", 150_000, order_value=1_000_000)).allowed


async def test_free_shipping_costs_its_share_of_the_order(db, settings, clock):
    """Free shipping is not free to the shop (issue 11: it counted as 0 %): 300 ₽ of a
    5 000 ₽ order is 6 %, on its own or on top of a percent."""
    alone = await check(db, settings, clock, "free_shipping", 0)
    assert alone.allowed and alone.requested_percent == Decimal("6.0")
    assert (await check(db, settings, clock, "percent", 12, free_shipping=True)).allowed
    over = await check(db, settings, clock, "percent", 13, free_shipping=True)
    assert not over.allowed and over.requested_percent == Decimal("19.0")
    # Against a 1 000 ₽ minimum order the same shipping is 30 %.
    small = await check(db, settings, clock, "free_shipping", 0, order_value=100_000)
    assert not small.allowed and small.requested_percent == Decimal("30.0")


async def test_free_shipping_without_a_cost_is_not_counted(db, settings, clock):
    free = settings.replace(shipping_cost=0)
    result = await check(db, free, clock, "free_shipping", 0)
    assert result.allowed and result.requested_percent == 0
    assert result.note == "free_shipping_not_counted"


async def test_average_measured_from_recent_orders(db, settings, clock):
    now = clock()
    async with db.session() as session:
        customer = Customer(external_id="c-1")
        session.add(customer)
        await session.flush()

        def order(n, total, days_ago, status="paid"):
            return Order(
                external_id=f"o-{n}",
                customer_id=customer.id,
                total=total,
                currency="RUB",
                status=status,
                placed_at=now - timedelta(days=days_ago),
            )

        session.add_all(
            [
                order(1, 200_000, 10),
                order(2, 400_000, 179),
                order(3, 400_000, 20, status="returned"),
                order(4, 9_000_000, 5, status="cancelled"),
                order(5, 9_000_000, 181),
            ]
        )
        await session.commit()

    async with db.read_session() as session:
        assert await average_order_value(session, settings.guardrail, now=now) == (
            333_333,
            "measured",
        )
    # 1 500 / 3 333.33 = 45 % break-even, 27 % usable.
    result = await check(db, settings, clock, "percent", 27)
    assert (result.allowed, result.ceiling_percent) == (True, Decimal("27.0"))

    settings = settings.replace(guardrail_average_order_value=300_000)
    async with db.read_session() as session:
        assert await average_order_value(session, settings.guardrail, now=now) == (
            300_000,
            "setting",
        )


@pytest.mark.parametrize(("share", "ceiling"), [(0.3, "21.0"), (0.5, "15.0"), (0.0, "30.0")])
async def test_safety_share_is_configurable(db, settings, clock, share, ceiling):
    settings = settings.replace(guardrail_safety_share=share)
    assert (await check(db, settings, clock, "percent", 1)).ceiling_percent == Decimal(ceiling)


# --- a personal code weighed with its customer's tier (issue 11) --------------------------

TOP = Tier(4, 10_000_000, 12, free_shipping=True)
EIGHT = Tier(3, 5_000_000, 8)


async def test_additive_adds_the_tier_and_counts_free_shipping_once(db, settings, clock):
    """The bug: a top-tier customer (12 % + free shipping) was issued an 18 % code, 30 %
    together plus shipping. Additive stacking adds them up against the 18 % ceiling."""
    additive = settings.replace(stacking="additive")
    over = await check(db, additive, clock, "percent", 18, tier=TOP)
    assert not over.allowed and over.refusal == "ceiling"
    assert over.requested_percent == Decimal("36.0")  # 12 + 18 + 6 (shipping)
    assert (over.tier.percent, over.tier.shipping, over.code.percent) == (12, 6, 18)
    # The same code alone (a shared code, no tier) is at the ceiling, so allowed.
    assert (await check(db, additive, clock, "percent", 18)).allowed
    # 8 % + 10 % = 18 % fits; 8 % + 11 % does not.
    assert (await check(db, additive, clock, "percent", 10, tier=EIGHT)).allowed
    assert not (await check(db, additive, clock, "percent", 11, tier=EIGHT)).allowed
    # Free shipping from both the tier and the code is one shipping: 8 + 4 + 6 = 18 %.
    shipping_tier = Tier(3, 5_000_000, 8, free_shipping=True)
    both = await check(db, additive, clock, "percent", 4, free_shipping=True, tier=shipping_tier)
    assert both.allowed and both.requested_percent == Decimal("18.0")


async def test_exclusive_refuses_a_code_the_tier_outranks(db, settings, clock):
    """Without stacking the order takes the larger (a tie goes to the tier), so a personal
    code no larger than the tier would never apply."""
    same = await check(db, settings, clock, "percent", 8, tier=EIGHT)
    assert not same.allowed and same.refusal == "tier"
    assert (same.tier.percent, same.code.percent) == (8, 8)
    larger = await check(db, settings, clock, "percent", 10, tier=EIGHT)
    assert larger.allowed and larger.requested_percent == Decimal("10.0")  # not added up
    # The top tier's free shipping counts: 12 % + 6 % = 18 % outranks a 15 % code.
    top = await check(db, settings, clock, "percent", 15, tier=TOP)
    assert not top.allowed and top.refusal == "tier" and top.tier.total == Decimal("18.0")
    # Above the ceiling is refused as such, whatever the tier.
    assert (await check(db, settings, clock, "percent", 19, tier=EIGHT)).refusal == "ceiling"


async def test_a_fixed_code_is_weighed_on_the_guardrails_base(db, settings, clock):
    """A fixed amount is a share of the code's minimum order, else the average order."""
    # 300 ₽ of the 5 000 ₽ average = 6 % < 8 %: refused; of a 2 000 ₽ minimum, 15 %: fine.
    assert (await check(db, settings, clock, "fixed", 30_000, tier=EIGHT)).refusal == "tier"
    assert (
        await check(db, settings, clock, "fixed", 30_000, tier=EIGHT, order_value=200_000)
    ).allowed


async def test_no_tier_or_a_tier_that_gives_nothing_changes_nothing(db, settings, clock):
    for stacking in ("exclusive", "additive"):
        terms = settings.replace(stacking=stacking)
        plain = await check(db, terms, clock, "percent", 18)
        with_none = await check(db, terms, clock, "percent", 18, tier=None)
        assert plain == with_none and plain.allowed and plain.tier is None
