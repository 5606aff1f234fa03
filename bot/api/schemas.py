"""Request and response bodies of the shop API, as pydantic models.

The same models parse requests, render responses and make the OpenAPI document
(`bot.api.openapi`), so the document cannot drift from what the server does.
Money is an integer in minor units; times are ISO 8601 with an offset.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bot.api import examples as ex
from bot.db.models import OrderStatus

Money = Annotated[int, Field(ge=0, le=10**15, description="minor units (kopecks)")]
ExternalId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]
CodeText = Annotated[str, Field(min_length=1, max_length=64)]
Name = Annotated[str, Field(min_length=1, max_length=100)]
MAX_ITEMS = 500
# The shopper's client, for the anti-guessing brake (`bot.api.ratelimit`).
ShopperId = Annotated[str, Field(min_length=1, max_length=128)]
SHOPPER_DESCRIPTION = (
    "the shopper's client as your checkout knows it, an opaque id such as a hash of the "
    "session: failed code checks are limited per customer and per client, so one "
    "shopper's guessing never holds back another (the header `X-Shopper-Ip`, the "
    "shopper's IP as your checkout saw it, counts the same way)")


class Body(BaseModel):
    """Requests: unknown fields are refused, types are not coerced (`"5"` is not 5)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ItemIn(Body):
    sku: ExternalId
    category: Annotated[str, Field(max_length=100)] | None = None
    price: Money
    quantity: Annotated[int, Field(ge=1, le=100_000)] = 1


class BasketIn(Body):
    total: Money
    items: Annotated[list[ItemIn], Field(max_length=MAX_ITEMS)] = []


class CustomerIn(Body):
    model_config = ConfigDict(json_schema_extra=ex.CUSTOMER_IN)

    name: Annotated[str, Field(max_length=200)] | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    locale: Annotated[str, Field(max_length=16)] | None = None
    timezone: Annotated[str, Field(max_length=64)] | None = None
    marketing_opt_in: bool | None = Field(
        None, description="the customer agreed to promotional messages; a new customer "
        "without it has not (false), an existing one keeps what they had")
    birthday: date | None = Field(
        None, description="`YYYY-MM-DD`: on that day (29 February: the 28th in other "
        "years) a customer who takes promotions gets a birthday code, once a year "
        "(PROMOBOT_BIRTHDAY_OFFER); only the day is used, the year is never shown")


class CustomerOut(Out):
    model_config = ConfigDict(json_schema_extra=ex.CUSTOMER_OUT)

    customer_id: str
    created: bool
    name: str | None
    phone: str | None
    email: str | None
    locale: str | None
    timezone: str | None
    marketing_opt_in: bool
    birthday: date | None


class OrderIn(Body):
    model_config = ConfigDict(json_schema_extra=ex.ORDER_IN)

    customer_id: ExternalId
    placed_at: AwareDatetime
    status: Literal[tuple(s.value for s in OrderStatus)]  # type: ignore[valid-type]
    total: Money
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = Field(
        None, description="ISO 4217; omitted, the shop's own (PROMOBOT_CURRENCY)")
    items: Annotated[list[ItemIn], Field(max_length=MAX_ITEMS)] | None = None
    promo_code: CodeText | None = None
    discount: Money | None = None
    returned_amount: Money | None = None
    delivered_at: AwareDatetime | None = None


class OrderOut(Out):
    model_config = ConfigDict(json_schema_extra=ex.ORDER_OUT)

    order_id: str
    customer_id: str
    status: str
    previous_status: str | None
    created: bool
    changed: bool
    released_uses: int
    revoked_codes: int
    orders_count: int
    net_spend: int


class LinkTokenIn(Body):
    model_config = ConfigDict(json_schema_extra=ex.LINK_TOKEN_IN)

    customer_id: ExternalId


class LinkTokenOut(Out):
    model_config = ConfigDict(json_schema_extra=ex.LINK_TOKEN_OUT)

    token: str
    url: str
    expires_at: datetime


class ValidateIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"code": "BACK-7K3M-Q9", "customer_id": "c-1024", "order_id": "o-5531",
         "order": ex.BASKET, "shopper": "sess-5f2c9a1e"},
    ]})

    code: CodeText
    customer_id: ExternalId
    order_id: ExternalId | None = Field(
        None, description="the order, when it may already hold a code (one code per order)")
    order: BasketIn
    shopper: ShopperId | None = Field(
        None, description=SHOPPER_DESCRIPTION, examples=["sess-5f2c9a1e"])


def _absent(value: object) -> bool:
    return value is None


class LineOut(Out):
    """A line of the order; the fields after `discount` appear only where they say
    something (a gift's line, a line early access opens)."""

    sku: str
    discount: int = Field(description="this line's share of `total_discount`, minor units")
    gift: bool | None = Field(None, exclude_if=_absent, description=(
        "true: a gift item the code adds, not a line you sent: add it to the order at "
        "`price` (0), `quantity` 1"))
    name: str | None = Field(None, exclude_if=_absent,
                             description="the gift's name as the shopper reads it")
    price: int | None = Field(None, exclude_if=_absent, description="the gift's price: 0")
    quantity: int | None = Field(None, exclude_if=_absent)
    early_access: bool | None = Field(None, exclude_if=_absent, description=(
        "true: the code opens this line's goods before their launch: sell it now"))


class EarlyAccessOut(Out):
    until: datetime = Field(description="the launch: before it only this code opens the goods")
    categories: list[str]
    skus: list[str]


class OrderDiscountOut(Out):
    """What the whole order gets: the code's part, the tier's part, their total, and the
    total spread over the order's lines to the kopeck (one entry per line sent, in order;
    empty when no lines were sent)."""

    discount: int = Field(description="the code's part, minor units")
    free_shipping: bool = Field(description="the order ships free (by the code or the tier)")
    tier_discount: int = Field(description="the loyalty tier's part, minor units")
    total_discount: int = Field(description="tier and code(s) together, within the ceiling")
    lines: list[LineOut] = Field(description=(
        "one per line sent, then one per gift item the order gets (`gift: true`)"))
    early_access: EarlyAccessOut | None = Field(None, description=(
        "the goods the code opens before their launch (an `early_access` code), else null"))


class ValidateOut(OrderDiscountOut):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"valid": True, "reason": "ok", "message": "Код применён: скидка 300 ₽.",
         **ex.DISCOUNT},
        {"valid": True, "reason": "ok",
         "message": "Код применён: дарим к заказу подарок — Кружка с логотипом. "
                    "Плюс по вашему уровню: скидка 150 ₽.", **ex.GIFT_DISCOUNT},
        {"valid": False, "reason": "tier_better",
         "message": "Ваш уровень даёт больше: 12 % и бесплатная доставка. Код останется у вас.",
         "discount": 0, "free_shipping": True, "tier_discount": 60000, "total_discount": 60000,
         "lines": [{"sku": "SNEAKER-42", "discount": 36000},
                   {"sku": "SOCKS-3", "discount": 24000}]},
    ]})

    valid: bool
    reason: str = Field(description="`ok` or why the code does not apply")
    message: str = Field(description="for the shopper, in their language")


class RedeemIn(Body):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"code": "BACK-7K3M-Q9", "customer_id": "c-1024", "order_id": "o-5531",
         "order": ex.BASKET, "shopper": "sess-5f2c9a1e"},
    ]})

    code: CodeText
    customer_id: ExternalId
    order_id: ExternalId
    order: BasketIn
    shopper: ShopperId | None = Field(
        None, description=SHOPPER_DESCRIPTION, examples=["sess-5f2c9a1e"])


class RedeemOut(OrderDiscountOut):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"redemption_id": 812, "message": "Код применён: скидка 300 ₽.", "replayed": False,
         **ex.DISCOUNT},
        {"redemption_id": 813, "message": "Код применён: дарим к заказу подарок — Кружка с "
         "логотипом. Плюс по вашему уровню: скидка 150 ₽.", "replayed": False,
         **ex.GIFT_DISCOUNT},
    ]})

    redemption_id: int
    message: str
    replayed: bool = Field(description="this order had already redeemed the code")


class ReleaseIn(Body):
    model_config = ConfigDict(json_schema_extra=ex.RELEASE_IN)

    code: CodeText
    order_id: ExternalId


class ReleaseOut(Out):
    model_config = ConfigDict(json_schema_extra=ex.RELEASE_OUT)

    released: int = Field(description="uses given back now (0 if there was none to give back)")


class GiftIn(Body):
    sku: ExternalId = Field(description="the item the shop adds to the order")
    name: Name = Field(description="its name as the shopper reads it")
    cost: Money = Field(description=(
        "its cost price, minor units: what it costs the shop, counted against the margin "
        "ceiling like a discount"))


class GiftOut(Out):
    sku: str
    name: str
    cost: int


class IssueIn(Body):
    model_config = ConfigDict(json_schema_extra=ex.ISSUE_IN)

    customer_id: ExternalId | None = Field(None, description="bind the code to this customer")
    channel: Literal["telegram", "email", "site"] = "site"
    discount_type: Literal["percent", "fixed", "free_shipping", "gift", "early_access"] = Field(
        description="`gift`: an item added at no charge (`gift`); `early_access`: the "
        "included categories and SKUs before `launch_at`, with `value` percent off them "
        "(0: access alone)")
    value: Annotated[int, Field(ge=0, le=10**12)] = 0
    gift: GiftIn | None = Field(None, description="the gift item: required for `gift`")
    launch_at: AwareDatetime | None = Field(None, description=(
        "`early_access`: when the goods go on sale to everyone; the code ends then"))
    free_shipping: bool = False
    min_order: Money = 0
    max_discount: Money | None = None
    include_categories: Annotated[list[Name], Field(max_length=100)] = []
    exclude_categories: Annotated[list[Name], Field(max_length=100)] = []
    include_skus: Annotated[list[ExternalId], Field(max_length=1000)] = []
    exclude_skus: Annotated[list[ExternalId], Field(max_length=1000)] = []
    valid_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    expires_at: AwareDatetime | None = None
    usage_limit: Annotated[int, Field(ge=1, le=10**9)] | None = 1
    per_customer_limit: Annotated[int, Field(ge=1, le=10**9)] | None = 1
    prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,12}$")] | None = None
    combinable: bool = Field(
        False, description="may share an order with other combinable codes (additive stacking)")
    campaign_id: Annotated[int, Field(ge=1, le=2**31 - 1)] | None = Field(
        None, description="count the code in this campaign's results (by channel)")


class CodeOut(Out):
    model_config = ConfigDict(json_schema_extra=ex.CODE_OUT)

    code: str
    customer_id: str | None = None
    channel: str
    discount_type: str
    value: int
    free_shipping: bool
    combinable: bool = False
    min_order: int
    expires_at: datetime | None
    valid_days: int | None
    usage_limit: int | None
    uses_left: int | None
    gift: GiftOut | None = None
    launch_at: datetime | None = None
    description: list[str] = Field(description="reward, conditions and deadline in plain words")


class TierOut(Out):
    level: int = Field(description="0 below the first tier")
    percent: int
    free_shipping: bool


class ProgressOut(Out):
    basis: Literal["spend", "orders"]
    value: int
    next_level: int | None
    next_percent: int | None
    left: int = Field(description="minor units or orders still needed; 0 at the top")
    progress: float = Field(ge=0, le=1)


class OffersOut(Out):
    model_config = ConfigDict(json_schema_extra=ex.OFFERS_OUT)

    customer_id: str
    locale: str
    tier: TierOut
    progress: ProgressOut
    active_codes: list[CodeOut]


class ReviewIn(Body):
    model_config = ConfigDict(json_schema_extra=ex.REVIEW_IN)

    order_id: ExternalId
    customer_id: ExternalId
    rating: Annotated[int, Field(ge=1, le=5)]
    has_photo: bool = False


class ReviewOut(Out):
    model_config = ConfigDict(json_schema_extra=ex.REVIEW_OUT)

    review_id: int
    created: bool = Field(description="false when the order's review was already recorded")
    rating: int
    has_photo: bool


class ActionIn(Body):
    model_config = ConfigDict(json_schema_extra=ex.ACTION_IN)

    customer_id: ExternalId
    action: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$", description=(
        "`app_install` or an action named in PROMOBOT_ACTION_REWARDS"))]
    ref: Annotated[str, Field(max_length=128, description=(
        "tells two occurrences of the action apart (a device id); each is paid once"))] = ""


class ActionOut(Out):
    model_config = ConfigDict(json_schema_extra=ex.ACTION_OUT)

    outcome: Literal["rewarded", "already", "capped", "no_room"] = Field(description=(
        "`already`: this (customer, action, ref) was paid before, the same code again; "
        "`capped`: the customer's monthly cap is reached; `no_room`: with their tier the "
        "offer would pass the margin ceiling"))
    code: str | None = None
    discount_type: str | None = None
    value: int | None = None
    free_shipping: bool = False
    valid_days: int | None = Field(None, description="counted from the message's delivery")


class CartIn(Body):
    model_config = ConfigDict(json_schema_extra=ex.CART_IN)

    customer_id: ExternalId
    cart_id: ExternalId
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=MAX_ITEMS)]


class CartOut(Out):
    model_config = ConfigDict(json_schema_extra=ex.CART_OUT)

    cart_id: str
    created: bool
    total: int


class HealthOut(Out):
    model_config = ConfigDict(json_schema_extra=ex.HEALTH_OUT)

    status: Literal["ok"]


class ErrorDetail(Out):
    code: str = Field(description="stable machine code, e.g. `invalid_body`, `not_yours`")
    message: str
    fields: list[str] | None = Field(None, description="paths of the offending fields")


class ErrorOut(Out):
    model_config = ConfigDict(json_schema_extra=ex.ERROR_OUT)

    error: ErrorDetail
