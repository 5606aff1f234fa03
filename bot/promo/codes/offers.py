"""Offers: what a code gives and on which conditions, and the discount it makes on a basket.

An offer is "discount + condition": percent, fixed amount or free shipping, a minimum
order, and the goods it covers. The same `Offer` describes a code in the database, a
campaign variant in JSON and a manager's `/issue` request.

Two rewards are not discounts off the goods. A gift (`gift`) is an item the shop adds to
the order at no charge; its cost price (`gift_cost`) is what it costs the shop, and that
is what counts against the margin, as free shipping's cost does. Early access
(`early_access`) opens the included categories and SKUs before `launch_at`; by itself
it costs nothing, and a `value` adds that percent off the goods it opens. Neither takes
the order away from the loyalty tier under exclusive stacking (`extra_only`): they are
what the tier cannot give.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from bot.config.values import Rung
from bot.db.models import DiscountType, PromoCode

MAX_PERCENT = 100


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    price: int
    quantity: int = 1
    category: str | None = None

    @property
    def amount(self) -> int:
        return self.price * self.quantity


@dataclass(frozen=True, slots=True)
class Basket:
    """The order as checkout sees it: its total and, if known, its lines."""

    total: int
    items: tuple[Item, ...] = ()


@dataclass(frozen=True, slots=True)
class Offer:
    discount_type: DiscountType
    value: int = 0
    free_shipping: bool = False
    min_order: int = 0
    max_discount: int | None = None
    include_categories: tuple[str, ...] = ()
    exclude_categories: tuple[str, ...] = ()
    include_skus: tuple[str, ...] = ()
    exclude_skus: tuple[str, ...] = ()
    valid_days: int | None = None
    currency: str = "RUB"
    extra: Mapping[str, Any] = field(default_factory=dict)
    gift_sku: str | None = None
    gift_name: str | None = None
    gift_cost: int = 0
    launch_at: datetime | None = None

    def __post_init__(self) -> None:
        kind = DiscountType(self.discount_type)
        object.__setattr__(self, "discount_type", kind)
        if kind is DiscountType.PERCENT and not 0 < self.value <= MAX_PERCENT:
            raise ValueError("a percent discount is between 1 and 100")
        self._check_rewards(kind)
        if kind is DiscountType.FIXED and self.value <= 0:
            raise ValueError("a fixed discount is a positive amount")
        if kind is DiscountType.FREE_SHIPPING:
            object.__setattr__(self, "free_shipping", True)
            object.__setattr__(self, "value", 0)
        if self.min_order < 0:
            raise ValueError("the minimum order cannot be negative")
        if self.valid_days is not None and self.valid_days <= 0:
            raise ValueError("validity is at least one day")

    def _check_rewards(self, kind: DiscountType) -> None:
        """A gift's item and cost, early access's goods and launch: each only on its kind."""
        if kind is DiscountType.GIFT:
            if not self.gift_sku or not self.gift_name:
                raise ValueError("a gift names its item: its SKU and its name")
            if self.gift_cost < 0:
                raise ValueError("a gift's cost cannot be negative")
            if self.value or self.free_shipping:
                raise ValueError("a gift gives no discount of its own")
        elif self.gift_sku or self.gift_name or self.gift_cost:
            raise ValueError("only a gift names an item")
        if kind is DiscountType.EARLY_ACCESS:
            if self.launch_at is None:
                raise ValueError("early access needs the launch time")
            if not (self.include_categories or self.include_skus):
                raise ValueError("early access opens categories or SKUs: name them")
            if not 0 <= self.value <= MAX_PERCENT:
                raise ValueError("early access's percent is between 0 and 100")
        elif self.launch_at is not None:
            raise ValueError("only early access has a launch time")

    @property
    def extra_only(self) -> bool:
        """Gives nothing off the goods nor free shipping (a gift, bare early access): under
        exclusive stacking it joins the tier instead of competing with it."""
        return self.discount_type is DiscountType.GIFT or (
            self.discount_type is DiscountType.EARLY_ACCESS and not self.value
            and not self.free_shipping)

    @property
    def opens(self) -> bool:
        """Opens goods before their launch: applies even where the tier's discount wins."""
        return self.discount_type is DiscountType.EARLY_ACCESS

    @property
    def restricts_items(self) -> bool:
        return bool(
            self.include_categories
            or self.exclude_categories
            or self.include_skus
            or self.exclude_skus
        )

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["discount_type"] = str(self.discount_type)
        for key in ("include_categories", "exclude_categories", "include_skus", "exclude_skus"):
            data[key] = list(data[key])
        data["extra"] = dict(self.extra)
        # A gift's and early access's fields only where they say something: the JSON of
        # every other offer (campaigns, audit rows) stays as it was.
        for key in ("gift_sku", "gift_name", "launch_at"):
            if data[key] is None:
                del data[key]
        if not data["gift_cost"]:
            del data["gift_cost"]
        if self.launch_at is not None:
            data["launch_at"] = self.launch_at.isoformat()
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Offer:
        known = {name for name in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        for key in ("include_categories", "exclude_categories", "include_skus", "exclude_skus"):
            values[key] = tuple(values.get(key) or ())
        if isinstance(values.get("launch_at"), str):
            values["launch_at"] = datetime.fromisoformat(values["launch_at"])
        return cls(**values)

    @classmethod
    def of_code(cls, code: PromoCode) -> Offer:
        return cls(
            discount_type=DiscountType(code.discount_type),
            value=code.discount_value,
            free_shipping=code.free_shipping,
            min_order=code.min_order,
            max_discount=code.max_discount,
            include_categories=tuple(code.include_categories or ()),
            exclude_categories=tuple(code.exclude_categories or ()),
            include_skus=tuple(code.include_skus or ()),
            exclude_skus=tuple(code.exclude_skus or ()),
            valid_days=code.valid_days,
            currency=code.currency,
            gift_sku=code.gift_sku,
            gift_name=code.gift_name,
            gift_cost=code.gift_cost or 0,
            launch_at=code.launch_at,
        )

    def code_columns(self) -> dict[str, Any]:
        """The PromoCode columns this offer fills."""
        return {
            "discount_type": str(self.discount_type),
            "discount_value": self.value,
            "free_shipping": self.free_shipping,
            "min_order": self.min_order,
            "max_discount": self.max_discount,
            "include_categories": list(self.include_categories),
            "exclude_categories": list(self.exclude_categories),
            "include_skus": list(self.include_skus),
            "exclude_skus": list(self.exclude_skus),
            "valid_days": self.valid_days,
            "currency": self.currency,
            "gift_sku": self.gift_sku,
            "gift_name": self.gift_name,
            "gift_cost": self.gift_cost,
            "launch_at": self.launch_at,
        }


def _fold(values: Iterable[str]) -> frozenset[str]:
    return frozenset(v.casefold() for v in values)


def covers(offer: Offer, item: Item) -> bool:
    """Whether the offer's discount applies to this line."""
    sku = item.sku.casefold()
    category = (item.category or "").casefold()
    if sku in _fold(offer.exclude_skus) or (
        category and category in _fold(offer.exclude_categories)
    ):
        return False
    if offer.include_skus or offer.include_categories:
        return sku in _fold(offer.include_skus) or (
            bool(category) and category in _fold(offer.include_categories)
        )
    return True


@dataclass(frozen=True, slots=True)
class Calculation:
    eligible_amount: int
    discount: int
    free_shipping: bool
    excluded_items: tuple[str, ...]
    # What the gift item costs the shop (0 without one).
    gift_cost: int = 0


def calculate(offer: Offer, basket: Basket) -> Calculation:
    """The discount on a basket. Without lines, the whole total is eligible unless the
    offer restricts goods (then nothing can be shown to be eligible)."""
    excluded: list[str] = []
    if basket.items:
        eligible = 0
        for item in basket.items:
            if covers(offer, item):
                eligible += item.amount
            else:
                excluded.append(item.sku)
        eligible = min(eligible, basket.total)
    else:
        eligible = 0 if (offer.include_categories or offer.include_skus) else basket.total
    if offer.discount_type in (DiscountType.PERCENT, DiscountType.EARLY_ACCESS):
        discount = eligible * offer.value // 100
    elif offer.discount_type is DiscountType.FIXED:
        discount = min(offer.value, eligible)
    else:
        discount = 0
    if offer.max_discount is not None:
        discount = min(discount, offer.max_discount)
    return Calculation(eligible, discount, offer.free_shipping, tuple(excluded), offer.gift_cost)


def basket_from_json(total: int, items: Sequence[Mapping[str, Any]] | None) -> Basket:
    return Basket(
        total=total,
        items=tuple(
            Item(
                sku=str(i["sku"]),
                price=int(i["price"]),
                quantity=int(i.get("quantity", 1)),
                category=i.get("category"),
            )
            for i in items or ()
        ),
    )


def rung_offer(rung: Rung, *, min_order: int, valid_days: int, currency: str) -> Offer:
    """An offer written as the settings write one (`percent[+fs]`: a comeback step, the
    welcome offer, an action's reward)."""
    kind = DiscountType.PERCENT if rung.percent else DiscountType.FREE_SHIPPING
    return Offer(kind, value=rung.percent, free_shipping=rung.free_shipping,
                 min_order=min_order, valid_days=valid_days, currency=currency)
