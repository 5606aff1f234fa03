"""The cabinet's page in a real browser (Debian's chromium, driven by Playwright): what a
shopper sees when Telegram opens it, and what they see when the launch data is forged.

The page runs offline: Telegram's own script is refused, as when telegram.org cannot be
reached, and the launch data comes in the URL fragment as Telegram puts it there.
`PROMOBOT_SCREENSHOTS=<dir>` keeps the screenshots the README shows.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient, TestServer
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from sqlalchemy import select

from bot.api.app import create_app
from bot.db.models import Customer, DiscountType, Redemption
from bot.promo.codes.offers import Offer
from tests.support import factories
from tests.support.api import Api
from tests.support.factories import TELEGRAM_BASE
from tests.support.managers import MANAGER, add_staff
from tests.support.webapp import launch_data

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
THEME = {"bg_color": "#ffffff", "text_color": "#000000", "hint_color": "#707579",
         "button_color": "#3390ec", "button_text_color": "#ffffff",
         "secondary_bg_color": "#f4f4f5"}

# What a phone shows a Mini App in (the screenshots the README shows).
PHONE: dict[str, Any] = {"viewport": {"width": 400, "height": 720}, "device_scale_factor": 2}


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert CHROMIUM, "the browser tests need chromium (apt-get install chromium)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM,
                                                    args=["--no-sandbox"])
        yield launched
        await launched.close()


async def _open(browser: Browser, cabinet: TestClient, init_data: str, *,
                context: BrowserContext | None = None, **options: Any) -> Page:
    page = await (context or await browser.new_context(**options)).new_page()
    await page.route("https://telegram.org/**", lambda route: route.abort())
    fragment = (f"tgWebAppData={quote(init_data, safe='')}&tgWebAppVersion=8.0"
                f"&tgWebAppPlatform=android&tgWebAppThemeParams={quote(json.dumps(THEME))}")
    await page.goto(str(cabinet.make_url("/webapp/")) + "#" + fragment)
    await page.wait_for_selector("#app[aria-busy=false]")
    return page


def _keep(page_shot: bytes, name: str) -> None:
    if where := os.environ.get("PROMOBOT_SCREENSHOTS"):
        Path(where, name).write_bytes(page_shot)


async def test_a_shopper_sees_codes_whose_qr_the_checkout_accepts(
    browser, cabinet, signed, settings, db, clock, tmp_path
) -> None:
    customer = await factories.linked_customer(db, now=clock(), net_spend=3_000_000)
    code = await factories.code(db, Offer(DiscountType.PERCENT, 10, min_order=200_000),
                                now=clock(), customer_id=customer.id)
    await factories.code(db, Offer(DiscountType.FIXED, 50_000), now=clock(),
                         customer_id=customer.id)
    page = await _open(browser, cabinet, signed(TELEGRAM_BASE + customer.id), **PHONE)
    values = await page.locator(".code .value").all_text_contents()
    assert code.code in values and len(values) == 2
    first = page.locator(".code", has_text=code.code)
    assert await first.locator(".lines li").all_text_contents() == [
        "скидка 10\u00a0%", "на заказ от 2\u00a0000\u00a0₽",
        "действует до 1 июл. 2026\u202fг., 15:00"]
    assert await page.locator("#tier-level").text_content() == (
        "⭐ Ваш уровень: 2 — скидка 5\u00a0% на каждый заказ")
    assert await page.locator("#tier-bar").get_attribute("aria-valuenow") == "33"
    # The QR as the page shows it, read by a barcode reader.
    shot = tmp_path / "qr.png"
    await first.locator(".qr").screenshot(path=shot)
    reader = await asyncio.create_subprocess_exec("zbarimg", "--raw", "-q", str(shot),
                                                  stdout=asyncio.subprocess.PIPE)
    decoded = (await reader.communicate())[0].decode().strip()
    assert decoded == code.code
    async with TestClient(TestServer(create_app(settings, db, clock=clock))) as client:
        status, verdict, _ = await Api(client).post("/codes/validate", {
            "code": decoded, "customer_id": customer.external_id,
            "order": {"total": 300_000, "items": []}})
    assert status == 200 and verdict["valid"] and verdict["discount"] == 30_000
    _keep(await page.screenshot(full_page=True), "webapp-codes.png")


async def test_an_english_shopper_reads_the_page_in_english(browser, cabinet, signed, db,
                                                            clock) -> None:
    customer = await factories.linked_customer(db, now=clock())
    await factories.code(db, now=clock(), customer_id=customer.id)
    page = await _open(browser, cabinet, signed(TELEGRAM_BASE + customer.id, language="en"))
    assert await page.locator("h1").text_content() == "My cabinet"
    assert await page.locator("#codes h2").text_content() == "My codes"
    assert await page.locator(".copy").text_content() == "Copy"
    assert await page.evaluate("document.documentElement.lang") == "en"


@pytest.mark.parametrize("launch", ["forged", "stale", "missing"])
async def test_launch_data_that_does_not_check_out_shows_no_data(
    browser, cabinet, signed, db, clock, settings, launch: str
) -> None:
    customer = await factories.linked_customer(db, now=clock())
    code = await factories.code(db, now=clock(), customer_id=customer.id)
    user = TELEGRAM_BASE + customer.id
    init_data = {
        "forged": launch_data("654321:NOT-OUR-TOKEN", user, signed_at=clock()),
        "stale": signed(user, signed_at=clock() - timedelta(
            seconds=settings.webapp.auth_max_age + 60)),
        "missing": "",
    }[launch]
    page = await _open(browser, cabinet, init_data, locale="ru-RU")
    assert await page.locator("#message").text_content() == (
        "Откройте эту страницу из бота в Telegram.")
    assert await page.locator("#codes").is_hidden()
    assert code.code not in await page.content()


async def test_an_unlinked_user_is_told_how_to_link(browser, cabinet, signed) -> None:
    page = await _open(browser, cabinet, signed(42), **PHONE)
    assert "привяжите аккаунт магазина" in await page.locator("#message").text_content()
    _keep(await page.screenshot(), "webapp-unlinked.png")


async def test_a_manager_scans_checks_and_redeems_at_the_till(browser, cabinet, signed, db,
                                                              clock) -> None:
    customer = await factories.linked_customer(db, now=clock())
    code = await factories.code(db, Offer(DiscountType.PERCENT, 10, min_order=200_000),
                                now=clock(), customer_id=customer.id)
    await add_staff(db, MANAGER, "manager")
    context = await browser.new_context(**PHONE)
    # Telegram's scanner, as its script gives it to the page: it reads the shopper's QR.
    await context.add_init_script(
        "window.Telegram = {WebApp: {initData: '', ready() {}, expand() {},"
        f" showScanQrPopup(params, callback) {{ callback({json.dumps(code.code)}); }}}}}};")
    page = await _open(browser, cabinet, signed(MANAGER, language="en"), context=context)
    await page.click("#till-scan")
    assert await page.input_value("#till-code") == code.code
    await page.fill("#till-amount", "3 000 ₽")
    await page.click("#till-check")
    assert await page.locator("#till-result").text_content() == (
        "Type the order amount as a number, e.g. 2500 or 2500.50.")
    await page.fill("#till-amount", "3 000")  # thousands spaced, as people type them
    await page.click("#till-check")
    await page.wait_for_selector("#till-redeem:not([disabled])")
    assert await page.locator("#till-result").text_content() == (
        "Code applied: ₽300 off your order. The shopper pays ₽2,700.")
    await page.click("#till-redeem")
    await page.wait_for_selector("#till-redeem[disabled]")
    await page.wait_for_function(
        "document.getElementById('till-result').textContent.startsWith('Code applied')")
    async with db.read_session() as session:
        [redemption] = (await session.scalars(select(Redemption))).all()
    assert (redemption.customer_id, redemption.discount) == (customer.id, 30_000)
    assert redemption.order_external_id.startswith("till-")


async def test_a_shopper_switches_the_cabinet_to_english_and_reads_the_terms(
    browser, cabinet, signed, db, clock
) -> None:
    customer = await factories.linked_customer(db, now=clock())
    page = await _open(browser, cabinet, signed(TELEGRAM_BASE + customer.id), **PHONE)
    assert await page.locator("#terms h2").text_content() == "Условия программы лояльности"
    async with page.expect_navigation():
        await page.select_option("#language", "en")
    await page.wait_for_selector("#app[aria-busy=false]")
    assert await page.locator("h1").text_content() == "My cabinet"
    assert "One promo code per order." in await page.locator("#terms").text_content()
    async with db.read_session() as session:
        assert (await session.get(Customer, customer.id)).locale == "en"
