"""The order's discount: stacking policies, the ceiling and the allocation to lines."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.promo.checkout.order_discount import Terms, compute, tier_offer
from bot.promo.codes.guardrail import Stacking
from bot.promo.codes.offers import Basket, Item, Offer

EXCLUSIVE = Terms(Stacking.EXCLUSIVE, Decimal("18"), 30_000)
ADDITIVE = Terms(Stacking.ADDITIVE, Decimal("18"), 30_000)
BASKET = Basket(
    500_000, (Item("A", 300_000, category="Shoes"), Item("B", 200_000, category="Sale"))
)
TOP_TIER = tier_offer(12, True)


def test_exclusive_gives_the_larger_of_tier_and_code() -> None:
    code = Offer("percent", 15)
    # The tier's 12 % with free shipping (60 000 + 30 000) is worth more than 15 % (75 000).
    result = compute(BASKET, TOP_TIER, [code], EXCLUSIVE)
    assert (result.tier.discount, result.codes[0].discount) == (60_000, 0)
    assert result.free_shipping and not result.codes[0].kept

    result = compute(BASKET, tier_offer(5, False), [code], EXCLUSIVE)
    assert (result.tier.discount, result.codes[0].discount) == (0, 75_000)
    assert not result.tier.kept


def test_a_tie_goes_to_the_tier_so_the_shopper_keeps_the_code() -> None:
    result = compute(BASKET, tier_offer(10, False), [Offer("percent", 10)], EXCLUSIVE)
    assert result.tier.discount == 50_000
    assert not result.codes[0].kept


def test_additive_adds_the_code_on_top_of_the_tier_up_to_the_ceiling() -> None:
    # Ceiling 18 % of 5 000 ₽ = 900 ₽; free shipping costs 300 ₽ of it, the tier 600 ₽.
    result = compute(BASKET, TOP_TIER, [Offer("percent", 18)], ADDITIVE)
    assert result.ceiling == 90_000
    assert (result.tier.discount, result.codes[0].discount) == (60_000, 0)
    assert result.free_shipping and result.cost == 90_000
    assert result.codes[0].capped and not result.codes[0].applied

    result = compute(BASKET, tier_offer(5, False), [Offer("fixed", 30_000)], ADDITIVE)
    assert (result.tier.discount, result.codes[0].discount, result.total) == (
        25_000, 30_000, 55_000)
    assert not result.free_shipping


def test_free_shipping_whose_cost_alone_passes_the_ceiling_is_not_given() -> None:
    small = Basket(100_000, (Item("A", 100_000),))
    result = compute(small, None, [Offer("percent", 10, free_shipping=True)], EXCLUSIVE)
    assert not result.free_shipping
    assert result.codes[0].discount == 10_000 and result.codes[0].capped


def test_lines_carry_only_what_each_offer_covers() -> None:
    code = Offer("percent", 10, exclude_categories=("Sale",))
    result = compute(BASKET, None, [code], EXCLUSIVE)
    assert result.lines == (30_000, 0)


def test_lines_split_to_the_kopeck_by_largest_remainder() -> None:
    basket = Basket(300, (Item("A", 100), Item("B", 100), Item("C", 100)))
    result = compute(basket, None, [Offer("fixed", 50)], Terms(Stacking.EXCLUSIVE, Decimal(50), 0))
    assert result.lines == (17, 17, 16)


def test_without_lines_the_total_still_holds_the_ceiling() -> None:
    result = compute(Basket(100_000), None, [Offer("fixed", 50_000)], EXCLUSIVE)
    assert result.total == 18_000 and result.lines == ()


offers = st.one_of(
    st.builds(lambda v, fs: Offer("percent", v, free_shipping=fs),
              st.integers(1, 100), st.booleans()),
    st.builds(lambda v, fs: Offer("fixed", v, free_shipping=fs),
              st.integers(1, 2_000_000), st.booleans()),
    st.just(Offer("free_shipping")),
    st.builds(lambda v, cat: Offer("percent", v, exclude_categories=(cat,)),
              st.integers(1, 100), st.sampled_from(["a", "b"])),
    st.builds(lambda v, sku: Offer("fixed", v, include_skus=(sku,)),
              st.integers(1, 500_000), st.sampled_from(["s0", "s1", "s2"])),
)
items = st.lists(
    st.builds(lambda i, price, qty, cat: Item(f"s{i}", price, qty, cat),
              st.integers(0, 5), st.integers(0, 300_000), st.integers(1, 5),
              st.sampled_from(["a", "b", None])),
    max_size=6,
)


@st.composite
def baskets(draw: st.DrawFn) -> Basket:
    lines = tuple(draw(items))
    listed = sum(item.amount for item in lines)
    # The shop's total may include what the lines do not show (shipping, fees) or be
    # below them (its own rounding).
    total = draw(st.integers(max(listed - 1_000, 0), listed + 100_000)) if lines else draw(
        st.integers(0, 2_000_000))
    return Basket(total, lines)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    basket=baskets(),
    tier=st.one_of(st.none(), st.builds(tier_offer, st.integers(0, 20), st.booleans())),
    codes=st.lists(offers, max_size=3),
    stacking=st.sampled_from(list(Stacking)),
    ceiling=st.decimals(0, 60, places=1),
    shipping=st.integers(0, 60_000),
)
def test_the_order_never_passes_the_ceiling_and_lines_add_up(
    basket: Basket, tier: Offer | None, codes: list[Offer], stacking: Stacking,
    ceiling: Decimal, shipping: int,
) -> None:
    terms = Terms(stacking, ceiling, shipping)
    result = compute(basket, tier, codes, terms)
    assert result.cost <= terms.ceiling(basket.total) <= basket.total
    if basket.items:
        assert sum(result.lines) == result.total
        assert all(0 <= line <= item.amount
                   for line, item in zip(result.lines, basket.items, strict=True))
    parts = [result.tier, *result.codes]
    assert all(0 <= part.discount <= part.wanted for part in parts)
    if stacking is Stacking.EXCLUSIVE and tier is not None and codes:
        # Never the tier and a code together.
        assert not (result.tier.applied and any(part.applied for part in result.codes))


MUG = Offer("gift", gift_sku="MUG", gift_name="Mug", gift_cost=25_000)


def test_a_gift_is_taken_before_the_discounts_and_never_past_the_ceiling() -> None:
    # Additive: tier 12 % + shipping + a combinable 10 % + the mug: shipping 30 000 and the
    # mug 25 000 first, then the tier's 60 000 would pass 90 000: 35 000, nothing for 10 %.
    result = compute(BASKET, TOP_TIER, [MUG, Offer("percent", 10)], ADDITIVE)
    assert result.gifts == (MUG,) and result.codes[0].gift_cost == 25_000
    assert (result.tier.discount, result.codes[1].discount) == (35_000, 0)
    assert result.cost == result.ceiling == 90_000
    # Under exclusive the mug does not compete with the tier: both, within the ceiling.
    result = compute(BASKET, tier_offer(8, False), [MUG], EXCLUSIVE)
    assert (result.tier.discount, result.tier.kept, result.gifts) == (40_000, True, (MUG,))
    # A gift that does not fit stays out whole, and the tier keeps its room.
    vase = Offer("gift", gift_sku="VASE", gift_name="Vase", gift_cost=95_000)
    result = compute(BASKET, tier_offer(8, False), [vase], EXCLUSIVE)
    assert result.gifts == () and not result.codes[0].applied and result.tier.discount == 40_000
    assert result.total_for(95_000) == 527_778  # 18 % of 5 277,78 ₽ holds 950 ₽


@settings(max_examples=200, deadline=None)
@given(gift=st.integers(0, 200_000), tier=st.integers(0, 30),
       shipping=st.booleans(), stacking=st.sampled_from(list(Stacking)))
def test_a_gift_and_the_tier_never_pass_the_ceiling(gift: int, tier: int, shipping: bool,
                                                    stacking: Stacking) -> None:
    offer = Offer("gift", gift_sku="G", gift_name="Gift", gift_cost=gift)
    terms = Terms(stacking, Decimal("18"), 30_000)
    result = compute(BASKET, tier_offer(tier, shipping), [offer], terms)
    assert result.cost <= result.ceiling
    assert sum(result.lines) == result.total
    assert (result.gifts == (offer,)) == (gift + (30_000 if result.free_shipping else 0)
                                          <= result.ceiling)
