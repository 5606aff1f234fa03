"""`promobot demo` ends with the loop to try, ready to paste: a real link token for a demo
customer, a sample campaign (a draft) that would send that customer a code once started,
and the shop API key line."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from sqlalchemy import select, update

from bot.cli import run_cli
from bot.clock import utcnow
from bot.config import Settings
from bot.db import create_database
from bot.db.models import (
    Campaign,
    CampaignAssignment,
    CampaignStatus,
    CampaignVariant,
    Customer,
    Delivery,
)
from bot.promo.campaigns.context import Context
from bot.promo.campaigns.running import run_campaign
from bot.promo.customers.linking import consume_link_token

TELEGRAM_ID = 424_242


def _closing(out: str) -> dict[str, str]:
    found = {
        "customer": re.search(r"demo customer (demo-\d+)", out),
        "token": re.search(r"send the bot: /start (link_\S+)", out),
        "campaign": re.search(r"send /campaign (\d+)\n", out),
        "variant": re.search(r"you are in variant (\w+)\.", out),
    }
    assert all(found.values()), out
    return {name: match.group(1) for name, match in found.items()}


async def _try_the_loop(settings: Settings, steps: dict[str, str]) -> tuple[list, str]:
    """What the printed lines promise: the token links, the campaign waits as a draft, and
    once started it sends the linked customer a code of the printed variant."""
    db = create_database(settings.db.url)
    campaign_id = int(steps["campaign"])
    try:
        async with db.session() as session:
            linked = await consume_link_token(session, steps["token"], TELEGRAM_ID, utcnow())
            await session.commit()
            assert linked.linked and linked.customer.external_id == steps["customer"]
            campaign = await session.get(Campaign, campaign_id)
            assert (campaign.status, campaign.segment, campaign.holdout_percent) == (
                CampaignStatus.DRAFT, "almost_lost", 10)
            await session.execute(update(Campaign).where(Campaign.id == campaign_id)
                                  .values(status=CampaignStatus.ACTIVE, started_at=utcnow()))
            await session.commit()
        await run_campaign(Context(db, settings, utcnow()), campaign_id)
        async with db.read_session() as session:
            mine = Customer.external_id == steps["customer"]
            sent = list(await session.scalars(
                select(Delivery).join(Customer, Customer.id == Delivery.customer_id)
                .where(mine, Delivery.campaign_id == campaign_id)))
            variant = await session.scalar(
                select(CampaignVariant.name)
                .join(CampaignAssignment, CampaignAssignment.variant_id == CampaignVariant.id)
                .join(Customer, Customer.id == CampaignAssignment.customer_id).where(mine))
    finally:
        await db.dispose()
    return sent, variant


def test_demo_ends_with_the_loop_to_try(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMOBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}")
    monkeypatch.setenv("PROMOBOT_BOT_USERNAME", "shoes_bot")
    monkeypatch.setenv("PROMOBOT_API_KEYS", "shop:k-123")
    assert run_cli(["demo", "--customers", "80", "--seed", "2"]) == 0
    out = capsys.readouterr().out
    steps = _closing(out)
    assert f"https://t.me/shoes_bot?start={steps['token']}" in out
    assert "draft (made now)" in out
    assert ("Shop API: curl -H 'Authorization: Bearer k-123' "
            f"http://127.0.0.1:8080/api/v1/customers/{steps['customer']}/offers") in out

    # Run again: nothing seeded twice, the same campaign, a fresh token.
    assert run_cli(["demo", "--customers", "80"]) == 0
    again = _closing(capsys.readouterr().out)
    assert again["campaign"] == steps["campaign"] and again["token"] != steps["token"]

    sent, variant = asyncio.run(_try_the_loop(Settings(_env_file=None), steps))
    assert len(sent) == 1 and sent[0].code_id is not None
    assert variant == steps["variant"]


def test_demo_without_a_key_says_which_to_set(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PROMOBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}")
    monkeypatch.delenv("PROMOBOT_API_KEYS", raising=False)
    monkeypatch.delenv("PROMOBOT_BOT_USERNAME", raising=False)
    assert run_cli(["demo", "--customers", "30"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"PROMOBOT_API_KEYS=shop:\S{20,}", out)
    assert "https://t.me/" not in out  # the bot's name is not known offline
    assert "PROMOBOT_OWNER_IDS=<your Telegram id>" in out
