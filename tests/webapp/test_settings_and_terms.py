"""The cabinet's settings (what `/settings` does in the chat) and its loyalty terms, which
are made from the shop's own settings."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.db.models import Customer, TelegramAccount
from bot.webapp.app import create_webapp
from tests.support import factories
from tests.support.factories import TELEGRAM_BASE


async def _post(cabinet: Any, init_data: str, body: Any) -> tuple[int, Any]:
    async with cabinet.post("/webapp/api/settings", json=body,
                            headers={"Authorization": f"tma {init_data}"}) as response:
        return response.status, await response.json()


async def _me(cabinet: Any, init_data: str) -> Any:
    async with cabinet.get("/webapp/api/me",
                           headers={"Authorization": f"tma {init_data}"}) as response:
        assert response.status == 200
        return await response.json()


async def test_a_shopper_sets_language_promotions_and_zone(cabinet, signed, db,
                                                          clock) -> None:
    customer = await factories.linked_customer(db, now=clock(), marketing_opt_in=True)
    user = signed(TELEGRAM_BASE + customer.id)
    before = (await _me(cabinet, user))["settings"]
    assert (before["locale"], before["promotions"], before["timezone"]) == (
        "ru", True, "Europe/Moscow")
    assert {"value": "Asia/Vladivostok", "label": "Владивосток (UTC+10)"} in before["zones"]
    assert await _post(cabinet, user, {"locale": "en", "promotions": False,
                                       "timezone": "Asia/Almaty"}) == (200, {"saved": True})
    me = await _me(cabinet, user)
    assert (me["locale"], me["labels"]["codes"]) == ("en", "My codes")
    assert (me["settings"]["promotions"], me["settings"]["timezone"]) == (False, "Asia/Almaty")
    async with db.read_session() as session:
        stored = await session.get(Customer, customer.id)
        account = await session.get(TelegramAccount, TELEGRAM_BASE + customer.id)
    assert (stored.locale, stored.marketing_opt_in, stored.timezone) == (
        "en", False, "Asia/Almaty")
    assert account.locale == "en"


async def test_bad_settings_change_nothing(cabinet, signed, db, clock) -> None:
    customer = await factories.linked_customer(db, now=clock(), marketing_opt_in=True)
    user = signed(TELEGRAM_BASE + customer.id, language="en")
    status, body = await _post(cabinet, user, {"timezone": "Mars/Olympus", "promotions": False})
    assert status == 422 and body["error"]["message"].startswith("I do not know this time zone")
    for bad in ({"locale": "de"}, {"promotions": "no"}, {"colour": "red"}, []):
        assert (await _post(cabinet, user, bad))[0] in (400, 422), bad
    stranger = signed(42, language="en")
    status, body = await _post(cabinet, stranger, {"promotions": False})
    assert status == 409 and body["error"]["message"] == "Link your shop account first."
    assert (await _post(cabinet, "forged", {"locale": "en"}))[0] == 401
    async with db.read_session() as session:
        assert (await session.get(Customer, customer.id)).marketing_opt_in is True


async def test_an_unlinked_user_chooses_only_the_language(cabinet, signed, db,
                                                          clock) -> None:
    """Even one who opened the cabinet before ever writing to the bot."""
    me = await _me(cabinet, signed(42))
    assert set(me["settings"]) == {"locale", "languages"}
    assert await _post(cabinet, signed(42), {"locale": "en"}) == (200, {"saved": True})
    assert (await _me(cabinet, signed(42)))["locale"] == "en"
    async with db.read_session() as session:
        assert (await session.get(TelegramAccount, 42)).locale == "en"


@pytest.mark.parametrize(("variables", "expected"), [
    ({}, ["Уровень 2: от 20\u00a0000\u00a0₽ покупок — скидка 5\u00a0% на каждый заказ",
          "Один промокод на заказ.", "Скидка на один заказ — не больше 18\u00a0% его суммы.",
          "Привяжите Telegram до первого заказа и получите приветственный код: скидка "
          "5\u00a0% на заказ от 2\u00a0000\u00a0₽.",
          "Установите наше приложение и получите код: скидка 5\u00a0%."]),
    ({"welcome_offer": "7+fs", "welcome_min_order": 300_000, "action_rewards": "newsletter:3"},
     ["Привяжите Telegram до первого заказа и получите приветственный код: скидка 7\u00a0% "
      "и бесплатная доставка на заказ от 3\u00a0000\u00a0₽."]),
    ({"tier_basis": "orders", "stacking": "additive", "guardrail_safety_share": 0.5,
      "guardrail_average_order_value": 500_000, "guardrail_net_profit_per_order": 100_000},
     ["Уровень 1: от 3 заказов — скидка 5\u00a0% на каждый заказ",
      "Скидка уровня суммируется с промокодом; несколько промокодов применяются вместе, "
      "только если каждый из них это допускает.",
      "Скидка на один заказ — не больше 10\u00a0% его суммы."]),
    ({"birthday_offer": "10+fs"},
     ["Каждый год в годовщину вашего первого заказа мы благодарим вас кодом: скидка 5\u00a0%.",
      "Если вы сообщили нам дату рождения, в этот день вы получите подарочный код: скидка "
      "10\u00a0% и бесплатная доставка.",
      "Коды к годовщине и ко дню рождения приходят рекламными сообщениями: если их "
      "отключить, они не придут."]),
])
async def test_the_terms_are_the_shops_own(settings, db, clock, signed, variables,
                                           expected) -> None:
    app = create_webapp(settings.replace(**variables) if variables else settings, db, clock)
    async with TestClient(TestServer(app)) as cabinet:
        me = await _me(cabinet, signed(42))
    lines = [line for section in me["terms"] for line in section["lines"]]
    for line in expected:
        assert line in lines, (line, lines)
