"""The comeback ladder: entry by silence, skip who ordered, escalate once, suppress."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

import tests.support.shop as shop
from bot.db.models import CampaignAssignment, CampaignStatus, DiscountType
from bot.promo.campaigns.builtin import ensure_builtin
from bot.promo.campaigns.comeback import ladder
from bot.promo.campaigns.running import run_kind


async def test_ladder_from_settings(settings):
    steps = ladder(settings)
    assert [(s.days, s.offer.value, s.offer.free_shipping, s.only_new) for s in steps] == [
        (30, 5, False, True), (60, 10, False, False), (90, 12, True, False)
    ]
    assert all(s.offer.valid_days == 30 for s in steps)
    custom = ladder(settings, {"ladder": ["45:0+fs"], "new_silent_days": 0})
    assert custom[0].offer.discount_type is DiscountType.FREE_SHIPPING


async def test_customers_enter_at_the_step_their_silence_reached(db, settings, clock):
    now = clock()
    new_silent = await shop.silent_customer(db, settings, "new", now, 35)
    regular_30 = await shop.silent_customer(db, settings, "reg30", now, 35, orders=2)
    silent_65 = await shop.silent_customer(db, settings, "s65", now, 65, orders=2)
    silent_95 = await shop.silent_customer(db, settings, "s95", now, 95, orders=3)
    await shop.silent_customer(db, settings, "recent", now, 10)
    await shop.silent_customer(db, settings, "gone", now, 400)

    result = await run_kind(shop.context(db, settings, now), "comeback")

    assert result.status == "done"
    assert (result.issued, result.queued) == (3, 3)
    by_customer = {c.customer_id: c for c in await shop.codes(db, source="comeback")}
    assert set(by_customer) == {new_silent, silent_65, silent_95}
    assert regular_30 not in by_customer  # 35 days silent but not "new": no step for them
    assert by_customer[new_silent].discount_value == 5
    assert by_customer[silent_65].discount_value == 10
    assert (by_customer[silent_95].discount_value, by_customer[silent_95].free_shipping) == (
        12, True)
    # Validity starts at delivery.
    assert all(c.expires_at is None and c.valid_days == 30 for c in by_customer.values())
    sent = await shop.deliveries(db, reason="comeback")
    assert {d.customer_id for d in sent} == set(by_customer)
    assert all(d.code_id == by_customer[d.customer_id].id for d in sent)
    assert all(d.payload["category"] == "tea" and d.promotional for d in sent)

    again = await run_kind(shop.context(db, settings, now + timedelta(hours=3)), "comeback")
    assert (again.issued, again.queued) == (0, 0)
    assert len(await shop.codes(db)) == 3


async def test_expired_unredeemed_code_escalates_once(db, settings, clock):
    now = clock()
    cid = await shop.silent_customer(db, settings, "anna", now, 61, orders=2)
    await run_kind(shop.context(db, settings, now), "comeback")
    (first,) = await shop.codes(db, customer_id=cid)
    await shop.deliver(db, first.id, now)

    # Not expired yet at day 80: nothing new.
    later = now + timedelta(days=19)
    result = await run_kind(shop.context(db, settings, later), "comeback")
    assert result.issued == 0

    # Day 92: the 10 % code expired unused and the silence reached 90 days.
    later = now + timedelta(days=31)
    result = await run_kind(shop.context(db, settings, later), "comeback")
    assert (result.escalated, result.issued) == (1, 1)
    codes = await shop.codes(db, customer_id=cid)
    assert [(c.discount_value, c.free_shipping) for c in codes] == [(10, False), (12, True)]
    campaign_id = codes[0].campaign_id
    (assignment,) = await shop.assignments(db, campaign_id)
    assert (assignment.step, assignment.escalated, assignment.code_id) == (2, True, codes[1].id)

    # That one expires too: no further step, ever (and there is none after 90 anyway).
    await shop.deliver(db, codes[1].id, later)
    much_later = later + timedelta(days=40)
    result = await run_kind(shop.context(db, settings, much_later), "comeback")
    assert result.issued == 0
    assert len(await shop.deliveries(db, customer_id=cid)) == 2


async def test_new_silent_escalates_once_then_stops(db, settings, clock):
    now = clock()
    cid = await shop.silent_customer(db, settings, "new", now, 31)
    await run_kind(shop.context(db, settings, now), "comeback")
    (first,) = await shop.codes(db, customer_id=cid)
    assert first.discount_value == 5
    await shop.deliver(db, first.id, now)
    day_62 = now + timedelta(days=31)  # the 5 % expired yesterday, unused
    await run_kind(shop.context(db, settings, day_62), "comeback")
    codes = await shop.codes(db, customer_id=cid)
    assert [c.discount_value for c in codes] == [5, 10]
    await shop.deliver(db, codes[1].id, day_62)
    # The 10 % expires by day 93, past 90 days, the next step: escalated already.
    result = await run_kind(shop.context(db, settings, now + timedelta(days=63)), "comeback")
    assert result.issued == 0


async def test_a_customer_who_ordered_since_is_skipped(db, settings, clock):
    now = clock()
    cid = await shop.silent_customer(db, settings, "back", now, 61, orders=2)
    await run_kind(shop.context(db, settings, now), "comeback")
    (first,) = await shop.codes(db, customer_id=cid)
    await shop.deliver(db, first.id, now)
    # They come back without the code; the code expires unused.
    await shop.order(db, settings, "back-again", cid, placed_at=now + timedelta(days=5),
                     now=now + timedelta(days=5))
    later = now + timedelta(days=35)
    result = await run_kind(shop.context(db, settings, later), "comeback")
    assert result.issued == 0 and result.escalated == 0

    # A new silence is a new cycle: 60 days after that order they enter again.
    cycle_2 = now + timedelta(days=5 + 61)
    result = await run_kind(shop.context(db, settings, cycle_2), "comeback")
    assert result.issued == 1
    keys = [d.dedupe_key for d in await shop.deliveries(db, customer_id=cid)]
    assert len(keys) == len(set(keys)) == 2


async def test_suppressed_customers_are_counted_and_get_nothing(db, settings, clock):
    now = clock()
    await shop.silent_customer(db, settings, "ok", now, 65)
    await shop.silent_customer(db, settings, "out", now, 65, marketing_opt_in=False)
    await shop.silent_customer(db, settings, "unlinked", now, 65, linked=False)
    await shop.silent_customer(db, settings, "blocked", now, 65, blocked=True)

    result = await run_kind(shop.context(db, settings, now), "comeback")

    assert (result.audience, result.opted_out, result.no_telegram, result.blocked) == (
        4, 1, 1, 1)
    assert (result.assigned, result.issued, result.queued) == (1, 1, 1)
    campaign_id = (await shop.codes(db))[0].campaign_id
    assert len(await shop.assignments(db, campaign_id)) == 1


async def test_paused_campaign_does_nothing_and_guardrail_refuses(db, settings, clock):
    now = clock()
    await shop.silent_customer(db, settings, "anna", now, 65)
    ctx = shop.context(db, settings, now)
    campaign_id = await ensure_builtin(ctx, "comeback")
    await shop.set_status(db, campaign_id, CampaignStatus.PAUSED)
    assert (await run_kind(ctx, "comeback")).issued == 0
    await shop.set_status(db, campaign_id, CampaignStatus.ACTIVE)

    greedy = settings.replace(comeback_ladder=["60:40"])
    result = await run_kind(shop.context(db, greedy, now), "comeback")
    assert result.status == "refused" and "18" in result.message
    assert await shop.codes(db) == []

    assert (await run_kind(ctx, "comeback")).issued == 1


async def test_builtin_campaign_is_created_once(db, settings, clock):
    first = await ensure_builtin(shop.context(db, settings, clock()), "comeback")
    assert await ensure_builtin(shop.context(db, settings, clock()), "comeback") == first
    async with db.read_session() as session:
        assert await session.scalar(select(CampaignAssignment.id)) is None
