"""Redemption: a use of a code is taken for an order atomically (`release` gives it back).

Never read-then-write. Taking a use is one conditional UPDATE of the code, checked
by its row count (limits, status and validity window are in its WHERE), plus a
conditional upsert of the per-customer counter, plus the redemption row whose unique
(code, order) key makes a retried redeem of the same order find the first one. On
PostgreSQL concurrent updates of the code row queue on its row lock and re-check the
WHERE; on SQLite the write transaction is `BEGIN IMMEDIATE`, so they queue on the file.
The order-level rules (one code per order, the ceiling, campaign budgets) ride in the
same transaction as conditional writes of their own (`order_rules`).

The statements run over a `Tx`: `redeem` hands the whole transaction to the `HotPath`
as one job (on PostgreSQL, straight on the driver: `bot.db.tx`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.exc import IntegrityError

from bot.db.dialect import BACKENDS, conflict_insert
from bot.db.hotpath import HotPath
from bot.db.models import CodeCustomerUsage, CodeStatus, PromoCode, Redemption
from bot.db.prepared import Prepared, TablePart
from bot.db.tx import Tx
from bot.promo.checkout.order_discount import Terms, settled
from bot.promo.checkout.order_rules import (
    Judged,
    charge_budget,
    claim_order,
    judge_order,
    live_uses,
)
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


@dataclass(frozen=True, slots=True)
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


# The hot path's statements are prepared once (building one costs more than running it);
# bound names carry a `b_` prefix because an UPDATE reserves the column names.
_TAKE_USE = Prepared(
    update(codes)
    .where(
        codes.c.id == bindparam("b_id"),
        codes.c.status == CodeStatus.ACTIVE,
        or_(codes.c.usage_limit.is_(None), codes.c.used_count < codes.c.usage_limit),
        or_(codes.c.starts_at.is_(None), codes.c.starts_at <= bindparam("b_now")),
        or_(codes.c.expires_at.is_(None), codes.c.expires_at > bindparam("b_now")),
    )
    .values(used_count=codes.c.used_count + 1)
)
# What a redemption records of its use: written when it is made, and again when a
# released one is revived.
_AMOUNTS = ("order_total", "discount", "tier_discount", "free_shipping", "cost", "created_at")
_INSERT_REDEMPTION = Prepared(
    redemptions.insert()
    .values({name: bindparam(f"b_{name}")
             for name in ("code_id", "customer_id", "order_external_id", *_AMOUNTS)})
    .returning(redemptions.c.id)
)


def _customer_use_statement(backend: str) -> Any:
    stmt = conflict_insert(backend, usage).values(
        code_id=bindparam("b_code"), customer_id=bindparam("b_customer"), used_count=1
    )
    return stmt.on_conflict_do_update(
        index_elements=[usage.c.code_id, usage.c.customer_id],
        set_={"used_count": usage.c.used_count + 1},
        where=usage.c.used_count < bindparam("b_limit"),
    )


_TAKE_CUSTOMER_USE = {name: Prepared(_customer_use_statement(name)) for name in BACKENDS}


async def _take_customer_use(tx: Tx, code_id: int, customer_id: int, limit: int) -> bool:
    params = {"b_code": code_id, "b_customer": customer_id, "b_limit": limit}
    return await tx.rowcount(_TAKE_CUSTOMER_USE[tx.backend], params) == 1


_EXISTING = Prepared(
    select(redemptions).where(
        redemptions.c.code_id == bindparam("code_id"),
        redemptions.c.order_external_id == bindparam("order_external_id"),
    )
)


async def _existing(tx: Tx, code_id: int, order_external_id: str) -> Any | None:
    params = {"code_id": code_id, "order_external_id": order_external_id}
    return await tx.first(_EXISTING, params)


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One redeem as the checkout asked for it."""

    raw_code: str
    customer_id: int
    order_id: str
    basket: Basket
    now: datetime
    terms: Terms
    tier: Offer | None


# The redeem's reads in one round trip: the code, this order's redemption of it (released
# or not), and the customer's uses of it.
_CODE = TablePart(codes, "code_")
_PREVIOUS = TablePart(redemptions, "previous_")
_CODE_FOR_ORDER = Prepared(
    select(*_CODE.columns, *_PREVIOUS.columns, usage.c.used_count.label("customer_uses"))
    .select_from(
        codes.outerjoin(redemptions, and_(redemptions.c.code_id == codes.c.id,
                                          redemptions.c.order_external_id == bindparam("order")))
        .outerjoin(usage, and_(usage.c.code_id == codes.c.id,
                               usage.c.customer_id == bindparam("customer"))))
    .where(codes.c.code == bindparam("code"))
)


async def _read_code(tx: Tx, attempt: _Attempt) -> tuple[Any | None, Any | None, int]:
    """The code the shopper typed, the order's redemption of it, the customer's uses of it
    when they count."""
    typed = typed_code(attempt.raw_code)
    if typed is None:
        return None, None, 0
    row = await tx.first(_CODE_FOR_ORDER, {"code": typed, "order": attempt.order_id,
                                           "customer": attempt.customer_id})
    if row is None:
        return None, None, 0
    code = _CODE.of(row)
    return code, _PREVIOUS.of(row), uses_that_count(code, row.customer_uses)


async def _redeem_in(tx: Tx, attempt: _Attempt) -> RedeemOutcome:
    """`redeem`'s transaction: judge the code and its order, take a use of it (and of the
    customer's share), hold the order and the campaign's budget, then record the
    redemption; `_Refused` rolls it all back."""
    code, previous, uses = await _read_code(tx, attempt)
    if code is None:
        raise _Refused(Verdict(Reason.UNKNOWN))
    if previous is not None and previous.released_at is None:
        return await _replay(tx, code, previous, attempt)
    shared = shared_with_limit(code)
    verdict = judge(code, customer_id=attempt.customer_id, basket=attempt.basket,
                    now=attempt.now, customer_uses=uses)
    # Under additive stacking a combinable code may share the order, so what the order
    # holds is read first; any other code holds it alone, and the claim's row count says
    # whether the order was free.
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
    if await tx.rowcount(_TAKE_USE, {"b_id": code.id, "b_now": attempt.now}) != 1:
        # Someone else took the last use between our read and write; on PostgreSQL that
        # may have been a concurrent redeem of this very order, now visible.
        if replay := await _replay_if_redeemed(tx, code, attempt):
            return replay
        raise _Refused(await _explain(tx, attempt))
    if shared and not await _take_customer_use(tx, code.id, attempt.customer_id,
                                               code.per_customer_limit):
        await _refuse_taken(tx, code, attempt, Reason.ALREADY_USED)
    await _hold(tx, code, judged, alone, attempt)
    redemption_id = await _record_redemption(tx, code, previous, attempt, judged.verdict)
    verdict = judged.verdict
    return RedeemOutcome(verdict, redemption_id, verdict.discount, verdict.free_shipping)


async def _hold(tx: Tx, code: Any, judged: Judged, alone: bool, attempt: _Attempt) -> None:
    """The order-level writes: the order takes this code, the campaign pays for it."""
    cost = judged.verdict.cost
    if not await claim_order(tx, attempt.order_id, attempt.customer_id, judged.state,
                             exclusive=alone, cost=cost, now=attempt.now):
        await _refuse_taken(tx, code, attempt, Reason.ORDER_HAS_CODE)
    if judged.budget is not None and not await charge_budget(tx, code.campaign_id, cost,
                                                             attempt.now):
        raise _Refused(Verdict(Reason.BUDGET_SPENT, code))


async def _refuse_taken(tx: Tx, code: Any, attempt: _Attempt, reason: Reason) -> NoReturn:
    """Refuse after a use was taken: the use must not stay. If the order already holds
    this code (a concurrent retry got there first), answer with that redemption."""
    if replay := await _replay_if_redeemed(tx, code, attempt):
        raise _Refused(replay.verdict, replay)
    raise _Refused(Verdict(reason, code))


_REVIVE = Prepared(
    update(redemptions)
    .where(redemptions.c.id == bindparam("b_id"), redemptions.c.released_at.is_not(None))
    .values(released_at=None, **{name: bindparam(f"b_{name}") for name in _AMOUNTS})
)


async def _record_redemption(
    tx: Tx, code: Any, previous: Any | None, attempt: _Attempt, verdict: Verdict
) -> int:
    """The redemption row of the use just taken: a new one, or the order's released row
    revived (the unique (code, order) key allows one row per order)."""
    amounts = {
        "discount": verdict.discount,
        "tier_discount": verdict.tier_discount,
        "free_shipping": verdict.free_shipping,
        "cost": verdict.cost,
        "order_total": attempt.basket.total,
        "created_at": attempt.now,
    }
    if previous is None:
        params = {f"b_{name}": value for name, value in amounts.items()}
        return await tx.scalar(
            _INSERT_REDEMPTION,
            {
                **params,
                "b_code_id": code.id,
                "b_customer_id": attempt.customer_id,
                "b_order_external_id": attempt.order_id,
            },
        )
    # The order had released this code and now uses it again: revive that row.
    params = {f"b_{name}": value for name, value in amounts.items()}
    if await tx.rowcount(_REVIVE, {**params, "b_id": previous.id}) != 1:
        raise _Refused(Verdict(Reason.USED_UP, code))
    return previous.id


async def _replay_if_redeemed(tx: Tx, code: Any, attempt: _Attempt) -> RedeemOutcome | None:
    """The first answer, when this order already holds a live use of the code."""
    previous = await _existing(tx, code.id, attempt.order_id)
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
    customer_id: int,
    order_external_id: str,
    basket: Basket,
    now: datetime,
    terms: Terms,
    tier: Offer | None = None,
) -> RedeemOutcome:
    """Take one use of the code for this order, in a transaction of its own, within the
    order-level rules (`order_rules`) under the shop's `terms`; `tier` is the shopper's
    tier offer.

    Redeeming the same code for the same order again returns the first redemption.
    The hot path: the whole transaction is one `HotPath` job, not a session's statements.
    """
    attempt = _Attempt(raw_code, customer_id, order_external_id, basket, now, terms, tier)
    for _attempt in range(3):
        try:
            return await hot.write(_redeem_in, attempt)
        except _Refused as refused:
            return refused.outcome
        except IntegrityError:
            # A concurrent redeem of the same order won the unique key: read its answer.
            continue
    raise RuntimeError("redemption kept conflicting")  # pragma: no cover
