"""A shop simulator: synthetic customers whose chance to come back depends on the offer by
a known curve, driven through promobot's own code day by day, so that what the reports
say can be checked against the truth.

Each simulated day, at 10:00 UTC on the simulation's clock:
1. the campaign runs (`run_campaign`, what the scheduler's job calls): customers whose
   silence reached 90 days that day enter its segment ("almost lost") and are assigned
   to a variant or the holdout, their codes issued and their messages queued in the
   outbox;
2. the sender delivers the outbox to the fake Bot API over HTTP (`Sender`);
3. each customer who got a message reads the code in it, asks the shop API what it gives
   on a 5 000 ₽ order (`POST /codes/validate`), and decides by the curve whether they
   will come back within `horizon` days; a customer who got nothing (the holdout)
   decides by the curve's base chance;
4. the customers whose day it is come back: with a code, `POST /codes/redeem` and the
   order with its discount (`PUT /orders/{id}`); without, the order alone;
5. on the first `looks` days, the campaign's report (`campaign_stats`, what `/stats` shows) is read,
   as a manager reading it every day would.

The truth is the curve: a variant's repeat-purchase uplift is its chance minus the base
chance; its margin per recipient is chance × (margin rate − discount) × order, the
margin rate being net profit ÷ the average order (all orders are alike, so it is exact).
"""

from __future__ import annotations

import math
import random
import re
import tempfile
from collections import Counter
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

import tests.support.factories as factories
from bot.api.app import create_app
from bot.config import Settings
from bot.db import Base, Database, create_database
from bot.db.models import Campaign, CampaignAssignment
from bot.delivery.sender import Sender
from bot.promo.campaigns.analytics import Stats, campaign_stats
from bot.promo.campaigns.context import Context
from bot.promo.campaigns.running import run_campaign
from bot.texts.notices import render_message
from tests.support.api import Api
from tests.support.delivery import make_bot
from tests.support.fake_bot_api import FakeBotAPI

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
ORDER = 500_000  # every order is 5 000 ₽
NET_PROFIT = 150_000  # so the margin rate is 0.3
CHATS = 10_000_000  # customer number n writes from chat CHATS + n
_CODE = re.compile(r"<code>([^<]+)</code>")
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Curve:
    """The chance a customer comes back within the horizon: `base` without an offer,
    `by_percent[p]` with a p % code."""

    base: float
    by_percent: dict[int, float]

    def chance(self, percent: int | None) -> float:
        return self.base if percent is None else self.by_percent[percent]

    def margin_per_recipient(self, percent: int | None, rate: float) -> float:
        """What a recipient of the offer earns the shop on average, in minor units."""
        keep = rate - (percent or 0) / 100
        return self.chance(percent) * keep * ORDER


@dataclass(frozen=True)
class Scenario:
    curve: Curve
    offers: tuple[int, ...] = (10,)
    days: int = 30
    per_day: int = 20
    holdout_percent: int = 50
    horizon: int = 7
    optimise: bool = False
    # Days on which the report is read, from the first: a manager looking every day.
    looks: int = 0


@dataclass
class Look:
    day: int
    stats: Stats


@dataclass
class Result:
    scenario: Scenario
    seed: int
    stats: Stats
    looks: list[Look] = field(default_factory=list)
    # Per entry day, how many treated recipients got each offer (percent).
    offers_by_day: dict[int, Counter[int]] = field(default_factory=dict)
    margin_rate: float = NET_PROFIT / ORDER

    def true_uplift(self, percent: int) -> float:
        curve = self.scenario.curve
        return curve.chance(percent) - curve.base

    def true_margin_gain(self, percent: int) -> float:
        """Incremental margin per recipient of the offer, minor units."""
        curve = self.scenario.curve
        return (curve.margin_per_recipient(percent, self.margin_rate)
                - curve.margin_per_recipient(None, self.margin_rate))

    def percent_of(self, variant_name: str | None) -> int:
        return int(str(variant_name).rstrip("%"))


class Shop:
    """One simulated shop: its database, the fake Telegram, the shop API and the sender."""

    def __init__(self, scenario: Scenario, seed: int, database_url: str | None) -> None:
        self.scenario, self.seed = scenario, seed
        self.rng = random.Random(seed)
        self.now = START
        self._database_url = database_url
        self._stack = AsyncExitStack()
        self.returns: dict[int, list[tuple[int, str | None]]] = {}  # day → (customer, code)
        self.customers: dict[int, str] = {}  # id → the shop's customer id
        self.chats: dict[int, int] = {}  # Telegram chat → customer id
        self.decided: set[int] = set()

    def clock(self) -> datetime:
        return self.now

    async def __aenter__(self) -> Shop:
        stack = self._stack
        url = self._database_url
        if url is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="promobot-sim-"))
            url = f"sqlite+aiosqlite:///{Path(folder) / 'sim.sqlite3'}"
        self.fake = await stack.enter_async_context(FakeBotAPI())
        self.settings = Settings(
            _env_file=None, database_url=url, api_keys=["shop:sim-key"], owner_ids=[1],
            bot_token="123456:SIM-token", telegram_api_url=self.fake.url, quiet_hours="",
            send_rate=1000, guardrail_net_profit_per_order=NET_PROFIT, webapp_port=0,
            api_failed_validations_per_minute=1_000_000,
        )
        self.db = create_database(url)
        stack.push_async_callback(self.db.dispose)
        await _fresh(self.db)
        self.bot = make_bot(self.settings)
        stack.push_async_callback(self.bot.session.close)
        client = await stack.enter_async_context(
            TestClient(TestServer(create_app(self.settings, self.db, clock=self.clock))))
        self.api = Api(client)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def populate(self) -> Campaign:
        """Customers who enter the segment day by day, and the campaign."""
        s = self.scenario
        for day in range(s.days):
            # Silent 90 days by the morning of `day`: their last order a little earlier.
            last = START + timedelta(days=day - 90, hours=-2)
            rows = await factories.customers(
                self.db, s.per_day, now=last, prefix=f"d{day}-", start=0,
                telegram_base=CHATS + day * s.per_day, orders_count=1, net_spend=ORDER,
                gross_spend=ORDER, last_order_at=last, marketing_opt_in=True, locale="en")
            self.customers.update({row.id: row.external_id for row in rows})
            self.chats.update({CHATS + day * s.per_day + n: row.id
                               for n, row in enumerate(rows)})
        variants = [{"name": f"{p}%", "weight": 1,
                     "offer": {"discount_type": "percent", "value": p, "valid_days": 14}}
                    for p in s.offers]
        # The split hashes (campaign, customer): a campaign id of the seed's own gives each
        # seed its own split, as each seed has its own customers' choices.
        return await factories.campaign(
            self.db, now=START - timedelta(days=1), name="sim", kind="broadcast",
            id=1000 + self.seed,
            segment="almost_lost", holdout_percent=s.holdout_percent, optimise=s.optimise,
            params={"optimise_days": s.horizon}, schedule="0 10 * * *",
            offer={"discount_type": "percent", "value": s.offers[0], "valid_days": 14},
            variants=variants if len(variants) > 1 else (),
            message_ru="Скучаем: {code}", message_en="We miss you: {code}")

    async def day(self, campaign: Campaign, day: int, result: Result) -> None:
        self.now = START + timedelta(days=day)
        if day < self.scenario.days:
            await run_campaign(Context(self.db, self.settings, self.now), campaign.id)
            await Sender(self.db, self.bot, self.settings, render=render_message,
                         clock=self.clock).run_until_idle()
            await self._decide(campaign, day, result)
        for customer_id, code in self.returns.pop(day, []):
            await self._come_back(customer_id, code, day)
        if day < self.scenario.looks:
            result.looks.append(Look(day, await self.stats(campaign)))

    async def _decide(self, campaign: Campaign, day: int, result: Result) -> None:
        """Today's new recipients read their message (if any) and decide."""
        async with self.db.read_session() as session:
            assigned = (await session.execute(
                select(CampaignAssignment.customer_id).where(
                    CampaignAssignment.campaign_id == campaign.id))).scalars().all()
        codes = self._codes_sent_today()
        offers = result.offers_by_day.setdefault(day, Counter())
        for customer_id in sorted(set(assigned) - self.decided):
            self.decided.add(customer_id)
            code = codes.get(customer_id)
            percent = await self._percent(customer_id, code) if code else None
            if percent is not None:
                offers[percent] += 1
            if self.rng.random() < self.scenario.curve.chance(percent):
                back = day + self.rng.randint(1, self.scenario.horizon)
                self.returns.setdefault(back, []).append((customer_id, code))

    def _codes_sent_today(self) -> dict[int, str]:
        found = {}
        for request in self.fake.calls("sendMessage"):
            match = _CODE.search(request.text)
            if match and request.chat_id in self.chats:
                found[self.chats[request.chat_id]] = match.group(1)
        self.fake.clear()
        return found

    async def _percent(self, customer_id: int, code: str) -> int:
        """What the code gives, as the shopper sees it at the checkout."""
        status, body, _ = await self.api.call(
            "POST", "/codes/validate", {"code": code, "customer_id": self.customers[customer_id],
                                        "order": {"total": ORDER}}, key="sim-key")
        assert status == 200 and body["valid"], body
        return round(body["discount"] * 100 / ORDER)

    async def _come_back(self, customer_id: int, code: str | None, day: int) -> None:
        external = self.customers[customer_id]
        order_id = f"sim-{customer_id}-{day}"
        discount = 0
        if code is not None:
            status, body, _ = await self.api.call(
                "POST", "/codes/redeem", {"code": code, "customer_id": external,
                                          "order_id": order_id, "order": {"total": ORDER}},
                key="sim-key")
            assert status == 200, body
            discount = body["discount"]
        status, body, _ = await self.api.call(
            "PUT", f"/orders/{order_id}",
            {"customer_id": external, "placed_at": self.now.isoformat(), "status": "paid",
             "total": ORDER, "discount": discount, "promo_code": code}, key="sim-key")
        assert status in (200, 201), body

    async def stats(self, campaign: Campaign) -> Stats:
        async with self.db.read_session() as session:
            return await campaign_stats(session, campaign_id=campaign.id,
                                        since=campaign.created_at, until=self.now,
                                        guardrail=self.settings.guardrail)


async def _fresh(db: Database) -> None:
    """Empty tables; on PostgreSQL a given database is emptied first (ids from 1)."""
    async with db.engine.begin() as conn:
        if not db.is_sqlite:
            await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)


async def simulate(scenario: Scenario, seed: int, *, database_url: str | None = None) -> Result:
    """One campaign's life, and its report once every recipient's horizon has passed."""
    async with Shop(scenario, seed, database_url) as shop:
        campaign = await shop.populate()
        result = Result(scenario, seed, stats=None)  # type: ignore[arg-type]
        for day in range(scenario.days + scenario.horizon + 1):
            await shop.day(campaign, day, result)
        result.stats = await shop.stats(campaign)
        return result


def describe(result: Result) -> list[str]:
    """The true effects next to the reported ones, one line per variant."""
    lines = []
    for variant in result.stats.variants:
        percent = result.percent_of(variant.name or f"{result.scenario.offers[0]}%")
        lift, gain = variant.uplift, variant.incremental
        true_gain = result.true_margin_gain(percent) * variant.figures.audience
        lines.append(
            f"{percent:>3}%: audience {variant.figures.audience:>5}  "
            f"uplift true {result.true_uplift(percent) * 100:+6.2f} pp, reported "
            + ("—" if lift is None else f"{lift.difference * 100:+6.2f} "
               f"[{lift.low * 100:+6.2f}, {lift.high * 100:+6.2f}]")
            + f"  margin gain true {true_gain / 100:+10.0f} ₽, reported "
            + ("—" if gain is None else f"{gain.difference / 100:+10.0f} "
               f"[{gain.low / 100:+.0f}, {gain.high / 100:+.0f}]"))
    return lines


def covered(result: Result) -> dict[int, bool]:
    """Per offer: does the final report's uplift interval hold the true uplift?"""
    found = {}
    for variant in result.stats.variants:
        percent = result.percent_of(variant.name or f"{result.scenario.offers[0]}%")
        lift = variant.uplift
        truth = result.true_uplift(percent)
        found[percent] = lift is not None and lift.low <= truth <= lift.high
    return found


def ever_significant(result: Result) -> bool:
    """Did any daily look show an uplift whose interval leaves zero?"""
    return any(v.uplift is not None and (v.uplift.low > 0 or v.uplift.high < 0)
               for look in result.looks for v in look.stats.variants)


def fixed_interval_called(result: Result) -> bool:
    """Would a fixed-sample 95 % interval (what the reports showed before) have left zero
    on any of the same daily looks?"""
    for look in result.looks:
        control = look.stats.holdout.by_arm.bought
        for variant in look.stats.variants:
            treated = variant.figures.by_arm.bought
            if treated.n < 2 or control.n < 2 or treated.mean is None or control.mean is None:
                continue
            difference = treated.mean - control.mean
            se = math.sqrt(treated.variance_of_mean + control.variance_of_mean)
            if se and abs(difference) > Z95 * se:
                return True
    return False


def later_share(result: Result, percent: int, *, after_day: int) -> float:
    """The share of treated recipients who entered after `after_day` and got `percent`."""
    total: Counter[int] = Counter()
    for day, offers in result.offers_by_day.items():
        if day > after_day:
            total.update(offers)
    return total[percent] / (sum(total.values()) or 1)


def margin_against_oracle(result: Result) -> float:
    """The treated recipients' expected margin under the offers they got, as a share of
    what they would have made had every one of them got the best offer."""
    rate, curve = result.margin_rate, result.scenario.curve
    best = max(curve.margin_per_recipient(p, rate) for p in result.scenario.offers)
    made = sum(curve.margin_per_recipient(p, rate) * n
               for offers in result.offers_by_day.values() for p, n in offers.items())
    count = sum(sum(offers.values()) for offers in result.offers_by_day.values())
    return made / (best * count) if count else 0.0

