"""What `promobot demo` prints last: the loop to try on the demo shop, ready to paste.

One demo customer gets a real link token, chosen from the sample campaign's audience
(silent for 90+ days, agreed to promotions) and outside its holdout (the split is a pure
function of the ids), so that linking Telegram as them and then starting the campaign
from the bot delivers a code to one's own chat. The campaign is a
draft, made once (a second `promobot demo` finds it); the token is new on every run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, utcnow
from bot.config import Settings
from bot.db.engine import Database
from bot.db.models import Campaign, CampaignKind, CampaignStatus, Customer, DiscountType
from bot.i18n import N_, gettext
from bot.promo.campaigns.admin import Draft, create, load
from bot.promo.campaigns.experiments import design
from bot.promo.codes.offers import Offer
from bot.promo.customers.linking import START_PREFIX, create_link_token, link_url
from bot.promo.customers.segments import almost_lost

SAMPLE_NAME = N_("Demo: win back customers silent for 90+ days")
SAMPLE_SEGMENT = "almost_lost"
# Two offers against each other and a control group: what the results screen compares.
SAMPLE_VARIANTS = (("A", 5), ("B", 10))  # name, percent off from 3 000 ₽, 14 days
SAMPLE_HOLDOUT_PERCENT = 10


@dataclass(frozen=True, slots=True)
class NextSteps:
    customer_id: str
    customer_name: str | None
    token: str
    expires_at: datetime
    campaign_id: int
    campaign_created: bool
    variant: str | None  # the variant the showcase customer falls in


async def prepare(db: Database, settings: Settings, *, prefix: str,
                  clock: Clock = utcnow) -> NextSteps:
    """A link token for the showcase customer and the sample campaign (made if missing)."""
    now = clock()
    async with db.session() as session:
        campaign, created = await _sample_campaign(session, settings, now)
        customer, variant = await _showcase_customer(session, settings, prefix, campaign.id,
                                                     now)
        token, expires_at = await create_link_token(
            session, customer, now=now,
            ttl=timedelta(minutes=settings.shop.link_token_ttl_minutes),
        )
        await session.commit()
    return NextSteps(customer.external_id, customer.name, token, expires_at, campaign.id,
                     created, variant)


async def _showcase_customer(
    session: AsyncSession, settings: Settings, prefix: str, campaign_id: int, now: datetime,
) -> tuple[Customer, str | None]:
    """The first demo customer the sample campaign would send a code to, in the shop's
    language if one is, and the variant they fall in."""
    campaign, variants = await load(session, campaign_id)
    split = design(campaign, variants)
    names = {variant.id: variant.name for variant in variants}
    lost = almost_lost(now=now, tz=settings.shop.zone)
    candidates = await session.scalars(
        select(Customer)
        .where(Customer.id.in_(lost), Customer.external_id.like(f"{prefix}%"),
               Customer.marketing_opt_in.is_(True))
        .order_by((Customer.locale == settings.shop.default_locale).desc(), Customer.id)
        .limit(50)
    )
    for customer in candidates:
        arm = split.choose(campaign.id, customer.id)
        if not arm.is_holdout:
            return customer, names.get(arm.variant_id or 0)
    # A tiny demo may have nobody silent that long: any demo customer can still link.
    customer = await session.scalar(
        select(Customer).where(Customer.external_id.like(f"{prefix}%"))
        .order_by(Customer.id).limit(1)
    )
    assert customer is not None
    return customer, None


async def _sample_campaign(session: AsyncSession, settings: Settings,
                           now: datetime) -> tuple[Campaign, bool]:
    """The sample draft, or the one an earlier run made (still a draft or not)."""
    name = gettext(SAMPLE_NAME, settings.shop.default_locale)
    found = await session.scalar(
        select(Campaign).where(Campaign.name == name).order_by(Campaign.id).limit(1)
    )
    if found is not None:
        return found, False
    draft = Draft(
        kind=CampaignKind.BROADCAST.value, name=name, segment=SAMPLE_SEGMENT,
        variants=[
            {"name": name, "weight": 1, "offer": Offer(
                DiscountType.PERCENT, percent, min_order=300_000, valid_days=14,
                currency=settings.shop.currency).to_json()}
            for name, percent in SAMPLE_VARIANTS
        ],
        holdout_percent=SAMPLE_HOLDOUT_PERCENT,
    )
    campaign = await create(session, None, draft, guardrail=settings.guardrail, now=now,
                            actor="demo")
    assert campaign.status == CampaignStatus.DRAFT
    return campaign, True


def render(steps: NextSteps, settings: Settings) -> list[str]:
    """The closing lines: link, become staff, start the campaign, call the shop API."""
    until = steps.expires_at.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC")
    who = f"{steps.customer_id} ({steps.customer_name})" if steps.customer_name else (
        steps.customer_id)
    link = [f"     {link_url(settings.telegram.username, steps.token)}"] if (
        "username" in settings.telegram.model_fields_set) else []
    made = "made now" if steps.campaign_created else "made by an earlier run"
    owners = ("you are an owner if your id is in PROMOBOT_OWNER_IDS"
              if settings.telegram.owner_ids else
              "set PROMOBOT_OWNER_IDS=<your Telegram id> (@userinfobot tells it), restart")
    return [
        "",
        "Try the loop (`promobot run` in another terminal):",
        f"  1. Link your Telegram as demo customer {who}, once, until {until}:",
        *link,
        f"     {'or ' if link else ''}send the bot: /start {START_PREFIX}{steps.token}",
        f"  2. Manage the shop from the bot: {owners}.",
        f"  3. The sample campaign is a draft ({made}): send /campaign {steps.campaign_id}",
        "     and press ▶️ (start): customers silent for 90+ days get a code (variant A 5 %,",
        f"     B 10 %, {SAMPLE_HOLDOUT_PERCENT} % held out as control); "
        + (f"you are in variant {steps.variant}." if steps.variant else
           "the linked customer is not in its audience."),
        f"  4. {_api_line(steps, settings)}",
    ]


def _api_line(steps: NextSteps, settings: Settings) -> str:
    """A ready call of the shop API with the configured key, or the key to configure."""
    base = f"http://{settings.api.host}:{settings.api.port}/api/v1"
    if not settings.api.keys:
        return ("Shop API: no key yet; add to .env and restart: "
                f"PROMOBOT_API_KEYS=shop:{secrets.token_urlsafe(24)}")
    key = next(iter(settings.api.keys))
    return (f"Shop API: curl -H 'Authorization: Bearer {key}' "
            f"{base}/customers/{steps.customer_id}/offers")
