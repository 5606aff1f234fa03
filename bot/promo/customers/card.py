"""What a manager sees about one customer: tier, spend, orders, segments, codes and their
state, recent messages, and where the customer stands against the frequency caps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings, ShopSettings
from bot.config.values import Cap
from bot.db.models import (
    CodeStatus,
    Customer,
    Delivery,
    DeliveryStatus,
    PromoCode,
    TelegramAccount,
)
from bot.delivery.caps import Policy
from bot.promo.customers.segments import EVERYONE, SEGMENTS
from bot.promo.customers.tiers import TierStatus, customer_tier
from bot.promo.surveys.answers import Given, answers_of

CODES_SHOWN = 10
MESSAGES_SHOWN = 5


def code_state(code: PromoCode, now: datetime) -> str:
    """active | used | expired | revoked | waiting (lifetime starts on delivery)."""
    if code.status == CodeStatus.REVOKED:
        return "revoked"
    if code.usage_limit is not None and code.used_count >= code.usage_limit:
        return "used"
    if code.expires_at is not None and code.expires_at <= now:
        return "expired"
    if code.expires_at is None:
        return "waiting"
    return "active"


@dataclass(frozen=True, slots=True)
class CapState:
    cap: Cap
    used: int  # promotional messages counted in the window
    until: datetime | None  # when a slot frees up, if the cap is full


@dataclass(frozen=True, slots=True)
class Card:
    customer: Customer
    account: TelegramAccount | None
    tier: TierStatus
    segments: list[str]
    codes: Sequence[PromoCode]
    messages: Sequence[Delivery]
    caps: list[CapState]
    answers: list[Given]


async def segments_of(session: AsyncSession, customer_id: int, shop: ShopSettings,
                      now: datetime) -> list[str]:
    """The named segments this customer is in now (one small query each)."""
    found = []
    for name, segment in SEGMENTS.items():
        if name == EVERYONE:  # says nothing about the customer
            continue
        query = segment.select(now=now, tz=shop.zone).where(Customer.id == customer_id)
        if await session.scalar(select(func.count()).select_from(query.subquery())):
            found.append(name)
    return found


async def cap_state(session: AsyncSession, customer_id: int, policy: Policy,
                    now: datetime) -> list[CapState]:
    """Counted the way the sender counts: promotional messages sent in the window, or
    being sent now."""
    states = []
    for cap in policy.caps:
        moments = list(await session.scalars(
            select(func.coalesce(Delivery.sent_at, now)).where(
                Delivery.customer_id == customer_id, Delivery.promotional.is_(True),
                (Delivery.status == DeliveryStatus.SENDING)
                | ((Delivery.status == DeliveryStatus.SENT)
                   & (Delivery.sent_at > now - cap.window)),
            ).order_by(func.coalesce(Delivery.sent_at, now).desc())
        ))
        until = moments[cap.count - 1] + cap.window if len(moments) >= cap.count else None
        states.append(CapState(cap, len(moments), until))
    return states


async def card(session: AsyncSession, customer: Customer, *, settings: Settings,
               now: datetime) -> Card:
    account = await session.scalar(
        select(TelegramAccount).where(TelegramAccount.customer_id == customer.id))
    codes = (await session.scalars(
        select(PromoCode).where(PromoCode.customer_id == customer.id)
        .order_by(PromoCode.id.desc()).limit(CODES_SHOWN))).all()
    messages = (await session.scalars(
        select(Delivery).where(Delivery.customer_id == customer.id)
        .order_by(Delivery.id.desc()).limit(MESSAGES_SHOWN))).all()
    return Card(
        customer, account, customer_tier(customer, settings.loyalty),
        await segments_of(session, customer.id, settings.shop, now), codes, messages,
        await cap_state(session, customer.id, Policy.from_settings(settings.policy), now),
        await answers_of(session, customer.id),
    )
