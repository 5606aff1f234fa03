"""Request and response bodies of the campaign endpoints (`bot.api.campaigns`): a
campaign as a shop that automates creates it, its budget, and its results.

Same rules as `bot.api.schemas`: requests are strict and refuse unknown fields; money
is an integer in minor units.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from bot.api.schemas import Body, Money, Name, Out
from bot.promo.campaigns.budget import MAX_AMOUNT, MAX_USES
from bot.promo.customers.segments import SEGMENTS

BudgetAmount = Annotated[
    int,
    Field(
        ge=1,
        le=MAX_AMOUNT,
        description="discount the campaign's codes may give in all, minor units",
    ),
]
BudgetUses = Annotated[int, Field(ge=1, le=MAX_USES, description="uses its codes may take in all")]
_CRONTAB = r"^[0-9*/,-]+( [0-9*/,-]+){4}$"
_BUDGET = {"budget_amount": 5_000_000, "budget_uses": 200}


class VariantIn(Body):
    """An arm of the experiment and its offer (the offer fields of `POST /codes`); no
    `discount_type`: a message without a code."""

    name: Annotated[str, Field(min_length=1, max_length=64)]
    weight: Annotated[int, Field(ge=1, le=100)] = 1
    discount_type: Literal["percent", "fixed", "free_shipping"] | None = None
    value: Annotated[int, Field(ge=0, le=10**12)] = 0
    free_shipping: bool = False
    min_order: Money = 0
    max_discount: Money | None = None
    include_categories: Annotated[list[Name], Field(max_length=100, default_factory=list)]
    exclude_categories: Annotated[list[Name], Field(max_length=100, default_factory=list)]
    valid_days: Annotated[int, Field(ge=1, le=3650)] | None = None


class CampaignTextsIn(Body):
    """The message in each language; a language left out gets the standard text."""

    ru: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    en: Annotated[str, Field(min_length=1, max_length=2000)] | None = None


class CampaignIn(Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Spring, regulars",
                    "kind": "broadcast",
                    "segment": "regulars",
                    "holdout": 0.1,
                    "schedule": "0 11 * * 1",
                    "variants": [
                        {
                            "name": "A",
                            "weight": 1,
                            "discount_type": "percent",
                            "value": 5,
                            "min_order": 300_000,
                            "valid_days": 14,
                        },
                        {
                            "name": "B",
                            "weight": 1,
                            "discount_type": "percent",
                            "value": 10,
                            "min_order": 300_000,
                            "valid_days": 14,
                        },
                    ],
                    "texts": {"ru": "Весна пришла!", "en": "Spring is here!"},
                    **_BUDGET,
                }
            ]
        }
    )

    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["broadcast", "comeback", "review", "cart"] = "broadcast"
    segment: Literal[tuple(SEGMENTS)] | None = Field(  # type: ignore[valid-type]
        None, description="whom a broadcast goes to (a broadcast needs one)"
    )
    holdout: Annotated[
        float,
        Field(
            ge=0,
            le=0.5,
            description="share of the audience kept as the control group (gets nothing)",
        ),
    ] = 0
    variants: Annotated[list[VariantIn], Field(max_length=5, default_factory=list)]
    schedule: (
        Annotated[str, Field(pattern=_CRONTAB, description="crontab, the shop's time zone")] | None
    ) = None
    texts: CampaignTextsIn | None = None
    budget_amount: BudgetAmount | None = Field(
        None, description="money budget (discount in all, minor units); null: none"
    )
    budget_uses: BudgetUses | None = Field(None, description="uses budget; null: none")


class CampaignPatchIn(Body):
    """Only the fields given change; `null` removes that budget."""

    model_config = ConfigDict(json_schema_extra={"examples": [_BUDGET, {"budget_uses": None}]})

    budget_amount: BudgetAmount | None = None
    budget_uses: BudgetUses | None = None


class CampaignBudgetOut(Out):
    """What the codes have taken of the budget; at the checkout, a redemption that would
    go beyond it is refused."""

    amount: int | None = Field(description="money budget, minor units; null: none")
    uses: int | None = Field(description="uses budget; null: none")
    spent_amount: int
    spent_uses: int
    amount_left: int | None
    uses_left: int | None
    exhausted: bool = Field(description="nothing left: the campaign's codes no longer apply")


class CampaignOut(Out):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 3,
                    "name": "Spring, regulars",
                    "kind": "broadcast",
                    "status": "active",
                    "segment": "regulars",
                    "holdout": 0.1,
                    "schedule": "0 11 * * 1",
                    "created_at": "2026-03-01T09:00:00Z",
                    "started_at": "2026-03-02T08:00:00Z",
                    **_BUDGET,
                    "budget": {
                        "amount": 5_000_000,
                        "uses": 200,
                        "spent_amount": 1_240_000,
                        "spent_uses": 41,
                        "amount_left": 3_760_000,
                        "uses_left": 159,
                        "exhausted": False,
                    },
                }
            ]
        }
    )

    id: int
    name: str
    kind: str
    status: str
    segment: str | None
    holdout: float
    schedule: str | None
    created_at: datetime
    started_at: datetime | None
    budget_amount: int | None
    budget_uses: int | None
    budget: CampaignBudgetOut


class CampaignListOut(Out):
    campaigns: list[CampaignOut] = Field(description="newest first, at most 100")


class GroupOut(Out):
    customers: int
    buyers: int = Field(description="ordered again after they were assigned")
    repeat_purchase_rate: float | None = Field(description="percent")
    revenue: int


class UpliftOut(Out):
    """Treatment's repeat-purchase rate minus the holdout's, in percentage points."""

    difference: float
    low: float = Field(description="95 % interval")
    high: float


class CampaignStatsOut(Out):
    campaign_id: int
    since: datetime
    until: datetime
    sent: int
    delivered: int
    redeemed: int
    redemption_rate: float | None = Field(description="percent of the codes delivered")
    repeat_purchase_rate: float | None = Field(description="percent")
    revenue: int
    discount_cost: int
    margin: int = Field(description="after discount")
    uplift: UpliftOut | None
    treatment: GroupOut
    holdout: GroupOut
    budget: CampaignBudgetOut
