"""`PATCH /campaigns/{id}` with an action: the answer carries the new status at once, a
start or resume runs the campaign in the background (its messages reach the shoppers with
nothing else to do), pause holds, stop cancels, and a transition the state does not allow
is 409 with the reason, changing nothing."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot

from bot.api.context import LAUNCHER
from bot.config import Settings
from bot.db import Database
from bot.db.models import Campaign
from tests.support.api import Api
from tests.support.campaign_runs import Shop, deliver, deliveries, draft_broadcast, reached
from tests.support.fake_bot_api import FakeBotAPI
from tests.support.managers import audit_rows


async def act(api: Api, shop: Shop, action: Any, **budget: Any) -> tuple[int, Any]:
    body = {"action": action, "budget": budget} if budget else {"action": action}
    status, body, _ = await api.call("PATCH", f"/campaigns/{shop.campaign_id}", body)
    return status, body


async def ran(api: Api) -> None:
    """Until the runs the API started are over."""
    await api.client.server.app[LAUNCHER].join()


async def test_start_answers_at_once_and_delivers(
    api: Api, db: Database, clock, settings: Settings, bot: Bot, telegram: FakeBotAPI
) -> None:
    shop = await draft_broadcast(db, clock())
    status, body = await act(api, shop, "start")
    assert status == 200, body
    assert body["status"] == "active" and body["started_at"] is not None
    await ran(api)
    await deliver(db, bot, settings, clock)
    seen = await reached(db, telegram, shop)
    treated = {c for c, holdout in seen.assigned.items() if not holdout}
    assert len(seen.assigned) == 8 and treated and set(seen.messages) == treated
    assert all(len(texts) == 1 for texts in seen.messages.values())
    assert [(r.actor, r.action) for r in await audit_rows(db)] == [("api:shop", "campaign.start")]


async def test_pause_resume_stop_and_refusals(
    api: Api, db: Database, clock, settings: Settings, bot: Bot, telegram: FakeBotAPI
) -> None:
    shop = await draft_broadcast(db, clock())
    status, body = await act(api, shop, "resume")  # a draft is started, not resumed
    assert status == 409 and body["error"]["code"] == "bad_transition"
    assert body["error"]["message"] == (
        "the campaign is draft: 'resume' applies to a campaign that is paused")
    await act(api, shop, "start")
    await ran(api)
    status, body = await act(api, shop, "pause")
    assert status == 200 and body["status"] == "paused"
    await deliver(db, bot, settings, clock)
    assert (await reached(db, telegram, shop)).messages == {}

    status, body = await act(api, shop, "resume")
    assert status == 200 and body["status"] == "active"
    await ran(api)
    await deliver(db, bot, settings, clock)
    delivered = await deliveries(db, shop.campaign_id)
    assert set(delivered) == {"sent"}

    # A refused action changes nothing, not even the budget sent with it.
    status, body = await act(api, shop, "start", uses=5)
    assert status == 409
    assert "'start' applies to a campaign that is draft" in body["error"]["message"]
    async with db.read_session() as session:
        assert (await session.get(Campaign, shop.campaign_id)).budget_uses is None
    status, body = await act(api, shop, "stop", uses=5)
    assert status == 200 and body["status"] == "stopped" and body["budget"]["uses"] == 5
    status, body = await act(api, shop, "pause")
    assert status == 409 and body["error"]["message"] == (
        "the campaign is stopped: 'pause' applies to a campaign that is active")


@pytest.mark.parametrize("action", ["go", "", 1, "START"])
async def test_an_unknown_action_is_422(api: Api, db: Database, clock, action: Any) -> None:
    shop = await draft_broadcast(db, clock(), shoppers=1)
    status, body = await act(api, shop, action)
    assert status == 422 and body["error"]["fields"] == ["action"]
    assert await deliveries(db, shop.campaign_id) == {}
