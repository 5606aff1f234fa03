"""A campaign's results as managers read them (`/stats`, `promobot campaign stats`) and as
a spreadsheet (`/export`): per variant and for the holdout, and which offer pays.

Plain text in the reader's language (the bot quotes it for HTML); numbers, percents and
money through Babel.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal, get_currency_precision

from bot.i18n import format_day, format_days, format_money, format_percent, gettext
from bot.promo.campaigns.analytics import Figures, Stats, VariantResult
from bot.promo.campaigns.confidence import Effect, SampleRatio
from bot.promo.campaigns.global_holdout import Program
from bot.promo.campaigns.optimiser import MIN_MEASURED


def percent(rate: float | None, locale: str) -> str:
    """A share (0..1) as "66,7 %"; "—" when there is nothing to divide by."""
    if rate is None:
        return "—"
    return format_percent(Decimal(str(round(rate * 100, 1))), locale)


def points(value: float, locale: str) -> str:
    """A difference of rates in percentage points, signed: "+28,9"."""
    return format_decimal(round(value * 100, 1), format="+#,##0.0;-#,##0.0", locale=locale)


def _whole(amount: float, currency: str) -> int:
    # Kopecks in an estimate would claim a precision it does not have.
    unit = 10 ** get_currency_precision(currency)
    return round(amount / unit) * unit


def signed_money(amount: float, currency: str, locale: str) -> str:
    """An estimate of money, signed and rounded to whole units: "+768 ₽"."""
    whole = _whole(amount, currency)
    text = format_money(whole, currency, locale)
    return f"+{text}" if whole > 0 else text


def arm_name(variant: VariantResult, locale: str) -> str:
    """The variant's name and its offer's size: "B (10 %)"."""
    name = variant.name or gettext("the campaign's offer", locale)
    if variant.offer_percent is None:
        return gettext("{name} (no code)", locale).format(name=name)
    return f"{name} ({format_percent(variant.offer_percent.normalize(), locale)})"


def figures_lines(group: Figures, locale: str, currency: str, offered: bool = True
                  ) -> list[str]:
    """A group's figures; the holdout (`offered` false) got no offer to reach or redeem."""
    count = lambda n: format_decimal(n, locale=locale)  # noqa: E731
    first = gettext("audience {audience}", locale).format(audience=count(group.audience))
    if offered:
        first = gettext("audience {audience}, reached {delivered}, redeemed {redeemed} "
                        "(redemption rate {rate})", locale).format(
            audience=count(group.audience), delivered=count(group.delivered),
            redeemed=count(group.redeemed), rate=percent(group.redemption_rate, locale))
    return [
        first,
        gettext("bought again {buyers} ({rate}), revenue {revenue}", locale).format(
            buyers=count(group.buyers), rate=percent(group.rate, locale),
            revenue=format_money(group.revenue, currency, locale)),
        gettext("discount cost {cost}, margin after discount {margin}", locale).format(
            cost=format_money(group.discount_cost, currency, locale),
            margin=format_money(group.margin, currency, locale)),
    ]


def uplift_line(lift: Effect | None, locale: str) -> str:
    if lift is None:
        return gettext("Repeat purchases vs holdout: not enough data yet.", locale)
    return gettext("Repeat purchases vs holdout: {uplift} percentage points, {level} "
                   "interval {low} … {high}", locale).format(uplift=points(lift.difference, locale),
                                  level=format_percent(95, locale),
                                  low=points(lift.low, locale), high=points(lift.high, locale))


def incremental_line(lift: Effect | None, locale: str, currency: str) -> str:
    if lift is None:
        return gettext("Incremental margin vs holdout: not enough data yet.", locale)
    money = lambda v: signed_money(v, currency, locale)  # noqa: E731
    return gettext("Incremental margin vs holdout: {margin}, {level} interval {low} … {high}",
                   locale).format(margin=money(lift.difference), level=format_percent(95, locale),
                                  low=money(lift.low), high=money(lift.high))


def revenue_line(lift: Effect | None, locale: str, currency: str) -> str | None:
    """Incremental revenue; nothing while there is not enough data (the margin's line says
    so already)."""
    if lift is None:
        return None
    money = lambda v: signed_money(v, currency, locale)  # noqa: E731
    return gettext("Incremental revenue vs holdout: {revenue}, {level} interval {low} … "
                   "{high}", locale).format(revenue=money(lift.difference),
                                           level=format_percent(95, locale),
                                           low=money(lift.low), high=money(lift.high))


def steering_lines(stats: Stats, locale: str, currency: str) -> list[str]:
    """Where an optimised campaign sends its new recipients now, and which offer leads
    and how sure that is; nothing for a split by weights."""
    steering = stats.steering
    if steering is None:
        return []
    names = {v.variant_id: arm_name(v, locale) for v in stats.variants}
    days = format_days(steering.window_days, locale)
    if steering.learning and min(steering.measured.values(), default=0) >= MIN_MEASURED:
        return ["", gettext("🎯 Optimised split: even until somebody comes back with one of "
                            "the offers.", locale)]
    if steering.learning:
        return ["", gettext("🎯 Optimised split: even until each variant has {needed} "
                            "recipients (the fewest has {fewest}).", locale).format(
            needed=format_decimal(MIN_MEASURED, locale=locale),
            fewest=format_decimal(min(steering.measured.values(), default=0), locale=locale))]
    shares = ", ".join(f"{names.get(v, v)} {percent(share, locale)}"
                       for v, share in steering.shares.items())
    leader = steering.leader
    assert leader is not None and steering.best_chance is not None
    margin = steering.margin.get(leader) or 0.0
    return ["", gettext("🎯 Optimised split: new recipients now go {shares}.", locale).format(
        shares=shares),
        gettext("Most likely the most profitable: {name}, with a chance of {chance}; its "
                "margin per recipient so far: {margin} over the {days} after the offer "
                "({measured} recipients measured).", locale).format(
            name=names.get(leader, leader), days=days,
            margin=format_money(_whole(margin, currency), currency, locale),
            chance=percent(steering.best_chance[leader], locale),
            measured=format_decimal(sum(steering.measured.values()), locale=locale))]


def program_lines(program: Program | None, locale: str, currency: str) -> list[str]:
    """Every promotion together against the global holdout; nothing without one."""
    if program is None:
        return []
    count = lambda n: format_decimal(n, locale=locale)  # noqa: E731
    share = format_percent(Decimal(str(program.percent)).normalize(), locale)
    lines = ["", "▫️ " + gettext("All promotions vs the global holdout ({percent} of customers "
                                 "never get them)", locale).format(percent=share),
             "  " + gettext("global holdout: {held} customers, {held_rate} bought; everyone "
                            "else: {rest} customers, {rest_rate} bought", locale).format(
                 held=count(program.holdout.customers),
                 held_rate=percent(program.holdout.rate, locale),
                 rest=count(program.rest.customers), rest_rate=percent(program.rest.rate, locale)),
             f"  {uplift_line(program.uplift, locale)}"]
    if (revenue := revenue_line(program.incremental_revenue, locale, currency)) is not None:
        lines.append(f"  {revenue}")
    lines.append(f"  {incremental_line(program.incremental_margin, locale, currency)}")
    return lines


def sample_ratio_lines(check: SampleRatio | None, locale: str) -> list[str]:
    """A warning when the groups' sizes are off the split; nothing when they are not."""
    if check is None or not check.off:
        return []
    count = lambda n: format_decimal(n, locale=locale)  # noqa: E731
    return ["", gettext("⚠️ The groups are off the split: {observed} customers where it "
                        "promised {expected} (chi-square p = {p}). Customers are being lost "
                        "or moved between groups: trust no comparison here until the cause "
                        "is found.", locale).format(
        observed=" / ".join(count(n) for n in check.observed),
        expected=" / ".join(count(round(e)) for e in check.expected),
        p=format_decimal(check.p_value, format="0.####", locale=locale))]


def verdict(stats: Stats, locale: str, currency: str) -> str:
    """Which offer is the smallest that still pays, in words."""
    paying = stats.paying
    extra = paying.incremental if paying is not None else None
    if paying is not None and extra is not None:
        return gettext("✅ The smallest offer that pays: {name}. With it the shop earned "
                       "{margin} more than with the holdout (at least {low}, with {level} "
                       "confidence).", locale).format(name=arm_name(paying, locale),
                                                      level=format_percent(95, locale),
                                      margin=format_money(_whole(extra.difference, currency),
                                                          currency, locale),
                                      low=format_money(_whole(extra.low, currency), currency,
                                                       locale))
    return gettext("⏳ No variant has proved yet that it pays: none has an incremental "
                   "margin above zero with {level} confidence.", locale).format(
        level=format_percent(95, locale))


def stats_lines(stats: Stats, title: str, locale: str, currency: str, tz: ZoneInfo) -> list[str]:
    """The whole report; one campaign's per variant, the shop's treated vs holdout."""
    lines = [
        f"📊 {title}",
        gettext("{since} — {until}", locale).format(since=format_day(stats.since, locale, tz),
                                                    until=format_day(stats.until, locale, tz)),
        gettext("Messages: {sent} sent, {delivered} delivered", locale).format(
            sent=format_decimal(stats.sent, locale=locale),
            delivered=format_decimal(stats.delivered, locale=locale)),
    ]
    variants = stats.variants
    for v in variants:
        lines += ["", f"▫️ {arm_name(v, locale)}", *_indented(figures_lines(
            v.figures, locale, currency)), f"  {uplift_line(v.uplift, locale)}"]
        if (revenue := revenue_line(v.incremental_revenue, locale, currency)) is not None:
            lines.append(f"  {revenue}")
        lines.append(f"  {incremental_line(v.incremental, locale, currency)}")
    if not variants:
        lines += ["", "▫️ " + gettext("With an offer", locale),
                  *_indented(figures_lines(stats.treatment, locale, currency))]
        if stats.uplift is not None:
            lines.append(f"  {uplift_line(stats.uplift, locale)}")
    lines += ["", "▫️ " + gettext("Holdout (no offer)", locale),
              *_indented(figures_lines(stats.holdout, locale, currency, offered=False))]
    lines += steering_lines(stats, locale, currency)
    lines += channel_lines(stats, locale)
    lines += program_lines(stats.program, locale, currency)
    lines += sample_ratio_lines(stats.sample_ratio, locale)
    if variants:
        lines += ["", verdict(stats, locale, currency)]
    lines += ["", gettext("ℹ️ The intervals are always-valid {level} ones: however often you "
                          "look, each comparison calls a false winner with a chance of "
                          "{chance} at most.", locale).format(
        level=format_percent(95, locale), chance=format_percent(5, locale))]
    return lines


def _indented(lines: list[str]) -> list[str]:
    return [f"  {line}" for line in lines]


def channel_name(channel: str, locale: str) -> str:
    names = {"telegram": "Telegram", "email": gettext("email", locale),
             "site": gettext("the website", locale)}
    return names.get(channel, channel)


def channel_lines(stats: Stats, locale: str) -> list[str]:
    """Codes by channel (telegram, email, site), all variants together."""
    totals: dict[str, tuple[int, int]] = {}
    for row in stats.channels:
        codes, redeemed = totals.get(row.channel, (0, 0))
        totals[row.channel] = (codes + row.codes, redeemed + row.redeemed)
    if not totals:
        return []
    parts = [gettext("{channel}: codes {codes}, redeemed {redeemed}", locale).format(
        channel=channel_name(channel, locale), codes=format_decimal(codes, locale=locale),
        redeemed=format_decimal(redeemed, locale=locale))
        for channel, (codes, redeemed) in sorted(totals.items())]
    return ["", gettext("By channel: {parts}", locale).format(parts="; ".join(parts))]


def _rate(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.2f}"


def _lift(value: Effect | None, scale: Callable[[float], str]) -> list[str]:
    return ["", "", ""] if value is None else [scale(value.difference), scale(value.low),
                                                scale(value.high)]


CSV_HEADER = ["group", "variant_id", "offer_percent", "audience", "delivered", "redeemed",
              "uses", "redemption_rate", "buyers", "repeat_purchase_rate", "revenue",
              "discount_cost", "margin", "uplift_pp", "uplift_low", "uplift_high",
              "incremental_revenue", "incremental_revenue_low", "incremental_revenue_high",
              "incremental_margin", "incremental_low", "incremental_high"]


def _csv_row(name: str, variant_id: int | None, offer: Decimal | None, group: Figures,
             lift: Effect | None, revenue: Effect | None, extra: Effect | None
             ) -> list[object]:
    return [name, "" if variant_id is None else variant_id, "" if offer is None else offer,
            group.audience, group.delivered, group.redeemed, group.uses,
            _rate(group.redemption_rate), group.buyers, _rate(group.rate), group.revenue,
            group.discount_cost, group.margin, *_lift(lift, _rate),
            *_lift(revenue, _money), *_lift(extra, _money)]


def _money(value: float) -> str:
    return str(round(value))


def to_csv(stats: Stats, currency: str) -> bytes:
    """One row per variant, then the holdout (and, without variants, all treated), then
    the codes by channel; rates in percent, money in minor units of `currency`. UTF-8 with
    a BOM for spreadsheet programs."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["campaign_id", stats.campaign_id or "all", "since", stats.since.isoformat(),
                     "until", stats.until.isoformat(), "currency", currency])
    writer.writerow(CSV_HEADER)
    for v in stats.variants:
        writer.writerow(_csv_row(v.name or "offer", v.variant_id, v.offer_percent, v.figures,
                                 v.uplift, v.incremental_revenue, v.incremental))
    if not stats.variants:
        writer.writerow(_csv_row("treatment", None, None, stats.treatment, stats.uplift, None,
                                 None))
    writer.writerow(_csv_row("holdout", None, None, stats.holdout, None, None, None))
    writer.writerow([])
    writer.writerow(["channel", "variant_id", "codes", "redeemed", "uses", "revenue",
                     "discount_cost"])
    for row in stats.channels:
        writer.writerow([row.channel, "" if row.variant_id is None else row.variant_id,
                         row.codes, row.redeemed, row.uses, row.revenue, row.discount_cost])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
