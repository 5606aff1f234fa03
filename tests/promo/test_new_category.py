"""The "try a new category" campaign's run over a small shop (`tests.support.categories`):
each customer's code is limited to the category they never bought that their peers buy
most, ties by name; nobody is offered what they already buy; a category whose own
ceiling the offer passes gives way to the next; a second run issues nothing more."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from bot.config import Settings
from bot.db import Database
from bot.promo.campaigns.running import run_campaign
from bot.promo.codes.issuing import ensure_within_guardrail
from bot.promo.codes.offers import Offer
from bot.promo.errors import DomainError
from bot.promo.shop.copurchase import CoPurchase, co_purchase
from tests.support import factories, shop
from tests.support.categories import BASKETS, SUGGESTED, CategoryShop, seed


async def _campaign(db: Database, now: Any, *, value: int = 10, holdout: int = 0,
                    variants: list[dict[str, Any]] | None = None) -> int:
    campaign = await factories.campaign(
        db, now=now, name="Try something new", kind="new_category", status="active",
        segment="almost_lost", holdout_percent=holdout, schedule=None,
        offer={"discount_type": "percent", "value": value, "valid_days": 14},
        variants=variants or [])
    return campaign.id


async def _suggested(db: Database, seeded: CategoryShop, campaign_id: int) -> dict[str, str]:
    """Each customer's code: the one category it is limited to."""
    found = {}
    for code in await shop.codes(db, campaign_id=campaign_id):
        (category,) = code.include_categories
        found[seeded.name_of(code.customer_id)] = category
    return found


async def test_each_customer_gets_the_category_their_peers_buy_next(
    db: Database, settings: Settings, clock
) -> None:
    now = clock()
    seeded = await seed(db, settings, now)
    campaign_id = await _campaign(db, now)
    result = await run_campaign(shop.context(db, settings, now, batch_size=3), campaign_id)
    assert (result.issued, result.queued, result.no_category) == (7, 7, 1), result.summary()
    suggested = await _suggested(db, seeded, campaign_id)
    assert suggested == SUGGESTED
    for name, category in suggested.items():
        bought = {c for c, status in BASKETS[name] if status in ("delivered", "paid")}
        assert category not in bought
    # vera's coffee came back and her sweets were cancelled: neither is "bought".
    assert suggested["vera"] == "coffee"
    (code,) = await shop.codes(db, campaign_id=campaign_id, customer_id=seeded.ids["anna"])
    assert (code.discount_value, code.valid_days, code.expires_at) == (10, 14, None)


async def test_the_counts_ignore_cancelled_and_returned_orders(db: Database,
                                                               settings: Settings, clock) -> None:
    await seed(db, settings, clock())
    async with db.read_session() as session:
        counted = await co_purchase(session)
    assert counted.pairs["tea"] == {"coffee": 3, "sweets": 1}
    assert counted.pairs["coffee"] == {"tea": 3, "cups": 1}
    assert "books" not in counted.pairs


def test_ties_go_to_the_first_name_and_owned_categories_never_come_back() -> None:
    counted = CoPurchase({"tea": {"sweets": 2, "cups": 2, "coffee": 1},
                          "coffee": {"sweets": 1, "tea": 1}})
    assert counted.ranked(["tea"]) == [("cups", 2), ("sweets", 2), ("coffee", 1)]
    assert counted.ranked(["tea", "coffee"]) == [("sweets", 3), ("cups", 2)]
    assert counted.suggest(["tea"], lambda category: category != "cups") == "sweets"
    assert counted.suggest(["books"], lambda category: True) is None


async def test_a_category_whose_ceiling_the_offer_passes_gives_way_to_the_next(
    db: Database, settings: Settings, clock
) -> None:
    """Coffee earns less: its ceiling is 8 %, and the offer is 10 %. Anna gets sweets (the
    next best), p3 (tea, sweets) has nothing else and is skipped; 6 % would fit coffee."""
    now = clock()
    seeded = await seed(db, settings, now)
    strict = settings.replace(guardrail_category_ceilings="coffee:8")
    campaign_id = await _campaign(db, now)
    result = await run_campaign(shop.context(db, strict, now), campaign_id)
    suggested = await _suggested(db, seeded, campaign_id)
    assert "coffee" not in suggested.values()
    assert suggested["anna"] == "sweets" and suggested["vera"] == "sweets"
    assert "p3" not in suggested and result.no_category == 2, result.summary()
    small = await _campaign(db, now, value=6)
    await run_campaign(shop.context(db, strict, now), small)
    assert (await _suggested(db, seeded, small))["anna"] == "coffee"


async def test_category_ceiling_refuses_a_manual_code_limited_to_it(
    db: Database, settings: Settings, clock
) -> None:
    """The same ceiling holds for any code limited to the category: 10 % on coffee alone
    is refused with coffee's 8 %, on coffee and tea too (the lowest counts)."""
    guardrail = settings.replace(guardrail_category_ceilings="coffee:8").guardrail
    assert guardrail.category_ceilings == {"coffee": Decimal(8)}
    async with db.read_session() as session:
        for categories in (("coffee",), ("coffee", "tea")):
            offer = Offer("percent", 10, include_categories=categories)
            try:
                await ensure_within_guardrail(session, offer, guardrail=guardrail, now=clock())
            except DomainError as error:
                assert error.params["ceiling_percent"] == Decimal("8.0"), error.params
            else:
                raise AssertionError(f"10 % on {categories} passed an 8 % ceiling")
        await ensure_within_guardrail(session, Offer("percent", 10, include_categories=("tea",)),
                                      guardrail=guardrail, now=clock())


async def test_a_second_run_issues_nothing_more(db: Database, settings: Settings, clock) -> None:
    now = clock()
    await seed(db, settings, now)
    campaign_id = await _campaign(db, now, holdout=30,
                                  variants=[{"name": "A", "weight": 1, "offer": {}},
                                            {"name": "B", "weight": 1, "offer": {"value": 15}}])
    first = await run_campaign(shop.context(db, settings, now), campaign_id)
    assert first.assigned == 7 and first.issued + first.holdout == 7, first.summary()
    second = await run_campaign(shop.context(db, settings, now), campaign_id)
    assert (second.assigned, second.issued, second.queued) == (0, 0, 0), second.summary()
    assert len(await shop.deliveries(db, campaign_id=campaign_id)) == first.queued
    assert {c.discount_value for c in await shop.codes(db, campaign_id=campaign_id)} <= {10, 15}
