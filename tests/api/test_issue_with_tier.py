"""POST /codes weighs a personal code with its customer's tier (issue 11): a top-tier
customer (12 % + free shipping) was issued an 18 % code, the whole margin. A business
refusal is 409 with the numbers; a shared code knows no tier."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

import tests.support.factories as factories
from bot.db import Database
from bot.db.models import PromoCode

# Net spend (minor units) for the default tiers: 50 000 ₽ → 8 %, 100 000 ₽ → 12 % + fs.
EIGHT, TOP = 5_000_000, 10_000_000


def percent_code(customer_id: str | None, value: int) -> dict[str, Any]:
    body: dict[str, Any] = {"discount_type": "percent", "value": value, "channel": "email"}
    if customer_id is not None:
        body["customer_id"] = customer_id
    return body


async def codes_stored(db: Database) -> int:
    async with db.read_session() as session:
        return await session.scalar(select(func.count()).select_from(PromoCode)) or 0


async def test_additive_refuses_tier_plus_code_above_the_ceiling(
    make_api: Callable[..., Any], db: Database, clock: Any
) -> None:
    await factories.customer(db, "vip", now=clock(), net_spend=TOP)
    await factories.customer(db, "eight", now=clock(), net_spend=EIGHT)
    async with make_api(stacking="additive") as api:
        status, body, _ = await api.post("/codes", percent_code("vip", 18))
        assert status == 409, body
        assert body["error"] == {
            "code": "guardrail",
            "message": "tier 12% + code 18% + free shipping 6% = 36% > ceiling 18%",
        }
        status, body, _ = await api.post("/codes", percent_code("eight", 11))
        assert (status, body["error"]["message"]) == (409, "tier 8% + code 11% = 19% > ceiling 18%")
        status, _, _ = await api.post("/codes", percent_code("eight", 10))  # 18 %: fits
        assert status == 201
        # A shared code is not anyone's: no tier is added.
        status, _, _ = await api.post("/codes", percent_code(None, 18))
        assert status == 201
    assert await codes_stored(db) == 2


async def test_exclusive_refuses_a_code_the_tier_already_beats(
    api: Any, db: Database, clock: Any
) -> None:
    await factories.customer(db, "vip", now=clock(), net_spend=TOP)
    await factories.customer(db, "eight", now=clock(), net_spend=EIGHT)
    # The case under the default policy: 18 % never beats 12 % + free shipping.
    status, body, _ = await api.post("/codes", percent_code("vip", 18))
    assert (status, body["error"]["code"]) == (409, "guardrail")
    assert body["error"]["message"].startswith(
        "the customer's tier already gives 12% + free shipping 6% = 18% >= code 18%"
    )
    status, body, _ = await api.post("/codes", percent_code("eight", 8))
    assert status == 409 and "already gives 8% >= code 8%" in body["error"]["message"]
    status, body, _ = await api.post("/codes", percent_code("eight", 10))
    assert status == 201 and body["value"] == 10
    assert await codes_stored(db) == 1
