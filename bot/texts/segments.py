"""Segments in words: what a manager reads instead of a segment's id (`almost_lost`)."""

from __future__ import annotations

from bot.i18n import N_, gettext

NAMES = {
    "all": N_("all customers"),
    "new_silent": N_("new but silent"),
    "regulars": N_("regulars"),
    "almost_lost": N_("almost lost"),
    "comeback_60": N_("silent 60–90 days"),
    "comeback_90": N_("silent 90–180 days"),
    "big_spenders": N_("big spenders"),
}


def segment_name(segment: str, locale: str) -> str:
    """`almost_lost` → "почти потерянные" / "almost lost"; an id it does not know (a
    segment added later) as it is."""
    name = NAMES.get(segment)
    return gettext(name, locale) if name else segment
