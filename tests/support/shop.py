"""A small shop for scheduler tests: orders through the domain's own door (upsert_order),
customers silent since their last one, and what the jobs left behind. Customers and
campaigns come from `tests.support.factories`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update

from bot.config import Settings
from bot.db import Database
from bot.db.models import (
    Campaign,
    CampaignAssignment,
    CampaignStatus,
    Customer,
    Delivery,
    PromoCode,
)
from bot.promo.campaigns.context import Context
from bot.promo.shop.orders import ItemIn, upsert_order
from tests.support import factories


def context(db: Database, settings: Settings, now: datetime, batch_size: int = 50) -> Context:
    return Context(db, settings, now, batch_size=batch_size)


async def order(
    db: Database, settings: Settings, external_id: str, customer_id: int, *,
    placed_at: datetime, now: datetime, status: str = "delivered", total: int = 300_000,
    category: str = "tea", delivered_at: datetime | None = None, sku: str = "tea-1",
) -> int:
    async with db.session() as session:
        result = await upsert_order(
            session, external_id, customer=customer_id, placed_at=placed_at, status=status,
            total=total, currency="RUB",
            items=[ItemIn(sku=sku, price=total, category=category)],
            delivered_at=delivered_at or (placed_at + timedelta(days=2)
                                          if status == "delivered" else None),
            now=now, shop=settings.shop,
        )
        await session.commit()
        return result.order_id


async def silent_customer(db: Database, settings: Settings, name: str, now: datetime,
                          days: int, *, orders: int = 1, linked: bool = True,
                          **fields: Any) -> int:
    """A customer (reachable in Telegram unless not `linked`; `fields` as for
    `factories.customer`) whose last order was `days` days ago, `orders` orders in all."""
    make = factories.linked_customer if linked else factories.customer
    cid = (await make(db, name, now=now, **fields)).id
    for index in range(orders):
        placed = now - timedelta(days=days + 30 * (orders - 1 - index))
        await order(db, settings, f"{name}-o{index}", cid, placed_at=placed, now=now)
    return cid


async def deliveries(db: Database, **where: Any) -> list[Delivery]:
    async with db.read_session() as session:
        query = select(Delivery).order_by(Delivery.id)
        for key, value in where.items():
            query = query.where(getattr(Delivery, key) == value)
        return list(await session.scalars(query))


async def codes(db: Database, **where: Any) -> list[PromoCode]:
    async with db.read_session() as session:
        query = select(PromoCode).order_by(PromoCode.id)
        for key, value in where.items():
            query = query.where(getattr(PromoCode, key) == value)
        return list(await session.scalars(query))


async def assignments(db: Database, campaign_id: int) -> list[CampaignAssignment]:
    async with db.read_session() as session:
        return list(await session.scalars(
            select(CampaignAssignment).where(CampaignAssignment.campaign_id == campaign_id)
            .order_by(CampaignAssignment.customer_id)
        ))


async def count(db: Database, model: Any) -> int:
    async with db.read_session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def deliver(db: Database, code_id: int, at: datetime) -> None:
    """What the sender does on delivery: the code's lifetime starts now."""
    async with db.session() as session:
        code = await session.get(PromoCode, code_id)
        assert code is not None and code.valid_days
        code.expires_at = at + timedelta(days=code.valid_days)
        await session.commit()


async def set_status(db: Database, campaign_id: int, status: CampaignStatus) -> None:
    async with db.session() as session:
        await session.execute(update(Campaign).where(Campaign.id == campaign_id)
                              .values(status=status))
        await session.commit()


async def customer_row(db: Database, customer_id: int) -> Customer:
    async with db.read_session() as session:
        found = await session.get(Customer, customer_id)
        assert found is not None
        return found
