"""Order-level rules in the database: one code per order unless codes combine, and
campaign budgets.

Both are checked when validating (a read) and enforced when redeeming, inside the
redeem transaction, by conditional writes that answer whether they wrote (steps of the
redeem's chain, `bot.db.chain`):

- the order's row in `order_discounts` is upserted only if it still holds what the
  redeem computed the order from (its number of codes and their cost) and no code holds
  it alone. Of two concurrent redeems of different codes on one order exactly one finds
  that true: on PostgreSQL the second waits on the first's row and re-checks the WHERE
  against the committed row; on SQLite writes are serialized;
- a campaign with a budget is charged the use's cost only while the charge stays
  within it, so concurrent redeems never spend one kopeck or one use past it. Campaigns
  without a budget are not written at all: their codes' redeems would otherwise queue on
  the campaign's row. (Setting a budget counts what the campaign spent until then.)

Release undoes both with the cost recorded on the redemption.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, and_, bindparam, func, not_, or_, select, update
from sqlalchemy.sql.dml import Insert, Update
from sqlalchemy.sql.selectable import CTE

from bot.db.chain import one_row, only_after
from bot.db.dialect import POSTGRESQL, conflict_insert
from bot.db.models import Campaign, OrderDiscount, PromoCode, Redemption
from bot.db.prepared import Prepared
from bot.db.tx import Tx
from bot.promo.campaigns.budget import BUDGET_LOCK_CLASS, BudgetState
from bot.promo.checkout.order_discount import Terms, compute
from bot.promo.checkout.validation import Reason, Verdict, within_order
from bot.promo.codes.guardrail import Stacking
from bot.promo.codes.offers import Basket, Offer

orders = OrderDiscount.__table__
campaigns = Campaign.__table__
codes = PromoCode.__table__
redemptions = Redemption.__table__


@dataclass(frozen=True, slots=True)
class OrderState:
    """The order's live codes as the redeem saw them."""

    codes: int = 0
    exclusive: bool = False
    cost: int = 0
    # The live codes' offers, in the order they were redeemed (additive stacking only),
    # and the order total they were redeemed on.
    earlier: tuple[Offer, ...] = ()
    total: int | None = None

    def refuses(self, *, stacking: Stacking, combinable: bool) -> bool:
        """Does the order already hold a code this one cannot join?"""
        if self.codes == 0:
            return False
        return stacking is Stacking.EXCLUSIVE or self.exclusive or not combinable

    def changed(self, basket: Basket) -> bool:
        """The order's earlier codes were redeemed on another total: what they took cannot
        be recomputed on this basket, so no code joins them (release and redeem again)."""
        return self.total is not None and self.total != basket.total


_NONE = OrderState()
_ORDER = Prepared(
    select(orders.c.codes, orders.c.exclusive, orders.c.cost).where(
        orders.c.order_external_id == bindparam("order")
    )
)
_LIVE_USES = Prepared(
    select(codes, redemptions.c.order_total,
           redemptions.c.discount.label("use_discount"),
           redemptions.c.free_shipping.label("use_free_shipping"))
    .join(redemptions, redemptions.c.code_id == codes.c.id)
    .where(
        redemptions.c.order_external_id == bindparam("order"), redemptions.c.released_at.is_(None)
    )
    .order_by(redemptions.c.id)
)


async def live_uses(tx: Tx, order_external_id: str) -> list[Any]:
    """The order's codes in use, first first: each code's row and what its use took."""
    return await tx.all(_LIVE_USES, {"order": order_external_id})


async def order_state(tx: Tx, order_external_id: str | None, stacking: Stacking) -> OrderState:
    """What the order holds now; the earlier codes' offers are read only when a code may
    join them."""
    if order_external_id is None:
        return _NONE
    row = await tx.first(_ORDER, {"order": order_external_id})
    if row is None or row.codes == 0:
        return OrderState(0, False, row.cost if row else 0)
    if stacking is not Stacking.ADDITIVE or row.exclusive:
        return OrderState(row.codes, row.exclusive, row.cost)
    uses = await live_uses(tx, order_external_id)
    earlier = tuple(Offer.of_code(use) for use in uses)
    return OrderState(row.codes, row.exclusive, row.cost, earlier,
                      uses[0].order_total if uses else None)


def claim_order(backend: str, after: CTE | None) -> Insert:
    """Add this code to the order (`b_order`) if the order is still as the redeem read it
    (`b_seen_codes`, `b_seen_cost`) and no code holds it alone: a step of the redeem's
    chain (`bot.db.chain`), answering the order's id when it took the order."""
    values = {
        "order_external_id": bindparam("b_order"),
        "customer_id": bindparam("b_customer"),
        "codes": 1,
        "exclusive": bindparam("b_exclusive"),
        "cost": bindparam("b_cost"),
        "updated_at": bindparam("b_now"),
    }
    return one_row(conflict_insert(backend, orders), values, after).on_conflict_do_update(
        index_elements=[orders.c.order_external_id],
        set_={
            "codes": orders.c.codes + 1,
            "exclusive": bindparam("b_exclusive"),
            "cost": orders.c.cost + bindparam("b_cost"),
            "updated_at": bindparam("b_now"),
        },
        where=and_(
            orders.c.codes == bindparam("b_seen_codes"),
            orders.c.cost == bindparam("b_seen_cost"),
            or_(orders.c.codes == 0, not_(orders.c.exclusive)),
        ),
    ).returning(orders.c.order_external_id)


_UNCLAIM = Prepared(
    update(orders)
    .where(orders.c.order_external_id == bindparam("b_order"),
           orders.c.codes >= bindparam("b_uses"))
    .values(
        codes=orders.c.codes - bindparam("b_uses"),
        cost=orders.c.cost - bindparam("b_cost"),
        updated_at=bindparam("b_now"),
        exclusive=and_(orders.c.exclusive, orders.c.codes > bindparam("b_uses")),
    )
)


async def unclaim_order(
    tx: Tx, order_external_id: str, uses: int, cost: int, now: datetime
) -> None:
    """Released uses leave the order; its last one frees it for any code."""
    await tx.rowcount(_UNCLAIM, {"b_order": order_external_id, "b_uses": uses,
                                 "b_cost": cost, "b_now": now})


_SHARE_LOCK = Prepared(select(func.pg_advisory_xact_lock_shared(
    bindparam("class", type_=Integer), bindparam("campaign", type_=Integer)).label("locked")))
_BUDGET = Prepared(
    select(
        campaigns.c.budget_amount,
        campaigns.c.budget_uses,
        campaigns.c.spent_amount,
        campaigns.c.spent_uses,
    ).where(campaigns.c.id == bindparam("campaign"))
)
async def _share_budget_lock(tx: Tx, campaign_id: int) -> None:
    """PostgreSQL: hold the campaign's budget lock shared until commit, so that setting a
    first budget (`lock_budget`) waits for this redeem or release and counts it, and a
    later one reads the budget it set. SQLite serializes writes anyway."""
    if tx.backend == POSTGRESQL:
        await tx.first(_SHARE_LOCK, {"class": BUDGET_LOCK_CLASS, "campaign": campaign_id})


async def budget_of(tx: Tx, campaign_id: int | None) -> BudgetState | None:
    """The campaign's budget, None when it has none."""
    if campaign_id is None:
        return None
    await _share_budget_lock(tx, campaign_id)
    row = await tx.first(_BUDGET, {"campaign": campaign_id})
    if row is None or (row.budget_amount is None and row.budget_uses is None):
        return None
    return BudgetState(*row)


def charge_budget(after: CTE | None) -> Update:
    """Count one use costing `b_cost` against the campaign (`b_campaign`) if it stays within
    the budget: a step of the redeem's chain, answering the campaign's id when charged."""
    charge = (
        update(campaigns)
        .where(
            campaigns.c.id == bindparam("b_campaign"),
            or_(campaigns.c.budget_uses.is_(None),
                campaigns.c.spent_uses < campaigns.c.budget_uses),
            or_(
                campaigns.c.budget_amount.is_(None),
                campaigns.c.spent_amount + bindparam("b_cost") <= campaigns.c.budget_amount,
            ),
        )
        .values(
            spent_amount=campaigns.c.spent_amount + bindparam("b_cost"),
            spent_uses=campaigns.c.spent_uses + 1,
            # Named, or the column's Python `onupdate` would be bound as NULL here.
            updated_at=bindparam("b_now"),
        )
    )
    return only_after(charge, after).returning(campaigns.c.id)


_REFUND = Prepared(
    update(campaigns)
    .where(
        campaigns.c.id == bindparam("b_campaign"),
        or_(campaigns.c.budget_amount.is_not(None), campaigns.c.budget_uses.is_not(None)),
        campaigns.c.spent_uses >= bindparam("b_uses"),
        campaigns.c.spent_amount >= bindparam("b_cost"),
    )
    .values(spent_amount=campaigns.c.spent_amount - bindparam("b_cost"),
            spent_uses=campaigns.c.spent_uses - bindparam("b_uses"),
            updated_at=bindparam("b_now"))
)


async def refund_budget(
    tx: Tx, campaign_id: int, uses: int, cost: int, now: datetime
) -> None:
    """Give released uses' cost back to a campaign that keeps a budget."""
    await _share_budget_lock(tx, campaign_id)
    await tx.rowcount(_REFUND, {"b_campaign": campaign_id, "b_uses": uses, "b_cost": cost,
                                "b_now": now})


@dataclass(frozen=True, slots=True)
class Judged:
    """A code's verdict within its order, with what the redeem must write conditionally."""

    verdict: Verdict
    state: OrderState = _NONE
    budget: BudgetState | None = None


async def judge_order(
    tx: Tx,
    verdict: Verdict,
    *,
    basket: Basket,
    tier: Offer | None,
    terms: Terms,
    order_external_id: str | None,
) -> Judged:
    """The order-level rules after the code's own: the order's other codes, the tier under
    the stacking policy, the ceiling, the campaign's budget."""
    code = verdict.code
    if not verdict.valid or code is None:
        return Judged(within_order(verdict, basket, tier, terms))
    state = await order_state(tx, order_external_id, terms.stacking)
    if state.refuses(stacking=terms.stacking, combinable=code.combinable) or state.changed(
        basket
    ):
        order = compute(basket, tier, state.earlier, terms)
        return Judged(Verdict(Reason.ORDER_HAS_CODE, code, order=order), state)
    verdict = within_order(verdict, basket, tier, terms, state.earlier)
    if not verdict.valid:
        return Judged(verdict, state)
    budget = await budget_of(tx, code.campaign_id)
    if budget is not None and not budget.allows(verdict.cost):
        without = compute(basket, tier, state.earlier, terms)
        return Judged(Verdict(Reason.BUDGET_SPENT, code, order=without), state, budget)
    return Judged(verdict, state, budget)
