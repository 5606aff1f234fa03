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
_BUDGET = {"budget": {"amount": 5_000_000, "uses": 200}}


class SurveyAnswerIn(Body):
    """Only the customers who chose this option of a survey."""

    survey_id: Annotated[int, Field(ge=1, le=2**31 - 1)]
    option: Annotated[int, Field(ge=0, le=9, description="the option's index, from 0")]


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


class CampaignBudgetIn(Body):
    """What the campaign's codes may take at the checkout in all. In a PATCH only the
    fields given change; `null` removes that budget."""

    amount: BudgetAmount | None = Field(
        None, description="money budget (discount in all, minor units); null: none"
    )
    uses: BudgetUses | None = Field(None, description="uses budget; null: none")


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
    kind: Literal["broadcast", "comeback", "review", "cart", "new_category"] = Field(
        "broadcast", description="`new_category`: each customer of the segment gets the offer "
        "limited to a category they never bought, the one customers like them buy next"
    )
    segment: Literal[tuple(SEGMENTS)] | None = Field(  # type: ignore[valid-type]
        None, description="whom a broadcast or a new_category campaign goes to (they need one)"
    )
    survey_answer: SurveyAnswerIn | None = Field(
        None, description="narrows the segment to those who chose an option of a survey"
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
    optimise: bool = Field(
        False, description="new recipients move towards the variant with the most margin per "
                           "recipient (Thompson sampling); needs two variants or more"
    )
    schedule: (
        Annotated[str, Field(pattern=_CRONTAB, description="crontab, the shop's time zone")] | None
    ) = None
    texts: CampaignTextsIn | None = None
    budget: CampaignBudgetIn | None = None


class CampaignPatchIn(Body):
    """Only the fields given change; in `budget`, `null` removes that budget. `action` changes the
    campaign's state: `start` (a draft) and `resume` (a paused one) also run it now, in
    the background, as the bot's buttons do; `pause` holds its queued messages, `stop`
    cancels them and revokes their unused codes. An action its state does not allow is
    409 `bad_transition`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"action": "start"}, {"action": "pause"}, _BUDGET, {"budget": {"uses": None}}
            ]
        }
    )

    action: Literal["start", "pause", "resume", "stop"] | None = Field(
        None, description="start (draft), pause (active), resume (paused), stop (not stopped)"
    )
    budget: CampaignBudgetIn | None = None


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
    optimise: bool = False
    schedule: str | None
    created_at: datetime
    started_at: datetime | None
    budget: CampaignBudgetOut


class CampaignListOut(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"campaigns": CampaignOut.model_config["json_schema_extra"]["examples"]},  # type: ignore[index]
    ]})

    campaigns: list[CampaignOut] = Field(description="newest first, at most 100")


class GroupOut(Out):
    """One group's figures over the campaign's window: its own customers and codes only."""

    customers: int = Field(description="the audience: customers assigned to the group")
    buyers: int = Field(description="ordered again after they were assigned")
    repeat_purchase_rate: float | None = Field(description="percent: buyers / audience")
    revenue: int = Field(description="their orders after assignment, net of returns")
    audience: int = 0
    delivered: int = Field(
        0, description="customers the offer reached (Telegram, the shop's channel, or a use)"
    )
    redeemed: int = Field(0, description="customers who used a code of the campaign")
    uses: int = 0
    redemption_rate: float | None = Field(None, description="percent: redeemed / delivered")
    discount_cost: int = Field(0, description="the uses' discount plus free shipping's cost")
    margin: int = Field(0, description="revenue × the shop's margin rate − discount cost")


class UpliftOut(Out):
    """Treatment's repeat-purchase rate minus the holdout's, in percentage points."""

    difference: float
    low: float = Field(description="always-valid 95 % interval: true at every look")
    high: float


class MoneyIntervalOut(Out):
    """An amount in minor units with its always-valid 95 % interval."""

    amount: int
    low: int
    high: int


class VariantStatsOut(GroupOut):
    name: str = Field(description="the variant's name; `offer`: the campaign's own offer")
    variant_id: int | None
    offer_percent: float | None = Field(
        description="the offer's share of an order in percent, free shipping at its cost"
    )
    uplift: UpliftOut | None = Field(description="vs the holdout, percentage points")
    incremental_revenue: MoneyIntervalOut | None = Field(
        description="revenue beyond the holdout's for the variant's whole audience"
    )
    incremental_margin: MoneyIntervalOut | None = Field(
        description="margin after the discount's cost beyond the holdout's, for the "
                    "variant's whole audience"
    )
    pays: bool = Field(description="the incremental margin's interval lies above zero")


class SampleRatioOut(Out):
    """The groups' sizes against the split (chi-square test): `off` means customers are
    lost or moved between groups, and the comparison cannot be trusted."""

    off: bool
    p_value: float
    observed: list[int] = Field(description="holdout and treated, or the variants")
    expected: list[float]


class OptimiserVariantOut(Out):
    name: str
    measured: int = Field(description="recipients so far")
    margin_per_recipient: int | None = Field(
        description="margin after discount per recipient over the window, minor units")
    best_chance: float | None = Field(
        description="percent: the chance that this variant earns the most; null while learning")
    share: float = Field(description="percent of the new treated recipients it gets now")


class OptimiserOut(Out):
    """An optimised campaign (`optimise`): where new recipients go now, and why."""

    window_days: int
    learning: bool = Field(description="the split stays even until each variant is measured")
    leader: str | None = Field(description="the variant most likely to earn the most")
    variants: list[OptimiserVariantOut]


class ChannelStatsOut(Out):
    channel: str = Field(description="telegram, email or site")
    variant: str | None
    codes: int
    redeemed: int = Field(description="customers")
    uses: int
    revenue: int = Field(description="totals of the orders the codes were used on")
    discount_cost: int


_GROUP = {
    "customers": 450, "audience": 450, "delivered": 431, "redeemed": 97, "uses": 99,
    "redemption_rate": 22.51, "buyers": 121, "repeat_purchase_rate": 26.89,
    "revenue": 59_300_000, "discount_cost": 2_910_000, "margin": 14_880_000,
}
_HOLDOUT = {
    "customers": 100, "audience": 100, "delivered": 0, "redeemed": 0, "uses": 0,
    "redemption_rate": None, "buyers": 15, "repeat_purchase_rate": 15.0,
    "revenue": 6_800_000, "discount_cost": 0, "margin": 2_040_000,
}
_STATS_EXAMPLE = {
    "campaign_id": 3, "since": "2026-03-01T09:00:00Z", "until": "2026-03-31T09:00:00Z",
    "sent": 440, "delivered": 431, "redeemed": 97, "redemption_rate": 22.51,
    "repeat_purchase_rate": 26.89, "revenue": 59_300_000, "discount_cost": 2_910_000,
    "margin": 14_880_000, "uplift": {"difference": 11.89, "low": 3.9, "high": 19.88},
    "treatment": _GROUP, "holdout": _HOLDOUT,
    "variants": [{
        **_GROUP, "name": "A", "variant_id": 7, "offer_percent": 5.0,
        "uplift": {"difference": 11.89, "low": 3.9, "high": 19.88},
        "incremental_revenue": {"amount": 18_900_000, "low": 3_100_000, "high": 34_700_000},
        "incremental_margin": {"amount": 5_700_000, "low": 1_100_000, "high": 10_300_000},
        "pays": True,
    }],
    "sample_ratio": {"off": False, "p_value": 0.62, "observed": [100, 450],
                     "expected": [110.0, 440.0]},
    "smallest_paying_variant": "A",
    "channels": [{"channel": "telegram", "variant": "A", "codes": 431, "redeemed": 97,
                  "uses": 99, "revenue": 39_600_000, "discount_cost": 2_910_000}],
    "budget": {"amount": 5_000_000, "uses": 200, "spent_amount": 2_910_000, "spent_uses": 99,
               "amount_left": 2_090_000, "uses_left": 101, "exhausted": False},
}


class CampaignStatsOut(Out):
    """Since the campaign was created. The top-level figures are the treated customers (all
    variants together), kept for clients of the first version; `variants` and `holdout`
    carry the same figures per group."""

    model_config = ConfigDict(json_schema_extra={"examples": [_STATS_EXAMPLE]})

    campaign_id: int
    since: datetime
    until: datetime
    sent: int = Field(description="messages that left the outbox")
    delivered: int = Field(description="messages Telegram accepted")
    redeemed: int = Field(description="treated customers who used a code")
    redemption_rate: float | None = Field(description="percent of the customers reached")
    repeat_purchase_rate: float | None = Field(description="percent")
    revenue: int
    discount_cost: int
    margin: int = Field(description="after discount")
    uplift: UpliftOut | None
    treatment: GroupOut
    holdout: GroupOut
    variants: list[VariantStatsOut] = Field(default_factory=list)
    smallest_paying_variant: str | None = Field(
        None, description="the smallest offer whose incremental margin is proven above zero"
    )
    sample_ratio: SampleRatioOut | None = Field(
        None, description="the split's check; none before both groups have customers"
    )
    optimiser: OptimiserOut | None = Field(None, description="an optimised campaign's split")
    channels: list[ChannelStatsOut] = Field(
        default_factory=list, description="the campaign's codes by variant and channel"
    )
    budget: CampaignBudgetOut
