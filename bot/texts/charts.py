"""The `/stats` chart as a PNG: the funnel (sent, delivered, redeemed) and the
repeat-purchase rate of treatment vs holdout with its 95 % interval.

matplotlib is imported on first use (it takes about a second) with the Agg backend, and
drawing is CPU work: callers run `render_png` in a thread.
"""

from __future__ import annotations

import io
import math

from bot.i18n import gettext
from bot.promo.campaigns.analytics import Z95, Group, Stats


def _interval(group: Group) -> float:
    rate = group.rate
    if rate is None:
        return 0.0
    return Z95 * math.sqrt(rate * (1 - rate) / group.customers) * 100


def render_png(stats: Stats, title: str, locale: str) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(9, 4), dpi=100)
    funnel, experiment = figure.subplots(1, 2)
    labels = [gettext("sent", locale), gettext("delivered", locale),
              gettext("redeemed", locale)]
    values = [stats.sent, stats.delivered, stats.redeemed]
    bars = funnel.bar(labels, values, color=["#8ab4f8", "#4285f4", "#0f9d58"])
    funnel.bar_label(bars)
    funnel.set_title(gettext("Messages and uses", locale))
    groups = [gettext("treatment", locale), gettext("holdout", locale)]
    rates = [(g.rate or 0) * 100 for g in (stats.treatment, stats.holdout)]
    errors = [_interval(g) for g in (stats.treatment, stats.holdout)]
    bars = experiment.bar(groups, rates, yerr=errors, capsize=8, color=["#0f9d58", "#bdbdbd"])
    experiment.bar_label(bars, fmt="%.1f%%")
    experiment.set_title(gettext("Repeat purchase rate", locale) + ", % ± 95 %")
    figure.suptitle(title)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()
