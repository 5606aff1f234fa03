"""`GET /webapp/api/me`: the cabinet's data for whoever Telegram says opened it, and for
nobody else."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import update

from bot.db.models import CodeStatus, Customer, DiscountType, PromoCode
from bot.promo.codes.offers import Basket, Offer
from bot.promo.shop.order_effects import REVOKE_REASON_RETURNED
from bot.webapp.app import create_webapp
from tests.support import factories
from tests.support.checkout import redeem
from tests.support.factories import TELEGRAM_BASE
from tests.support.webapp import launch_data


async def _me(cabinet: Any, init_data: str | None, **headers: str) -> tuple[int, Any]:
    if init_data is not None:
        headers["Authorization"] = f"tma {init_data}"
    async with cabinet.get("/webapp/api/me", headers=headers) as response:
        return response.status, await response.json()


async def test_a_linked_shopper_sees_their_codes_and_tier(cabinet, signed, db, clock) -> None:
    customer = await factories.linked_customer(db, now=clock(), net_spend=3_000_000)
    code = await factories.code(db, Offer(DiscountType.PERCENT, 10, min_order=200_000),
                                now=clock(), customer_id=customer.id)
    other = await factories.customer(db, "c-2", now=clock())
    await factories.code(db, now=clock(), customer_id=other.id)  # not theirs
    status, me = await _me(cabinet, signed(TELEGRAM_BASE + customer.id))
    assert status == 200 and me["linked"] and me["locale"] == "ru"
    assert [c["code"] for c in me["codes"]] == [code.code]
    assert me["codes"][0]["lines"] == [
        "скидка 10\u00a0%", "на заказ от 2\u00a0000\u00a0₽",
        "действует до 1 июл. 2026\u202fг., 15:00"]
    assert me["codes"][0]["qr"].startswith("data:image/svg+xml")
    # 30 000 ₽ spent: level 2 (5 %), 20 000 ₽ more to level 3.
    assert me["tier"]["level"] == "⭐ Ваш уровень: 2 — скидка 5\u00a0% на каждый заказ"
    assert me["tier"]["next"] == (
        "Ещё 20\u00a0000\u00a0₽ до уровня 3: скидка 8\u00a0% на каждый заказ")
    assert me["tier"]["progress"] == pytest.approx(1 / 3)


async def test_the_cabinet_speaks_the_shoppers_language(cabinet, signed, db, clock) -> None:
    customer = await factories.linked_customer(db, now=clock())
    await factories.code(db, now=clock(), customer_id=customer.id)
    status, me = await _me(cabinet, signed(TELEGRAM_BASE + customer.id, language="en"))
    assert status == 200 and me["locale"] == "en"
    assert me["labels"]["codes"] == "My codes"
    assert me["codes"][0]["lines"][0].startswith("10% off")


async def test_an_unlinked_user_is_told_how_to_link(cabinet, signed) -> None:
    status, me = await _me(cabinet, signed(42))
    assert status == 200 and me["linked"] is False and "codes" not in me
    assert "привяжите" in me["how_to_link"]


@pytest.mark.parametrize("forge", ["other token", "tampered", "stale", "future", "missing",
                                   "other scheme", "garbage"])
async def test_launch_data_that_does_not_check_out_gets_no_data(
    cabinet, signed, db, clock, settings, forge: str
) -> None:
    customer = await factories.linked_customer(db, now=clock())
    await factories.code(db, now=clock(), customer_id=customer.id)
    user = TELEGRAM_BASE + customer.id
    headers = {}
    init_data: str | None = {
        "other token": launch_data("654321:OTHER", user, signed_at=clock()),
        "tampered": signed(user).replace(str(user), str(user + 1)),
        "stale": signed(user, signed_at=clock() - timedelta(
            seconds=settings.webapp.auth_max_age + 1)),
        "future": signed(user, signed_at=clock() + timedelta(hours=1)),
        "missing": None,
        "other scheme": None,
        "garbage": "%%%not=launch&data",
    }[forge]
    if forge == "other scheme":
        headers["Authorization"] = "Bearer " + signed(user)
    status, body = await _me(cabinet, init_data, **headers, **{"Accept-Language": "en-GB"})
    assert status == 401 and set(body) == {"error"} and body["error"]["code"] == "unauthorized"
    assert body["error"]["message"] == "Open this page from the bot in Telegram."


async def test_without_a_bot_token_nobody_gets_in(settings, db, clock) -> None:
    """No token, no signature to check: launch data signed with an empty key (which anyone
    can make) must not pass."""
    bare = settings.replace(bot_token=None)
    async with TestClient(TestServer(create_webapp(bare, db, clock))) as cabinet:
        status, _ = await _me(cabinet, launch_data("", 42, signed_at=clock()))
    assert status == 401


async def test_a_token_pasted_with_a_newline_still_checks_signatures(settings, db,
                                                                    clock) -> None:
    token = settings.telegram.token.get_secret_value()
    padded = settings.replace(bot_token=f" {token}\n")
    async with TestClient(TestServer(create_webapp(padded, db, clock))) as cabinet:
        status, me = await _me(cabinet, launch_data(token, 42, signed_at=clock()))
    assert status == 200 and me["linked"] is False


async def test_launch_data_just_inside_its_age_is_accepted(cabinet, signed, db, clock,
                                                           settings) -> None:
    customer = await factories.linked_customer(db, now=clock())
    age = timedelta(seconds=settings.webapp.auth_max_age - 1)
    status, me = await _me(cabinet, signed(TELEGRAM_BASE + customer.id,
                                           signed_at=clock() - age))
    assert status == 200 and me["linked"]


async def test_the_rewards_history_says_what_became_of_each_code(cabinet, signed, db,
                                                                 clock) -> None:
    customer = await factories.linked_customer(db, now=clock())
    expired = await factories.code(db, now=clock() - timedelta(days=60), source="review",
                                   customer_id=customer.id)
    clock.advance(days=1)
    used = await factories.code(db, now=clock(), source="comeback", customer_id=customer.id)
    await redeem(db.hot, used.code, customer_id=customer.id, order_external_id="o1",
                 basket=Basket(500_000), now=clock())
    clock.advance(days=1)
    revoked = await factories.code(db, now=clock(), source="referral", customer_id=customer.id)
    async with db.session() as session:
        await session.execute(update(PromoCode).where(PromoCode.id == revoked.id).values(
            status=CodeStatus.REVOKED, revoked_at=clock(), revoke_reason=REVOKE_REASON_RETURNED))
        await session.commit()
    # A reward spent before its order was returned was spent.
    spent = await factories.code(db, now=clock(), source="review", customer_id=customer.id)
    await redeem(db.hot, spent.code, customer_id=customer.id, order_external_id="o2",
                 basket=Basket(500_000), now=clock())
    async with db.session() as session:
        await session.execute(update(PromoCode).where(PromoCode.id == spent.id).values(
            status=CodeStatus.REVOKED, revoked_at=clock(), revoke_reason=REVOKE_REASON_RETURNED))
        await session.commit()
    clock.advance(days=1)
    active = await factories.code(db, now=clock(), customer_id=customer.id)
    upcoming = await factories.code(db, now=clock(), customer_id=customer.id,
                                    starts_at=clock() + timedelta(days=3))
    # Not delivered yet: it does not work, and is not shown.
    await factories.code(db, now=clock(), customer_id=customer.id, expires_on_delivery=True)
    status, me = await _me(cabinet, signed(TELEGRAM_BASE + customer.id))
    assert status == 200
    assert [(e["code"], e["fate"]) for e in me["history"]] == [
        (upcoming.code, "upcoming"), (active.code, "active"), (spent.code, "used"),
        (revoked.code, "revoked"), (used.code, "used"), (expired.code, "expired")]
    words = {e["code"]: (e["given_for"], e["what_became"]) for e in me["history"]}
    assert words[active.code] == ("от магазина", "действует до 4 июля 2026\u202fг.")
    assert words[revoked.code] == (
        "за приглашённого друга",
        "отменён 3 июня 2026\u202fг.: заказ, за который он был начислен, возвращён")
    assert words[used.code] == ("с возвращением", "использован 2 июня 2026\u202fг.")
    assert words[expired.code] == ("за отзыв", "истёк 2 мая 2026\u202fг.")
    assert words[upcoming.code][1] == "действует с 7 июня 2026\u202fг."
    assert words[spent.code][1] == "использован 3 июня 2026\u202fг."


async def test_the_invitation_link_is_the_shoppers_own(cabinet, signed, db, clock,
                                                       settings) -> None:
    customer = await factories.linked_customer(db, now=clock())
    first = (await _me(cabinet, signed(TELEGRAM_BASE + customer.id)))[1]["invite"]
    again = (await _me(cabinet, signed(TELEGRAM_BASE + customer.id)))[1]["invite"]
    assert first == again
    async with db.read_session() as session:
        code = (await session.get(Customer, customer.id)).referral_code
    assert first["link"] == f"https://t.me/{settings.telegram.link_username}?start=ref_{code}"
    assert first["share_url"].startswith("https://t.me/share/url?url=https%3A%2F%2Ft.me%2F")
    assert first["counts"] == "Пришло друзей: 0 · Получено наград: 0"
