"""`/analyze` through the dispatcher and the fake Bot API: the base analysis as text with
the settings it suggests, and its chart; staff only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

import tests.support.factories as factories
import tests.support.updates as u
from tests.support.chat import Chat
from tests.support.managers import ANALYST, STRANGER, UploadingBotAPI, add_staff
from tests.support.shop import order


@pytest.fixture
async def api() -> AsyncIterator[UploadingBotAPI]:
    async with UploadingBotAPI() as server:
        yield server


async def test_analyze_for_staff(chat: Chat, db, clock, api, settings) -> None:
    await add_staff(db, ANALYST, "analyst")
    for n in range(4):
        customer = (await factories.customer(db, f"c{n}", now=clock())).id
        for k in range(n % 3 + 1):  # 1, 2, 3, 1 orders, 30 days apart
            await order(db, settings, f"o{n}-{k}", customer, now=clock(),
                        placed_at=clock() - timedelta(days=100 - 30 * k))
    await chat.feed(u.message(ANALYST, "/analyze", language_code="en"))
    text = api.calls("sendMessage")[-1].text
    assert text.startswith("<b>📊 Your customer base</b>\nCustomers with orders: 4\n")
    assert "Came back for a second order: 2 (50%)" in text
    assert "Between orders: median 30 days" in text
    assert "<code>PROMOBOT_COMEBACK_LADDER=35:10,40:12+fs</code>" in text
    (upload,) = api.uploads
    assert upload.method == "sendPhoto" and upload.content.startswith(b"\x89PNG")


async def test_analyze_is_not_for_shoppers(chat: Chat, api) -> None:
    await chat.feed(u.message(STRANGER, "/analyze", language_code="en"))
    assert "Customers with orders" not in " ".join(
        r.text or "" for r in api.calls("sendMessage"))
    assert not api.uploads
