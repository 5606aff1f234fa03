"""Redemption: a use of a code is taken for an order atomically (`release` gives it back).

Never read-then-write. Taking a use is one conditional UPDATE of the code (limits,
status and validity window are in its WHERE), plus a conditional upsert of the
per-customer counter, plus the redemption row whose unique (code, order) key makes a
retried redeem of the same order find the first one. On PostgreSQL concurrent updates
of the code row queue on its row lock and re-check the WHERE; on SQLite the write
transaction is `BEGIN IMMEDIATE`, so they queue on the file. The order-level rules (one
code per order, the ceiling, campaign budgets) ride in the same transaction as
conditional writes of their own (`order_rules`).

A redeem is one `HotPath` job (on PostgreSQL, straight on the driver: `bot.db.tx`): one
read of the shopper, the code, the order's use of it and the shopper's uses, then the
writes as one chain (`bot.db.chain`: one statement on PostgreSQL), each only if the one
before it wrote; when one after the code's use refuses, the transaction rolls back.
"""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.selectable import CTE

from bot.db.chain import Chain, Step, one_row, only_after
from bot.db.dialect import conflict_insert
from bot.db.hotpath import HotPath
from bot.db.models import CodeCustomerUsage, CodeStatus, PromoCode, Redemption
from bot.db.prepared import Prepared, TablePart
from bot.db.tx import Tx
from bot.promo.checkout.lookup import CODE, Shopper, shopper_and_code, shopper_of
from bot.promo.checkout.order_discount import Terms, settled
from bot.promo.checkout.order_rules import (
    charge_budget,
    claim_order,
    judge_order,
    live_uses,
)
from bot.promo.checkout.terms import ShopTerms
from bot.promo.checkout.validation import (
    Reason,
    Verdict,
    customer_uses,
    judge,
    load_code,
    shared_with_limit,
    typed_code,
    uses_that_count,
)
from bot.promo.codes.guardrail import Stacking
from bot.promo.codes.offers import Basket, Offer

codes = PromoCode.__table__
usage = CodeCustomerUsage.__table__
redemptions = Redemption.__table__


@dataclasses.dataclass(frozen=True, slots=True)
class RedeemOutcome:
    verdict: Verdict
    redemption_id: int | None = None
    discount: int = 0
    free_shipping: bool = False
    # True when this order had already redeemed the code: the first answer is returned.
    replayed: bool = False

    @property
    def ok(self) -> bool:
        return self.redemption_id is not None


class _Refused(Exception):
    """Roll this transaction back and answer `outcome`: a refusal, or the first answer
    when a concurrent retry of the same order got there after we had taken a use."""

    def __init__(self, verdict: Verdict, outcome: RedeemOutcome | None = None) -> None:
        self.outcome = outcome or RedeemOutcome(verdict)
        self.shopper: Shopper | None = None


# What a redemption records of its use: written when it is made, and again when a
# released one is revived. Bound names carry a `b_` prefix because an UPDATE reserves the
# column names; every step of the chain reads the same parameters.
_AMOUNTS = {name: bindparam(f"b_{name}")
            for name in ("order_total", "discount", "tier_discount", "free_shipping", "cost")}


def _take_use(after: CTE | None) -> Update:
    """A use of the code, if one is left and the code is live now."""
    take = (
        update(codes)
        .where(
            codes.c.id == bindparam("b_code"),
            codes.c.status == CodeStatus.ACTIVE,
            or_(codes.c.usage_limit.is_(None), codes.c.used_count < codes.c.usage_limit),
            or_(codes.c.starts_at.is_(None), codes.c.starts_at <= bindparam("b_now")),
            or_(codes.c.expires_at.is_(None), codes.c.expires_at > bindparam("b_now")),
        )
        .values(used_count=codes.c.used_count + 1)
    )
    return only_after(take, after).returning(codes.c.id)


def _take_customer_use(backend: str, after: CTE | None) -> Insert:
    """One of the customer's uses of a shared code, if they have one left (`b_limit`)."""
    values = {"code_id": bindparam("b_code"), "customer_id": bindparam("b_customer"),
              "used_count": 1}
    return one_row(conflict_insert(backend, usage), values, after).on_conflict_do_update(
        index_elements=[usage.c.code_id, usage.c.customer_id],
        set_={"used_count": usage.c.used_count + 1},
        where=usage.c.used_count < bindparam("b_limit"),
    ).returning(usage.c.code_id)


def _record(after: CTE | None) -> Insert:
    values = {"code_id": bindparam("b_code"), "customer_id": bindparam("b_customer"),
              "order_external_id": bindparam("b_order"), "created_at": bindparam("b_now"),
              **_AMOUNTS}
    return one_row(redemptions.insert(), values, after).returning(redemptions.c.id)


def _revive(after: CTE | None) -> Update:
    """The order had released this code and now uses it again: its row lives again (the
    unique (code, order) key allows one row per order)."""
    revive = (
        update(redemptions)
        .where(redemptions.c.id == bindparam("b_redemption"),
               redemptions.c.released_at.is_not(None))
        .values(released_at=None, created_at=bindparam("b_now"), **_AMOUNTS)
    )
    return only_after(revive, after).returning(redemptions.c.id)


@functools.cache
def _writes(backend: str, *, shared: bool, budget: bool, revive: bool) -> Chain:
    """A redeem's writes, each only if the one before wrote: take a use of the code (and of
    the customer's share of it), add the code to the order, charge the campaign's budget,
    record the use."""
    steps = [Step("took", _take_use)]
    if shared:
        steps.append(Step("counted", functools.partial(_take_customer_use, backend)))
    steps.append(Step("claimed", functools.partial(claim_order, backend)))
    if budget:
        steps.append(Step("charged", charge_budget))
    steps.append(Step("recorded", _revive if revive else _record))
    return Chain(*steps)


@dataclasses.dataclass(frozen=True, slots=True)
class _Attempt:
    """One redeem as the checkout asked for it; `shopper` once read."""

    raw_code: str
    external_id: str
    order_id: str
    basket: Basket
    now: datetime
    terms: Terms
    shop: ShopTerms
    shopper: Shopper | None = None

    @property
    def customer_id(self) -> int:
        assert self.shopper is not None
        return self.shopper.id

    @property
    def tier(self) -> Offer | None:
        assert self.shopper is not None
        return self.shop.tier(self.shopper.standing)


# The redeem's reads in one round trip: the shopper, the code, this order's redemption of
# it (released or not), and the shopper's uses of it.
_PREVIOUS = TablePart(redemptions, "previous_")
_READ = Prepared(shopper_and_code(
    *_PREVIOUS.columns,
    join=lambda joined: joined.outerjoin(
        redemptions, and_(redemptions.c.code_id == codes.c.id,
                          redemptions.c.order_external_id == bindparam("order"))),
))


async def _read(tx: Tx, asked: _Attempt) -> Any | None:
    return await tx.first(_READ, {"external_id": asked.external_id,
                                  "code": typed_code(asked.raw_code), "order": asked.order_id})


async def _redeem_in(tx: Tx, asked: _Attempt) -> tuple[Shopper, RedeemOutcome] | None:
    """`redeem`'s transaction; None for a customer the shop never told us of."""
    row = await _read(tx, asked)
    if row is None:
        return None
    shopper = shopper_of(row, asked.external_id)
    attempt = dataclasses.replace(asked, shopper=shopper)
    code = CODE.of(row)
    try:
        if code is None:
            raise _Refused(Verdict(Reason.UNKNOWN))
        outcome = await _use(tx, attempt, code, _PREVIOUS.of(row),
                             uses_that_count(code, row.customer_uses))
    except _Refused as refused:
        refused.shopper = shopper
        raise
    return shopper, outcome


async def _use(tx: Tx, attempt: _Attempt, code: Any, previous: Any | None,
               uses: int) -> RedeemOutcome:
    """Judge the code and its order, then take a use of it (and of the customer's share),
    hold the order and the campaign's budget, and record the redemption, in one chain of
    writes; `_Refused` rolls it all back."""
    if previous is not None and previous.released_at is None:
        return await _replay(tx, code, previous, attempt)
    verdict = judge(code, customer_id=attempt.customer_id, basket=attempt.basket,
                    now=attempt.now, customer_uses=uses)
    # Under additive stacking a combinable code may share the order, so what the order
    # holds is read first; any other code holds it alone, and the claim says whether the
    # order was free.
    alone = not (attempt.terms.stacking is Stacking.ADDITIVE and code.combinable)
    judged = await judge_order(tx, verdict, basket=attempt.basket, tier=attempt.tier,
                               terms=attempt.terms,
                               order_external_id=None if alone else attempt.order_id)
    if not judged.verdict.valid:
        # On PostgreSQL each read sees what committed before it: a concurrent redeem of
        # this order may have committed after `previous` was read, and counted as a use.
        if replay := await _replay_if_redeemed(tx, code, attempt):
            return replay
        raise _Refused(judged.verdict)
    verdict = judged.verdict
    writes = _writes(tx.backend, shared=shared_with_limit(code),
                     budget=judged.budget is not None, revive=previous is not None)
    stopped, redemption_id = await writes.run(tx, {
        "b_code": code.id, "b_customer": attempt.customer_id, "b_order": attempt.order_id,
        "b_now": attempt.now, "b_limit": code.per_customer_limit,
        "b_exclusive": alone, "b_seen_codes": judged.state.codes,
        "b_seen_cost": judged.state.cost, "b_campaign": code.campaign_id,
        "b_redemption": previous.id if previous is not None else None,
        "b_order_total": attempt.basket.total, "b_discount": verdict.discount,
        "b_tier_discount": verdict.tier_discount, "b_free_shipping": verdict.free_shipping,
        "b_cost": verdict.cost,
    })
    if stopped is not None:
        # What we read changed before we wrote. On PostgreSQL that may have been a
        # concurrent redeem of this very order, now visible: its answer is ours.
        if replay := await _replay_if_redeemed(tx, code, attempt):
            raise _Refused(replay.verdict, replay)
        if stopped == "took":
            raise _Refused(await _explain(tx, attempt))
        # A use was taken: the refusal rolls it back.
        raise _Refused(Verdict(_REFUSED_AT[stopped], code))
    return RedeemOutcome(verdict, redemption_id, verdict.discount, verdict.free_shipping)


# Why a redeem is refused when a step of its writes after taking the code's use wrote
# nothing (a concurrent redeem got there first).
_REFUSED_AT = {"counted": Reason.ALREADY_USED, "claimed": Reason.ORDER_HAS_CODE,
               "charged": Reason.BUDGET_SPENT, "recorded": Reason.USED_UP}


_EXISTING = Prepared(
    select(redemptions).where(
        redemptions.c.code_id == bindparam("code_id"),
        redemptions.c.order_external_id == bindparam("order_external_id"),
    )
)


async def _replay_if_redeemed(tx: Tx, code: Any, attempt: _Attempt) -> RedeemOutcome | None:
    """The first answer, when this order already holds a live use of the code."""
    previous = await tx.first(_EXISTING, {"code_id": code.id,
                                          "order_external_id": attempt.order_id})
    if previous is None or previous.released_at is not None:
        return None
    return await _replay(tx, code, previous, attempt)


async def _replay(tx: Tx, code: Any, previous: Any, attempt: _Attempt) -> RedeemOutcome:
    """The order's first answer again: what each of its live codes took, on this basket."""
    if previous.customer_id != attempt.customer_id:
        raise _Refused(Verdict(Reason.NOT_YOURS, code))
    uses = await live_uses(tx, previous.order_external_id)
    # The tier's free shipping was not the code's: under additive stacking it came with
    # the tier whenever its cost fitted the ceiling.
    tier = attempt.tier
    terms = attempt.terms
    tier_ships = (terms.stacking is Stacking.ADDITIVE and tier is not None
                  and tier.free_shipping
                  and terms.shipping_cost <= terms.ceiling(attempt.basket.total))
    order = settled(
        attempt.basket, previous.tier_discount,
        [(Offer.of_code(use), use.use_discount, use.use_free_shipping) for use in uses],
        terms.shipping_cost, tier_free_shipping=tier_ships,
    )
    verdict = Verdict(Reason.OK, code, discount=previous.discount,
                      free_shipping=previous.free_shipping, order=order)
    return RedeemOutcome(
        verdict, previous.id, previous.discount, previous.free_shipping, replayed=True
    )


async def _explain(tx: Tx, attempt: _Attempt) -> Verdict:
    code = await load_code(tx, attempt.raw_code)
    uses = await customer_uses(tx, code.id, attempt.customer_id) if code is not None else 0
    verdict = judge(code, customer_id=attempt.customer_id, basket=attempt.basket,
                    now=attempt.now, customer_uses=uses)
    return verdict if not verdict.valid else Verdict(Reason.USED_UP, code)


async def redeem(
    hot: HotPath,
    raw_code: str,
    *,
    external_id: str,
    order_external_id: str,
    basket: Basket,
    now: datetime,
    terms: Terms,
    shop: ShopTerms,
) -> tuple[Shopper, RedeemOutcome] | None:
    """Take one use of the code for this order by the shop's customer `external_id`, in a
    transaction of its own, within the order-level rules (`order_rules`) under the shop's
    `terms` and the shopper's tier; None when the shop never told us of the customer.

    Redeeming the same code for the same order again returns the first redemption.
    The hot path: the whole transaction is one `HotPath` job, not a session's statements.
    """
    asked = _Attempt(raw_code, external_id, order_external_id, basket, now, terms, shop)
    for _attempt in range(3):
        try:
            return await hot.write(_redeem_in, asked)
        except _Refused as refused:
            assert refused.shopper is not None
            return refused.shopper, refused.outcome
        except IntegrityError:
            # A concurrent redeem of the same order won the unique key: read its answer.
            continue
    raise RuntimeError("redemption kept conflicting")  # pragma: no cover
