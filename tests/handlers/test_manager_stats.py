"""`/stats <campaign>` through the dispatcher and the fake Bot API: per variant and for the
holdout, each figure worked out by hand from the seeded history (`tests.support.results`),
no rate above 100 %; the shop-wide summary; the chart and the `/export` CSV."""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

import tests.support.factories as factories
import tests.support.updates as u
from bot.db.models import CodeSource, Delivery, Order, Redemption
from bot.i18n import format_money
from tests.support.chat import Chat
from tests.support.managers import ANALYST, UploadingBotAPI, add_staff
from tests.support.results import always_valid, seed, seed_clear_winner

# An order of 5 000 ₽ earns 1 500 ₽ (net profit 1 500 ₽ / average order 5 000 ₽ = 0.3).
EARNS = 150_000
# Per customer: revenue × 0.3 − what their uses cost the shop (minor units).
HOLDOUT = [EARNS, (500_000 - 100_000) * 3 // 10] + [0] * 8  # h1 returned 1 000 ₽
A = [EARNS - 25_000] * 6 + [EARNS] + [0] * 3  # a6 paid full price; a7 cancelled
B = [EARNS - 80_000] + [EARNS - 50_000] * 4 + [EARNS - 50_000] + [0] * 4  # b0 free shipping


def incremental(variant: list[int], holdout: list[int]) -> tuple[float, float, float]:
    """Difference of mean margin per customer, times the variant's audience, with its
    always-valid 95 % interval: computed here from the lists."""
    def mean_var(xs: list[int]) -> tuple[float, float]:
        m = sum(xs) / len(xs)
        return m, sum((x - m) ** 2 for x in xs) / len(xs)

    (m1, v1), (m0, v0) = mean_var(variant), mean_var(holdout)
    se = math.sqrt(v1 / len(variant) + v0 / len(holdout))
    half, n = always_valid(se, len(variant) + len(holdout)), len(variant)
    return (m1 - m0) * n, (m1 - m0 - half) * n, (m1 - m0 + half) * n


def money(minor: int) -> str:
    return format_money(minor, "RUB", "en")


def rub(minor: float) -> str:
    """An estimate as the text shows it: whole roubles, signed."""
    whole = round(minor / 100) * 100
    return f"+{money(whole)}" if whole > 0 else money(whole)


@pytest.fixture
async def api() -> AsyncIterator[UploadingBotAPI]:
    async with UploadingBotAPI() as server:
        yield server


async def test_stats_of_a_campaign_per_variant_and_holdout(chat: Chat, db, clock, api) -> None:
    await add_staff(db, ANALYST, "analyst")
    seeded = await seed(db, clock())
    await chat.feed(u.message(ANALYST, f"/stats {seeded.campaign_id}", language_code="en"))
    text = api.calls("sendMessage")[-1].text
    blocks = {block.split("\n")[0]: block for block in text.split("\n\n")}
    a, b = blocks["▫️ A (5%)"], blocks["▫️ B (10%)"]
    holdout = blocks["▫️ Control group (no offer)"]
    # A: 10 assigned and reached, 6 used the code; 7 bought (a0..a6): 7 × 5 000 ₽;
    # cost 6 × 250 ₽; margin 35 000 × 0.3 − 1 500 = 9 000 ₽.
    assert "audience 10, reached 10, redeemed 6 (redemption rate 60%)" in a, a
    assert f"bought again 7 (70%), revenue {money(3_500_000)}" in a
    assert f"discount cost {money(150_000)}, margin after discount {money(900_000)}" in a
    # Repeat rates 0.7 vs 0.2: +50 points, the interval of √(0.7·0.3/10 + 0.2·0.8/10)
    # over 20 customers.
    half = always_valid(math.sqrt(0.7 * 0.3 / 10 + 0.2 * 0.8 / 10), 20)
    assert (f"Repeat purchases vs control group: +50.0 percentage points, 95% interval "
            f"{(0.5 - half) * 100:+.1f} to +{min(0.5 + half, 1) * 100:.1f}") in a
    gain, low, high = incremental(A, HOLDOUT)
    assert (f"Incremental margin vs control group: {rub(gain)}, 95% interval {rub(low)} to "
            f"{rub(high)}") in a, a
    # B: b0..b7 reached in Telegram (b8's message waits), b9 by email: 9; 6 used a code;
    # revenue 6 × 5 000 ₽; cost 5 × 500 ₽ + 300 ₽ of free shipping; 9 000 − 3 300 = 5 700 ₽.
    assert "audience 10, reached 9, redeemed 6 (redemption rate 66.7%)" in b, b
    assert f"bought again 6 (60%), revenue {money(3_000_000)}" in b
    assert f"discount cost {money(330_000)}, margin after discount {money(570_000)}" in b
    gain, low, high = incremental(B, HOLDOUT)
    assert low < 0 < gain
    assert (f"Incremental margin vs control group: {rub(gain)}, 95% interval {rub(low)} to "
            f"{rub(high)}") in b, b
    # Holdout: no codes; h0 and h1 bought (9 000 ₽ after h1's return), h2 only before.
    assert "audience 10\n" in holdout and "reached" not in holdout, holdout
    assert f"bought again 2 (20%), revenue {money(900_000)}" in holdout
    assert f"discount cost {money(0)}, margin after discount {money(270_000)}" in holdout
    # Ten customers a group prove nothing with intervals that may be read every day (a
    # fixed 95 % interval called A a winner here).
    gain, low, _high = incremental(A, HOLDOUT)
    assert low < 0 < gain
    assert "⏳ No variant has proved yet that it pays" in text
    assert "however often you look, each comparison calls a false winner" in text
    assert "off the split" not in text
    # Codes by channel: 10 + 9 in Telegram (a0..a5 and b0..b4 used theirs), b9's by email.
    assert "By channel: email: codes 1, redeemed 1; Telegram: codes 19, redeemed 11" in text
    assert_no_rate_above_100(text)
    (upload,) = api.uploads
    assert upload.method == "sendPhoto" and upload.content.startswith(b"\x89PNG")


def assert_no_rate_above_100(text: str) -> None:
    rates = [float(r.replace(",", ".")) for r in re.findall(r"(\d+(?:[.,]\d+)?)\s?%", text)]
    assert rates and all(rate <= 100 for rate in rates), text


async def test_stats_in_russian(chat: Chat, db, clock, api) -> None:
    await add_staff(db, ANALYST, "analyst")
    seeded = await seed(db, clock())
    await chat.feed(u.message(ANALYST, f"/stats {seeded.campaign_id}", language_code="ru"))
    text = api.calls("sendMessage")[-1].text
    assert "60\xa0%" in text and "66,7\xa0%" in text and "35\xa0000\xa0₽" in text, text
    assert_no_rate_above_100(text)


async def test_shop_wide_rates_count_campaign_customers_only(chat: Chat, db, clock,
                                                             api) -> None:
    """The shop's own codes used by many, with few campaign messages delivered, no longer
    give a rate above 100 % (every use divided by the codes the bot delivered)."""
    await add_staff(db, ANALYST, "analyst")
    now = clock()
    await seed(db, now)
    walk_ins = await factories.customers(db, 30, now=now, prefix="w")
    # The shop's own codes, one per walk-in, all used: none is a campaign's.
    codes = [await factories.code(db, now=now, source=CodeSource.MANUAL, customer_id=c.id)
             for c in walk_ins]
    async with db.session() as session:
        for i, (c, code) in enumerate(zip(walk_ins, codes, strict=True)):
            session.add(Order(external_id=f"w{i}", customer_id=c.id, status="paid",
                              placed_at=now - timedelta(days=1), total=500_000, currency="RUB"))
            session.add(Redemption(code_id=code.id, customer_id=c.id,
                                   order_external_id=f"w{i}", order_total=500_000,
                                   discount=50_000, cost=50_000,
                                   created_at=now - timedelta(days=1)))
        await session.commit()
    await chat.feed(u.message(ANALYST, "/stats", language_code="en"))
    text = api.calls("sendMessage")[-1].text
    # Both campaigns' treated customers: 21 (A, B and the other campaign's one), 20 reached
    # (the stranger's message went out too), 13 used a code.
    treated = text.split("\n\n")[1]
    assert "audience 21, reached 20, redeemed 13 (redemption rate 65%)" in treated, text
    assert_no_rate_above_100(text)


async def test_export_is_one_row_per_variant_and_channel(chat: Chat, db, clock, api) -> None:
    await add_staff(db, ANALYST, "analyst")
    seeded = await seed(db, clock())
    await chat.feed(u.message(ANALYST, f"/export {seeded.campaign_id}", language_code="en"))
    (upload,) = api.uploads
    assert upload.method == "sendDocument" and upload.filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(upload.content.decode("utf-8-sig"))))
    header = rows[1]
    table = {row[0]: dict(zip(header, row, strict=True)) for row in rows[2:5]}
    assert set(table) == {"A", "B", "holdout"}
    assert (table["A"]["audience"], table["A"]["redeemed"], table["A"]["revenue"],
            table["A"]["discount_cost"], table["A"]["margin"]) == (
        "10", "6", "3500000", "150000", "900000")
    assert table["B"]["redemption_rate"] == "66.67" and table["B"]["discount_cost"] == "330000"
    assert table["holdout"]["repeat_purchase_rate"] == "20.00"
    assert round(incremental(A, HOLDOUT)[0]) == int(table["A"]["incremental_margin"])
    channels = rows[rows.index(["channel", "variant_id", "codes", "redeemed", "uses",
                                "revenue", "discount_cost"]) + 1:]
    assert ["email", str(seeded.b_id), "1", "1", "1", "500000", "50000"] in channels
    assert ["telegram", str(seeded.a_id), "10", "6", "6", "3000000", "150000"] in channels


@pytest.mark.parametrize("text", ["/stats x", "/stats 1 2 3", "/export 1 0", "/stats 999"])
async def test_stats_bad_arguments(chat: Chat, db, text) -> None:
    await add_staff(db, ANALYST, "analyst")
    reply = await chat.send(u.message(ANALYST, text, language_code="en"))
    assert "Usage: /" in reply and "Example: /" in reply


async def test_message_counts_stay_the_campaigns(chat: Chat, db, clock, api) -> None:
    await add_staff(db, ANALYST, "analyst")
    seeded = await seed(db, clock())
    async with db.session() as session:
        # A notice outside any campaign is no campaign message.
        session.add(Delivery(dedupe_key="n:1", reason="tier", status="sent",
                             created_at=clock() - timedelta(days=1)))
        await session.commit()
    await chat.feed(u.message(ANALYST, f"/stats {seeded.campaign_id}", language_code="en"))
    # 10 to A, 8 of B's 9 (b8's waits); the other campaign's and the notice are not counted.
    assert "Messages: 18 sent, 18 delivered" in api.calls("sendMessage")[-1].text


async def test_a_clear_winner_is_called_once_its_interval_clears_zero(chat: Chat, db, clock,
                                                                     api) -> None:
    await add_staff(db, ANALYST, "analyst")
    campaign_id = await seed_clear_winner(db, clock(), per_group=100)
    await chat.feed(u.message(ANALYST, f"/stats {campaign_id}", language_code="en"))
    text = api.calls("sendMessage")[-1].text
    # 50 % of A bought again against 20 % of the holdout, 100 customers each: +30 points,
    # each of A's extra buyers a 5 000 ₽ order.
    half = always_valid(math.sqrt(0.5 * 0.5 / 100 + 0.2 * 0.8 / 100), 200)
    assert (f"Repeat purchases vs control group: +30.0 percentage points, 95% interval "
            f"+{(0.3 - half) * 100:.1f} to +{(0.3 + half) * 100:.1f}") in text, text
    # Revenue per customer 2 500 ₽ against 1 000 ₽, times A's 100 customers.
    assert f"Incremental revenue vs control group: {rub(15_000_000)}, 95% interval" in text
    assert "✅ The smallest offer that pays: A (5%)." in text
    assert "off the split" not in text


async def test_a_split_that_is_off_is_called_out(chat: Chat, db, clock, api) -> None:
    """The split promised 30 % to the holdout, and it holds 100 of 200: customers were lost
    from the treated group (or moved), and the report says not to trust it."""
    await add_staff(db, ANALYST, "analyst")
    campaign_id = await seed_clear_winner(db, clock(), per_group=100, promised=0.3)
    await chat.feed(u.message(ANALYST, f"/stats {campaign_id}", language_code="ru"))
    text = api.calls("sendMessage")[-1].text
    # 100 / 100 where the split promised 60 / 140: chi-square 38, p ≈ 7 × 10⁻¹⁰.
    assert ("⚠️ Группы разошлись с разбивкой: 100 / 100 покупателей там, где она обещала "
            "60 / 140") in text, text
