"""The `/stats` chart as a PNG, per variant and for the holdout: the repeat-purchase rate
with its always-valid 95 % interval beside the redemption rate, and each variant's
incremental margin over the holdout with its interval (the bar that clears zero pays).
A survey's chart: how many chose each option (`survey_png`).

matplotlib is imported on first use (it takes about a second) with the Agg backend, and
drawing is CPU work: callers run `render_png` in a thread.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot.i18n import format_percent, gettext, minor_to_decimal
from bot.promo.campaigns.analytics import Figures, Stats
from bot.promo.campaigns.confidence import half_width
from bot.texts.results import arm_name

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

GREEN, GREY, BLUE = "#0f9d58", "#bdbdbd", "#4285f4"


def _interval(group: Figures) -> tuple[float, float]:
    """How far the always-valid 95 % interval reaches below and above the rate, kept within
    0–100 %."""
    rate = group.rate
    if rate is None:
        return 0.0, 0.0
    half = half_width(math.sqrt(rate * (1 - rate) / group.audience), group.audience)
    return min(half, rate) * 100, min(half, 1 - rate) * 100


def _label(text: str) -> str:
    # Long names ("Контрольная группа (без предложения)") would run into each other.
    return textwrap.fill(text, 16)


def _arms(stats: Stats, locale: str) -> list[tuple[str, Figures]]:
    arms = [(arm_name(v, locale), v.figures) for v in stats.variants]
    if not arms:
        arms.append((gettext("With an offer", locale), stats.treatment))
    return [*arms, (gettext("holdout", locale), stats.holdout)]


def _rates(axes: Axes, stats: Stats, locale: str) -> None:
    arms = _arms(stats, locale)
    places = range(len(arms))
    repeat = [(g.rate or 0) * 100 for _n, g in arms]
    redeemed = [(g.redemption_rate or 0) * 100 for _n, g in arms]
    width = 0.4
    bars = axes.bar([p - width / 2 for p in places], repeat, width,
                    yerr=list(zip(*(_interval(g) for _n, g in arms), strict=True)),
                    capsize=6, color=GREEN,
                    label=gettext("Repeat purchase rate", locale))
    axes.bar_label(bars, fmt="%.1f")
    bars = axes.bar([p + width / 2 for p in places], redeemed, width, color=BLUE,
                    label=gettext("Redemption rate", locale))
    axes.bar_label(bars, fmt="%.1f")
    axes.set_xticks(list(places), [_label(name) for name, _g in arms])
    axes.set_ylabel("%")
    axes.legend(loc="upper right", fontsize="small")
    axes.set_title(gettext("Rates in percent, ± {level} interval", locale).format(
        level=format_percent(95, locale)))


def _margins(axes: Axes, stats: Stats, locale: str, currency: str) -> None:
    shown = [v for v in stats.variants if v.incremental is not None]
    if not shown:
        axes.text(0.5, 0.5, gettext("Not enough data yet", locale), ha="center",
                  va="center", transform=axes.transAxes)
        axes.set_axis_off()
        return
    major = [float(minor_to_decimal(round(v.incremental.difference), currency)) for v in shown]
    low = [float(minor_to_decimal(round(v.incremental.low), currency)) for v in shown]
    high = [float(minor_to_decimal(round(v.incremental.high), currency)) for v in shown]
    errors = [[m - lo for m, lo in zip(major, low, strict=True)],
              [hi - m for m, hi in zip(major, high, strict=True)]]
    colors = [GREEN if v.incremental.proven else GREY for v in shown]
    bars = axes.bar([_label(arm_name(v, locale)) for v in shown], major, yerr=errors, capsize=6,
                    color=colors)
    axes.bar_label(bars, fmt="%.0f")
    axes.axhline(0, color="black", linewidth=0.8)
    axes.set_title(textwrap.fill(gettext("Incremental margin vs holdout, {currency}", locale)
                                 .format(currency=currency), 40))


def _figure(width: float, height: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _png(figure: Figure) -> bytes:
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def survey_png(question: str, options: Sequence[str], counts: Sequence[int], locale: str
               ) -> bytes:
    """One bar per option, in the survey's order from the top, with its count and share."""
    figure = _figure(8, 1.2 + 0.6 * len(options))
    axes = figure.subplots()
    answered = sum(counts)
    rows = list(range(len(options)))[::-1]
    axes.barh(rows, counts, color=BLUE)
    axes.set_yticks(rows, [textwrap.fill(option, 30) for option in options])
    for row, count in zip(rows, counts, strict=True):
        share = format_percent(round(count / answered * 100), locale) if answered else ""
        axes.annotate(f" {count}  {share}", (count, row), va="center")
    axes.set_xlim(0, max([*counts, 1]) * 1.25)
    axes.set_xlabel(gettext("Customers who chose it", locale))
    axes.spines[["top", "right"]].set_visible(False)
    figure.suptitle(textwrap.fill(question, 70))
    return _png(figure)


def render_png(stats: Stats, title: str, locale: str, currency: str = "RUB") -> bytes:
    figure = _figure(10, 4.5)
    rates, margins = figure.subplots(1, 2)
    _rates(rates, stats, locale)
    _margins(margins, stats, locale, currency)
    figure.suptitle(title)
    return _png(figure)
