"""Examples of the shop API's bodies, for the OpenAPI document (`json_schema_extra` of
the models in `bot.api.schemas`): one shop's story, so that the examples agree with each
other (customer `c-1024`, order `o-5531`, code `BACK-7K3M-Q9`). A test validates each
example against its model, so they cannot drift from what the server accepts.
"""

from __future__ import annotations

from typing import Any


def examples(*bodies: dict[str, Any]) -> dict[str, Any]:
    """`json_schema_extra` of a model: these bodies as its examples."""
    return {"examples": list(bodies)}


BASKET = {"total": 500000, "items": [
    {"sku": "SNEAKER-42", "category": "Shoes", "price": 300000, "quantity": 1},
    {"sku": "SOCKS-3", "category": "Sale", "price": 100000, "quantity": 2},
]}
GIFT_DISCOUNT = {
    "discount": 0, "free_shipping": False, "tier_discount": 15000, "total_discount": 15000,
    "lines": [{"sku": "SNEAKER-42", "discount": 9000}, {"sku": "SOCKS-3", "discount": 6000},
              {"sku": "MUG-01", "discount": 0, "gift": True, "name": "Кружка с логотипом",
               "price": 0, "quantity": 1}],
    "early_access": None,
}
DISCOUNT = {
    "discount": 30000, "free_shipping": False, "tier_discount": 0, "total_discount": 30000,
    "lines": [{"sku": "SNEAKER-42", "discount": 30000}, {"sku": "SOCKS-3", "discount": 0}],
}
_PROFILE = {"name": "Анна Смирнова", "phone": "+79161234567", "email": "anna@example.com",
            "locale": "ru", "timezone": "Europe/Moscow"}

CUSTOMER_IN = examples(
    {**_PROFILE, "marketing_opt_in": True, "birthday": "1990-03-12"},
    {"email": "anna.s@example.com"},
)
CUSTOMER_OUT = examples(
    {"customer_id": "c-1024", "created": True, **_PROFILE, "marketing_opt_in": True,
     "birthday": "1990-03-12"},
)
ORDER_IN = examples(
    {"customer_id": "c-1024", "placed_at": "2026-05-30T10:00:00+03:00", "status": "paid",
     "total": 470000, "items": BASKET["items"], "promo_code": "BACK-7K3M-Q9",
     "discount": 30000},
    {"customer_id": "c-1024", "placed_at": "2026-05-30T10:00:00+03:00",
     "status": "partially_returned", "total": 470000, "currency": "RUB",
     "returned_amount": 90000, "delivered_at": "2026-06-02T15:30:00+03:00"},
)
ORDER_OUT = examples(
    {"order_id": "o-5531", "customer_id": "c-1024", "status": "paid", "previous_status": None,
     "created": True, "changed": True, "released_uses": 0, "revoked_codes": 0,
     "orders_count": 4, "net_spend": 1730000},
)
LINK_TOKEN_IN = examples({"customer_id": "c-1024"})
LINK_TOKEN_OUT = examples(
    {"token": "q3Vb0c1Jx8mZ4tYw7RkP2nLs5dHf9gEa6uTi0oWy1Xc",
     "url": "https://t.me/shoes_bot?start=link_q3Vb0c1Jx8mZ4tYw7RkP2nLs5dHf9gEa6uTi0oWy1Xc",
     "expires_at": "2026-05-31T07:00:00Z"},
)
RELEASE_IN = examples({"code": "BACK-7K3M-Q9", "order_id": "o-5531"})
RELEASE_OUT = examples({"released": 1})
ISSUE_IN = examples(
    {"customer_id": "c-1024", "channel": "email", "discount_type": "percent", "value": 10,
     "min_order": 300000, "exclude_categories": ["Sale"], "valid_days": 30},
    {"channel": "site", "discount_type": "fixed", "value": 50000, "min_order": 500000,
     "usage_limit": 1000, "per_customer_limit": 1, "prefix": "SPRING",
     "expires_at": "2026-06-30T23:59:00+03:00"},
    {"customer_id": "c-1024", "channel": "telegram", "discount_type": "gift",
     "gift": {"sku": "MUG-01", "name": "Кружка с логотипом", "cost": 25000},
     "min_order": 300000, "valid_days": 30},
    {"customer_id": "c-1024", "channel": "telegram", "discount_type": "early_access",
     "value": 10, "include_categories": ["Весна-2027"],
     "launch_at": "2027-03-01T10:00:00+03:00"},
)
_CODE = {"code": "BACK-7K3M-Q9", "customer_id": "c-1024", "channel": "email",
         "discount_type": "percent", "value": 10, "free_shipping": False, "combinable": False,
         "min_order": 300000, "expires_at": "2026-06-29T07:00:00Z", "valid_days": 30,
         "usage_limit": 1, "uses_left": 1,
         "description": ["Скидка 10 %", "на заказ от 3 000 ₽, кроме категории Sale",
                         "до 29 июня 2026 г."]}
CODE_OUT = examples(_CODE)
OFFERS_OUT = examples(
    {"customer_id": "c-1024", "locale": "ru",
     "tier": {"level": 1, "percent": 3, "free_shipping": False},
     "progress": {"basis": "spend", "value": 1730000, "next_level": 2, "next_percent": 5,
                  "left": 270000, "progress": 0.865},
     "active_codes": [_CODE]},
)
REVIEW_IN = examples({"order_id": "o-5531", "customer_id": "c-1024", "rating": 5,
                      "has_photo": True})
REVIEW_OUT = examples({"review_id": 77, "created": True, "rating": 5, "has_photo": True})
CART_IN = examples({"customer_id": "c-1024", "cart_id": "cart-889", "items": BASKET["items"]})
CART_OUT = examples({"cart_id": "cart-889", "created": True, "total": 500000})
ACTION_IN = examples({"customer_id": "c-1024", "action": "app_install", "ref": "device-7f3a"})
ACTION_OUT = examples({"outcome": "rewarded", "code": "K7M2QX9P4T", "discount_type": "percent",
                       "value": 5, "free_shipping": False, "valid_days": 30})
HEALTH_OUT = examples({"status": "ok"})
ERROR_OUT = examples(
    {"error": {"code": "invalid_body", "message": "total: Input should be a valid integer",
               "fields": ["total"]}},
    {"error": {"code": "guardrail", "message": "15 % is above the margin ceiling of 12 %"}},
)
