"""A campaign's preview as a manager reads it (`/preview <id>`): who it would reach,
per segment or per rung of a comeback ladder, split by variant, what it may cost against
the margin guardrail, and how long sending takes. Before a campaign exists,
`draft_samples` shows the `/campaign new` draft's messages, every variant in both
languages.

Telegram HTML in the reader's language; names a manager typed are escaped with aiogram's
`html.quote`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import html

from bot.db.models import CampaignKind
from bot.delivery.outbox import Reason
from bot.i18n import (
    format_count,
    format_money,
    format_percent,
    format_span,
    gettext,
    ngettext,
)
from bot.promo.campaigns.admin import ArmPreview, Draft, Preview
from bot.promo.campaigns.new_category import (
    PAYLOAD_CATEGORY,
    CategoryPreview,
    limited,
    named_percent,
)
from bot.promo.codes.offers import Offer
from bot.texts.notices import preview
from bot.texts.segments import segment_name
from bot.texts.wording import conditions, reward_text


def offer_line(offer: Offer, locale: str) -> str:
    """The reward and its conditions on one line: `10% off; on orders from RUB1,000`."""
    return "; ".join(html.quote(part) for part in [reward_text(offer, locale),
                                               *conditions(offer, locale)])


def _audience(seen: Preview, locale: str) -> list[str]:
    if seen.segment:
        segment = html.quote(segment_name(seen.segment, locale))
        return [gettext("Segment {segment}: {size} customers, {reachable} reachable in "
                        "Telegram", locale).format(segment=segment,
                                                   size=seen.segment_size,
                                                   reachable=seen.reachable)]
    if not seen.steps:
        return [gettext("No segment: customers come one by one as events happen.", locale)]
    lines = [gettext("Comeback ladder: {size} customers, {reachable} reachable in "
                     "Telegram", locale).format(size=seen.segment_size,
                                                reachable=seen.reachable)]
    for step in seen.steps:
        lines.append(ngettext("• silent {days}+ day{only_new}: {n} ({reachable} reachable), "
                              "{offer}",
                              "• silent {days}+ days{only_new}: {n} ({reachable} reachable), "
                              "{offer}", step.days, locale).format(
            days=step.days, n=step.customers, reachable=step.reachable,
            only_new=gettext(", one order only", locale) if step.only_new else "",
            offer=offer_line(step.offer, locale)))
    return lines


def _arm(arm: ArmPreview, locale: str, currency: str) -> list[str]:
    if arm.name == "holdout":
        return [gettext("• holdout: {n} (get nothing)", locale).format(n=arm.customers)]
    name = html.quote(arm.name) or gettext("offer", locale)
    if arm.offer is None:
        return [gettext("• {name}: {n}, message only", locale).format(name=name,
                                                                      n=arm.customers)]
    lines = [gettext("• {name}: {n} × {offer}, up to {cost}", locale).format(
        name=name, n=arm.customers, offer=offer_line(arm.offer, locale),
        cost=format_money(arm.cost, currency, locale))]
    if arm.guardrail is not None:
        check = arm.guardrail
        verdict = gettext("within", locale) if check.allowed else gettext("⛔ above", locale)
        lines.append(gettext("  {requested} is {verdict} the guardrail ceiling {ceiling}",
                             locale).format(
                                 requested=format_percent(check.requested_percent, locale),
                                 verdict=verdict,
                                 ceiling=format_percent(check.ceiling_percent, locale)))
    return lines


# How many suggested categories the preview names; the rest are added up.
TOP_CATEGORIES = 5


def _categories(seen: CategoryPreview, locale: str) -> list[str]:
    """A "new category" campaign: the categories the reachable customers would get."""
    if not seen.categories:
        lines = [gettext("Categories to suggest: none (no customer has a category their "
                         "peers buy and they never did).", locale)]
    else:
        lines = [gettext("Categories to suggest (reachable customers):", locale)]
        for category, n in seen.categories[:TOP_CATEGORIES]:
            lines.append(f"• {html.quote(category)}: {format_count(n, locale)}")
        rest = seen.categories[TOP_CATEGORIES:]
        if rest:
            lines.append(ngettext("• {n} more category: {customers}",
                                  "• {n} more categories: {customers}", len(rest), locale
                                  ).format(n=format_count(len(rest), locale),
                                           customers=format_count(sum(c for _k, c in rest),
                                                                  locale)))
    if seen.without:
        lines.append(gettext("Nothing to suggest (skipped): {n}", locale).format(
            n=format_count(seen.without, locale)))
    return lines


def render_preview(seen: Preview, *, locale: str, currency: str, rate: float) -> str:
    """The preview (`bot.promo.campaigns.admin.preview`) as one message; `rate` is the
    sending rate (messages a second) the time to send was reckoned at."""
    campaign = seen.campaign
    lines = [gettext("🔎 Preview of #{id} {name}", locale).format(
        id=campaign.id, name=html.quote(campaign.name))]
    lines += _audience(seen, locale)
    if seen.categories is not None:
        lines += _categories(seen.categories, locale)
    for arm in seen.arms:
        lines += _arm(arm, locale, currency)
    lines.append(gettext("Estimated discount cost: {cost}", locale).format(
        cost=format_money(seen.cost, currency, locale)))
    lines.append(gettext("Time to send at {rate}/s: {time}", locale).format(
        rate=format_count(rate, locale), time=format_span(seen.send_time, locale)))
    return "\n".join(lines)


# The notice each kind's messages are worded by, and a payload that fills it in.
_KIND_REASONS = {"broadcast": Reason.CAMPAIGN, "comeback": Reason.COMEBACK,
                 "review": Reason.REVIEW_REWARD, "cart": Reason.CART,
                 "action": Reason.ACTION_REWARD}
_LANGUAGES = (("ru", "🇷🇺"), ("en", "🇬🇧"))


def _draft_arms(draft: Draft) -> list[tuple[str, Offer | None]]:
    """(variant name, offer) of each variant, or ("", the campaign's own offer)."""
    if not draft.variants:
        own = Offer.from_json(draft.offer) if draft.offer.get("discount_type") else None
        return [("", own)]
    arms = []
    for variant in draft.variants:
        data = {**draft.offer, **variant.get("offer", {})}
        arms.append((str(variant["name"]),
                     Offer.from_json(data) if data.get("discount_type") else None))
    return arms


def draft_samples(draft: Draft, *, locale: str, tz: ZoneInfo, now: datetime, shop: str
                  ) -> list[str]:
    """The message of every variant in both languages, as its readers will get it (a
    sample name, code and deadline in place of theirs), one message each; headed in the
    manager's `locale`."""
    reason = _KIND_REASONS.get(draft.kind, Reason.CAMPAIGN)
    out = []
    for name, offer in _draft_arms(draft):
        expires = now + timedelta(days=offer.valid_days or 30) if offer is not None else None
        for language, flag in _LANGUAGES:
            payload = {"message": {"ru": draft.message_ru, "en": draft.message_en},
                       "name": gettext("Anna", language), "shop": shop, "order": "1042",
                       **draft.params}
            shown = offer
            if draft.kind == CampaignKind.NEW_CATEGORY and offer is not None:
                # A sample category in place of each reader's own.
                category = gettext("Tea", language)
                payload.update({PAYLOAD_CATEGORY: category, "percent": named_percent(offer)})
                shown = limited(offer, category)
            head = flag if not name else "{flag} {variant}".format(
                flag=flag, variant=gettext("Variant {name}", locale).format(
                    name=html.quote(name)))
            text = preview(reason, payload, shown, locale=language, tz=tz, expires_at=expires)
            out.append(f"{head}\n{text}")
    return out
