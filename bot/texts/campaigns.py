"""How a campaign reads to a manager: the name of its state, one wording for the
campaign card and for a refusal that quotes the state."""

from __future__ import annotations

from bot.i18n import gettext


def status_name(status: str, locale: str) -> str:
    """`paused` → "paused" in the reader's language; an unknown state as it is."""
    names = {"draft": gettext("draft", locale), "active": gettext("active", locale),
             "paused": gettext("paused", locale), "stopped": gettext("stopped", locale)}
    return names.get(status, status)
