"""The cabinet lists a gift item and early access in the shopper's words, in ru and en, and
its history says what each was."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.db.models import DiscountType
from bot.promo.codes.offers import Offer
from tests.support import factories
from tests.support.factories import TELEGRAM_BASE
from tests.webapp.test_me import _me

MUG = Offer(DiscountType.GIFT, gift_sku="MUG-01", gift_name="Кружка с логотипом",
            gift_cost=25_000, min_order=300_000)


async def test_the_cabinet_lists_a_gift_and_early_access(cabinet, signed, db, clock) -> None:
    customer = await factories.linked_customer(db, now=clock())
    gift = await factories.code(db, MUG, now=clock(), customer_id=customer.id)
    early = await factories.code(db, Offer(
        DiscountType.EARLY_ACCESS, include_categories=("Весна",),
        launch_at=clock() + timedelta(days=10)), now=clock(), customer_id=customer.id)
    status, me = await _me(cabinet, signed(TELEGRAM_BASE + customer.id))
    assert status == 200
    lines: dict[str, Any] = {code["code"]: code["lines"] for code in me["codes"]}
    assert lines[early.code] == ["ранний доступ: Весна — до 11 июн. 2026\u202fг., 15:00",
                                 "действует до 11 июн. 2026\u202fг., 15:00"]
    assert lines[gift.code] == ["подарок: Кружка с логотипом", "на заказ от 3\u00a0000\u00a0₽",
                                "действует до 1 июл. 2026\u202fг., 15:00"]
    assert {entry["reward"] for entry in me["history"]} >= {
        "подарок: Кружка с логотипом", "ранний доступ: Весна — до 11 июн. 2026\u202fг., 15:00"}
    status, me = await _me(cabinet, signed(TELEGRAM_BASE + customer.id, language="en"))
    assert [code["lines"][0] for code in me["codes"]] == [
        "early access to Весна until Jun 11, 2026, 3:00\u202fPM", "gift: Кружка с логотипом"]
