"""A campaign's preview as a manager reads it (`/preview <id>`): who it would reach,
per segment or per rung of a comeback ladder, split by variant, what it may cost against
the margin guardrail, and how long sending takes.

Telegram HTML in the reader's language; names a manager typed are escaped with aiogram's
`html.quote`.
"""

from __future__ import annotations

from aiogram import html

from bot.i18n import format_money, format_span, gettext
from bot.promo.campaigns.admin import ArmPreview, Preview
from bot.promo.codes.offers import Offer
from bot.texts.wording import conditions, reward_text


def offer_line(offer: Offer, locale: str) -> str:
    """The reward and its conditions on one line: `10% off; on orders from RUB1,000`."""
    return "; ".join(html.quote(part) for part in [reward_text(offer, locale),
                                               *conditions(offer, locale)])


def _audience(seen: Preview, locale: str) -> list[str]:
    if seen.segment:
        return [gettext("Segment {segment}: {size} customers, {reachable} reachable in "
                        "Telegram", locale).format(segment=html.quote(seen.segment),
                                                   size=seen.segment_size,
                                                   reachable=seen.reachable)]
    if not seen.steps:
        return [gettext("No segment: customers come one by one as events happen.", locale)]
    lines = [gettext("Comeback ladder: {size} customers, {reachable} reachable in "
                     "Telegram", locale).format(size=seen.segment_size,
                                                reachable=seen.reachable)]
    for step in seen.steps:
        lines.append(gettext("• silent {days}+ days{only_new}: {n} ({reachable} reachable), "
                             "{offer}", locale).format(
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
                             locale).format(requested=f"{check.requested_percent}%",
                                            verdict=verdict,
                                            ceiling=f"{check.ceiling_percent}%"))
    return lines


def render_preview(seen: Preview, *, locale: str, currency: str, rate: float) -> str:
    """The preview (`bot.promo.campaigns.admin.preview`) as one message; `rate` is the
    sending rate (messages a second) the time to send was reckoned at."""
    campaign = seen.campaign
    lines = [gettext("🔎 Preview of #{id} {name}", locale).format(
        id=campaign.id, name=html.quote(campaign.name))]
    lines += _audience(seen, locale)
    for arm in seen.arms:
        lines += _arm(arm, locale, currency)
    lines.append(gettext("Estimated discount cost: {cost}", locale).format(
        cost=format_money(seen.cost, currency, locale)))
    lines.append(gettext("Time to send at {rate}/s: {time}", locale).format(
        rate=f"{rate:g}", time=format_span(seen.send_time, locale)))
    return "\n".join(lines)
