"""The base analysis in words (`/analyze`, `promobot analyze`) and its chart: the interval
between a customer's orders."""

from __future__ import annotations

import io
from decimal import Decimal

from bot.i18n import format_count, format_days, format_money, format_percent, gettext
from bot.promo.shop.analysis import LOW_REPEAT_SHARE, BaseAnalysis, Recommendation


def _percent(share: Decimal, locale: str) -> str:
    return format_percent((share * 100).quantize(Decimal("0.1")).normalize(), locale)


def analysis_lines(analysis: BaseAnalysis, recommendation: Recommendation, currency: str,
                   locale: str) -> list[str]:
    """What the shop's own orders say, then what to do about it."""
    def money(amount: int) -> str:
        return format_money(amount, currency, locale)

    lines = [gettext("Customers with orders: {count}", locale).format(
                 count=format_count(analysis.customers, locale)),
             gettext("Came back for a second order: {count} ({share})", locale).format(
                 count=format_count(analysis.repeat_customers, locale),
                 share=_percent(analysis.repeat_share, locale))]
    gaps = analysis.intervals
    if gaps.median is not None:
        lines.append(gettext(
            "Between orders: median {median}, half of the repeat orders within "
            "{low}–{high}, nine in ten within {p90}", locale).format(
                median=format_days(gaps.median, locale), low=format_days(gaps.p25, locale),
                high=format_days(gaps.p75, locale), p90=format_days(gaps.p90, locale)))
    if analysis.average_order is not None:
        lines.append(gettext("Average order: {amount}", locale).format(
            amount=money(analysis.average_order)))
    lines += [
        gettext("Orders returned: {count} of {orders} ({share}), {amount} given back",
                locale).format(count=format_count(analysis.returned_orders, locale),
                               orders=format_count(analysis.orders, locale),
                               share=_percent(analysis.return_rate, locale),
                               amount=money(analysis.returned_amount)),
        gettext("Discounts took {share} of what the orders were worth ({amount})",
                locale).format(share=_percent(analysis.discount_share, locale),
                               amount=money(analysis.discounts)),
    ]
    if analysis.categories:
        lines.append(gettext("Bought again (customers who bought the category in two "
                             "orders or more):", locale))
        lines += [f"• {category.name}: {_percent(category.share, locale)} "
                  f"({format_count(category.again, locale)}/"
                  f"{format_count(category.buyers, locale)})"
                  for category in analysis.categories]
    if analysis.few_come_back:
        lines.append(gettext(
            "⚠️ Fewer than {share} of customers come back: the problem is not discounts. "
            "Look at the product, delivery and service first.", locale).format(
                share=_percent(LOW_REPEAT_SHARE, locale)))
    if recommendation.variables:
        lines.append(gettext("Settings to consider (nothing is changed by itself):", locale))
        lines += [f"{name}={value}" for name, value in recommendation.variables.items()]
    return lines


def interval_png(analysis: BaseAnalysis, locale: str) -> bytes:
    """Repeat orders by the days since the customer's order before, with the quartiles."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 4.5), dpi=100)
    axes = figure.subplots()
    gaps = analysis.intervals
    shown = [(days, count) for days, count in gaps.histogram if days <= 400]
    axes.bar([days for days, _count in shown], [count for _days, count in shown], width=1.0,
             color="#3390ec")
    for value, label in ((gaps.median, gettext("median", locale)),
                         (gaps.p75, format_percent(75, locale)),
                         (gaps.p90, format_percent(90, locale))):
        if value is not None:
            axes.axvline(value, color="#d9534f", linestyle="--", linewidth=1)
            axes.annotate(label, (value, 1), xycoords=("data", "axes fraction"),
                          xytext=(3, -12), textcoords="offset points", fontsize=8)
    axes.set_title(gettext("Days between a customer's orders", locale))
    axes.set_xlabel(gettext("days since the order before", locale))
    axes.set_ylabel(gettext("repeat orders", locale))
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
