"""The welcome offer: a customer who links Telegram before their first order gets a small
first-order code (`PROMOBOT_WELCOME_OFFER`, 5 % from 2 000 ₽ for 14 days by default) —
the playbook's "a first order 5–7 %, not 30 %".

Once per customer and once per Telegram account, whatever relinking happens: the claim is
a row of `welcome_offers`, unique on each, inserted with ON CONFLICT DO NOTHING in the
link's own transaction, so two taps, two instances or a relink to another account (or of
another account to this customer) give nothing more. Nothing for a customer who has
ordered, who declined promotions (they get only what they asked for), who is in the
global holdout, or when the offer would pass the margin guardrail with their tier.

The code travels as a message of its own through the outbox: a service message, as it
answers the shopper's own action (it skips caps and quiet hours, not their opt-out,
which was checked here), its validity counted from delivery.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.dialect import insert_ignoring_conflict
from bot.db.models import CodeSource, Customer, PromoCode, WelcomeOffer
from bot.delivery.outbox import Reason, enqueue
from bot.promo.campaigns.global_holdout import is_member
from bot.promo.codes.issuing import headroom, issue_code
from bot.promo.codes.offers import Offer, rung_offer

log = logging.getLogger(__name__)
offers_table = WelcomeOffer.__table__


def welcome_offer(settings: Settings) -> Offer | None:
    """The offer in force; None when the shop gives none."""
    rewards, rung = settings.rewards, settings.rewards.welcome_offer
    if not rung.percent and not rung.free_shipping:
        return None
    return rung_offer(rung, min_order=rewards.welcome_min_order,
                      valid_days=rewards.welcome_valid_days, currency=settings.shop.currency)


async def welcome(session: AsyncSession, customer: Customer, telegram_id: int, *,
                  settings: Settings, now: datetime) -> PromoCode | None:
    """The welcome code for a link just made (not committed), queued for delivery; None
    when this link earns none."""
    offer = welcome_offer(settings)
    if (offer is None or customer.orders_count or not customer.marketing_opt_in
            or is_member(customer.id, settings.policy.global_holdout)):
        return None
    if not (await headroom(session, settings, now=now)).allows(offer, customer):
        log.warning("welcome offer %s leaves no room under the margin guardrail with "
                    "customer %s's tier", offer, customer.id)
        return None
    claimed = await session.execute(insert_ignoring_conflict(
        session, offers_table, customer_id=customer.id, telegram_id=telegram_id,
        created_at=now))
    if claimed.rowcount != 1:
        return None
    code = await issue_code(session, offer, source=CodeSource.WELCOME, now=now,
                            customer_id=customer.id, length=settings.shop.code_length,
                            expires_on_delivery=True)
    await session.execute(update(offers_table).where(offers_table.c.customer_id == customer.id)
                          .values(code_id=code.id))
    await enqueue(session, dedupe_key=f"welcome:{customer.id}", customer_id=customer.id,
                  reason=Reason.WELCOME, promotional=False, code_id=code.id, due_at=now,
                  payload={})
    return code
