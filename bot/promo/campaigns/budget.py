"""A campaign's budget: how much discount (money, minor units) and how many uses its codes
may take at the checkout, and how much they have taken so far.

The checkout enforces it (`bot.promo.checkout.redemption`): one conditional UPDATE adds
to `spent_*` only while the campaign stays within its budget, and a release subtracts.
Here a budget is set and read. The checkout leaves campaigns without a budget unwritten
(their redeems would queue on the campaign's row), so a campaign given its first budget
is charged, in the same UPDATE, what its live redemptions cost until then; a campaign
that had one keeps its counters, which a redemption may be changing at that moment. A
budget may be set below what is already spent: the campaign's codes stop at once, and the
card says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.dialect import is_postgresql
from bot.db.models import Campaign, PromoCode, Redemption
from bot.promo.errors import DomainError, ErrorCode
from bot.promo.staff.managers import audit

# The columns' limits (BIGINT minor units, INTEGER uses), kept well inside them; the shop
# API's schema uses the same numbers.
MAX_AMOUNT = 10**15
MAX_USES = 10**9


class Keep(Enum):
    """`set_budget`'s "leave this part as it is" (None already means "no budget")."""

    KEEP = "keep"


KEEP = Keep.KEEP

# PostgreSQL advisory locks are keyed by two integers: this class, and the campaign id.
# The checkout holds it shared while it reads and charges a budget (`order_rules`).
BUDGET_LOCK_CLASS = 0x62756467  # "budg"


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A campaign's budget and what its codes have taken; None: no budget of that kind."""

    amount: int | None
    uses: int | None
    spent_amount: int = 0
    spent_uses: int = 0

    @property
    def limited(self) -> bool:
        return self.amount is not None or self.uses is not None

    @property
    def amount_left(self) -> int | None:
        return None if self.amount is None else max(self.amount - self.spent_amount, 0)

    @property
    def uses_left(self) -> int | None:
        return None if self.uses is None else max(self.uses - self.spent_uses, 0)

    def allows(self, cost: int) -> bool:
        """Would one more use costing `cost` stay within the budget? (The checkout's test;
        its conditional UPDATE enforces the same.)"""
        if self.uses is not None and self.spent_uses >= self.uses:
            return False
        return self.amount is None or self.spent_amount + cost <= self.amount

    @property
    def exhausted(self) -> bool:
        """Nothing is left of one of the budgets: the campaign's codes no longer apply."""
        return self.amount_left == 0 or self.uses_left == 0


def state_of(campaign: Campaign) -> BudgetState:
    return BudgetState(
        campaign.budget_amount,
        campaign.budget_uses,
        campaign.spent_amount or 0,
        campaign.spent_uses or 0,
    )


def check_budget(amount: int | None, uses: int | None) -> None:
    """A budget is positive and within the columns' range; None is "no budget"."""
    if amount is not None and not 1 <= amount <= MAX_AMOUNT:
        raise DomainError(
            ErrorCode.INVALID_BUDGET, f"budget_amount is 1..{MAX_AMOUNT}", field="budget_amount"
        )
    if uses is not None and not 1 <= uses <= MAX_USES:
        raise DomainError(
            ErrorCode.INVALID_BUDGET, f"budget_uses is 1..{MAX_USES}", field="budget_uses"
        )


async def read(session: AsyncSession, campaign_id: int) -> tuple[Campaign, BudgetState]:
    """The campaign as stored now (the checkout's counters change under any cached row)."""
    campaign = await session.get(Campaign, campaign_id, populate_existing=True)
    if campaign is None:
        raise DomainError(ErrorCode.UNKNOWN_CAMPAIGN, "no such campaign", campaign_id=campaign_id)
    return campaign, state_of(campaign)


def _spent_so_far(campaign_id: int) -> dict[str, Any]:
    """`spent_*` as they are if the campaign had a budget, else what it spent until now."""

    def live(total: Any) -> Any:
        return (
            select(total)
            .join(PromoCode, PromoCode.id == Redemption.code_id)
            .where(PromoCode.campaign_id == campaign_id, Redemption.released_at.is_(None))
            .scalar_subquery()
        )

    had_none = and_(Campaign.budget_amount.is_(None), Campaign.budget_uses.is_(None))
    return {
        "spent_amount": case((had_none, live(func.coalesce(func.sum(Redemption.cost), 0))),
                             else_=Campaign.spent_amount),
        "spent_uses": case((had_none, live(func.count(Redemption.id))),
                           else_=Campaign.spent_uses),
    }


async def set_budget(
    session: AsyncSession,
    campaign_id: int,
    *,
    amount: int | Keep | None = KEEP,
    uses: int | Keep | None = KEEP,
    actor: str,
    now: datetime,
) -> BudgetState:
    """Set or clear (None) the money and the uses budget; KEEP leaves one as it is.
    Audited in the caller's transaction (not committed)."""
    if is_postgresql(session):
        # Wait for the redeems and releases under way (they hold it shared) so that the
        # sum below counts them, and keep new ones out until this commits.
        await session.execute(select(func.pg_advisory_xact_lock(BUDGET_LOCK_CLASS, campaign_id)))
    campaign, before = await read(session, campaign_id)
    after_amount = before.amount if amount is KEEP else amount
    after_uses = before.uses if uses is KEEP else uses
    check_budget(after_amount, after_uses)
    # Only what was asked is written: a concurrent change of the other part stays.
    changes = {name: value for name, value in (("budget_amount", amount), ("budget_uses", uses))
               if value is not KEEP}
    await session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id)
        .values(**changes, updated_at=now, **_spent_so_far(campaign_id))
        .execution_options(synchronize_session=False)
    )
    await audit(
        session,
        actor=actor,
        action="campaign.budget",
        entity="campaign",
        entity_id=campaign_id,
        before={"budget_amount": before.amount, "budget_uses": before.uses},
        after={"budget_amount": after_amount, "budget_uses": after_uses},
        now=now,
    )
    _campaign, after = await read(session, campaign.id)
    return after
