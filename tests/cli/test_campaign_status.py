"""`promobot campaign status` shows what is spent and left of a campaign's budget."""

from __future__ import annotations

import argparse

from sqlalchemy import update

import tests.support.factories as factories
from bot.commands.campaign import run as cli
from bot.db.models import Campaign


async def test_status_shows_the_budget(db, settings, clock) -> None:
    with_budget = await factories.campaign(
        db, now=clock(), name="spring", budget_amount=100_000, budget_uses=3
    )
    without = await factories.campaign(db, now=clock(), name="autumn")
    async with db.session() as session:
        await session.execute(
            update(Campaign)
            .where(Campaign.id == with_budget.id)
            .values(spent_amount=25_050, spent_uses=3)
        )
        await session.commit()
    lines: list[str] = []
    code = await cli(
        argparse.Namespace(action="status", id=None), settings, db=db, clock=clock, out=lines.append
    )
    assert code == 0
    assert lines[0].startswith(f"#{with_budget.id} spring")
    assert lines[1:4] == [
        "  💰 Budget: ₽250.50 of ₽1,000 spent, ₽749.50 left",
        "  🎟 Uses budget: 3 of 3 used, 0 uses left",
        "  ⛔ The budget is spent: this campaign's codes no longer apply at checkout.",
    ]
    # No budget, no budget lines.
    assert len(lines) == 5 and lines[4].startswith(f"#{without.id} autumn")
