"""The "try a new category" campaign: each customer of a segment gets the campaign's
offer limited to one category they never bought, the one customers like them buy next
(`bot.promo.shop.copurchase`).

The run is a broadcast's (`broadcast.run_segment`: the segment, each customer once, the
global holdout left out; the same variants, holdout and guardrail check of the offers),
with a batch of its own that changes two things. The category is chosen *before* the
claim, and a customer with nothing to suggest is neither claimed nor counted in the
experiment (`no_category` in the run's result); a later run looks at them again, once
they have bought more. The holdout is thus drawn from the same customers the treated
arms are, and its figures compare. Each code is then the arm's offer with
`include_categories` set to the suggestion, personal, its validity counted from delivery.

The guardrail per category: a category whose own ceiling
(`PROMOBOT_GUARDRAIL_CATEGORY_CEILINGS`) any arm's offer would pass is never suggested,
and the next best is. One rule for every arm, so that the variants of an experiment
suggest the same categories and differ by their offer alone. Each customer's tier is
then weighed as in every campaign (`no_room`).

Memory: the pair counts (categories²) once per run, and a batch's customers' categories.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import CodeSource, DiscountType
from bot.delivery.outbox import Reason
from bot.promo.campaigns.broadcast import Batch, Opened, run_segment
from bot.promo.campaigns.claims import ArmOffers, Claim, claim_new, issue_and_queue
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.codes.issuing import Headroom
from bot.promo.codes.offers import Offer
from bot.promo.shop.copurchase import CoPurchase, categories_of, co_purchase

# The payload key the message names the category by (`bot.texts.notices`).
PAYLOAD_CATEGORY = "new_category"


def limited(offer: Offer, category: str) -> Offer:
    """The offer for one category's goods alone (its other conditions kept)."""
    return dataclasses.replace(offer, include_categories=(category,))


@dataclass(frozen=True, slots=True)
class Suggester:
    """One run's co-purchase counts and the categories no arm's offer may go to."""

    copurchase: CoPurchase
    barred: frozenset[str]

    def suggest(self, owned: Iterable[str]) -> str | None:
        return self.copurchase.suggest(owned, lambda category: category not in self.barred)


def barred_categories(copurchase: CoPurchase, offers: Iterable[Offer | None], room: Headroom
                      ) -> frozenset[str]:
    """The categories whose own ceiling one of `offers` would pass (the shop's ceiling
    was checked before: `claims.offers_by_arm`)."""
    given = [offer for offer in offers if offer is not None]
    return frozenset(category for category in copurchase.pairs
                     if any(not room.check(limited(offer, category)).allowed
                            for offer in given))


async def suggester(session: AsyncSession, offers: Iterable[Offer | None], room: Headroom
                    ) -> Suggester:
    copurchase = await co_purchase(session)
    return Suggester(copurchase, barred_categories(copurchase, offers, room))


async def suggestions(session: AsyncSession, suggest: Suggester, rows: Sequence[Row[Any]],
                      result: RunResult) -> dict[int, str]:
    """Each customer's category; those with none are counted and left out."""
    owned = await categories_of(session, [row.id for row in rows])
    found = {}
    for row in rows:
        category = suggest.suggest(owned.get(row.id, ()))
        if category is None:
            result.no_category += 1
        else:
            found[row.id] = category
    return found


async def run_new_category(ctx: Context, campaign_id: int) -> RunResult:
    """One run: the segment's customers not yet in the campaign, each with a category."""
    return await run_segment(ctx, campaign_id, "new_category", _batch)


async def _batch(run: Opened) -> Batch:
    async with run.ctx.db.read_session() as session:
        suggest = await suggester(session, run.offers.by_arm.values(), run.offers.room)

    async def batch(session: AsyncSession, rows: list[Row[Any]]) -> None:
        chosen = await suggestions(session, suggest, rows, run.result)
        claims = await claim_new(session, run.campaign.id, run.split,
                                 [row for row in rows if row.id in chosen], step=0,
                                 now=run.ctx.now, result=run.result)
        await _issue(session, run, claims, chosen)

    return batch


async def _issue(session: AsyncSession, run: Opened, claims: Sequence[Claim],
                 chosen: dict[int, str]) -> None:
    """The claims' codes and messages, one `issue_and_queue` per category: its arms'
    offers limited to it."""
    campaign, offers = run.campaign, run.offers
    by_category: dict[str, list[Claim]] = {}
    for claim in claims:
        by_category.setdefault(chosen[claim.row.id], []).append(claim)
    message = {"ru": campaign.message_ru, "en": campaign.message_en}
    arm_of = {claim.row.id: claim.arm.variant_id for claim in claims}
    for category, group in sorted(by_category.items()):
        own = ArmOffers({variant: limited(offer, category) if offer is not None else None
                         for variant, offer in offers.by_arm.items()}, offers.room)
        await issue_and_queue(
            session, run.ctx, campaign, group, offers=own, source=CodeSource.CAMPAIGN,
            reason=Reason.CAMPAIGN, dedupe=lambda row: f"campaign:{campaign.id}:{row.id}",
            payload=lambda row, category=category, own=own: {
                "message": message, PAYLOAD_CATEGORY: category,
                "percent": named_percent(own.by_arm.get(arm_of[row.id])),
                "name": row.name, "shop": run.ctx.settings.shop.name},
            result=run.result,
        )


def named_percent(offer: Offer | None) -> int | None:
    """The percent the message names, when the offer is one."""
    if offer is None or offer.discount_type is not DiscountType.PERCENT:
        return None
    return offer.value


# --- preview ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class CategoryPreview:
    """How many of the reachable customers would be offered which category now."""

    categories: list[tuple[str, int]]
    # Reachable, but nothing to suggest to them.
    without: int


async def preview_categories(
    session: AsyncSession, reachable_ids: Select[Any], offers: Iterable[Offer | None],
    room: Headroom, *, chunk: int = 2000,
) -> CategoryPreview:
    """The run's choice over `reachable_ids` (a Select of customer ids), read by keyset
    in chunks so that a large segment does not sit in memory."""
    suggest = await suggester(session, offers, room)
    ids = reachable_ids.subquery()
    counts: Counter[str] = Counter()
    without, last = 0, 0
    while True:
        page = list(await session.scalars(
            select(ids.c.id).where(ids.c.id > last).order_by(ids.c.id).limit(chunk)))
        if not page:
            break
        last = page[-1]
        owned = await categories_of(session, page)
        for customer_id in page:
            category = suggest.suggest(owned.get(customer_id, ()))
            if category is None:
                without += 1
            else:
                counts[category] += 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return CategoryPreview(ranked, without)

