"""The leak watch's alert to staff (`bot.promo.codes.leaks`): the numbers a manager needs
to decide, in their language, and the button that revokes the code.

The alert is a service message to a staff chat, rendered by the sender at send time from
its payload (the figures as measured when it was queued, the reader's locale); the time
is shown in the shop's zone, which the sender passes for a chat that is no customer's.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from bot.i18n import format_count, format_days, format_when, gettext, ngettext
from bot.promo.codes.leaks import button_data


def alert_text(payload: dict[str, Any], locale: str, tz: ZoneInfo) -> str:
    """The alert: which code, its campaign, uses and customers in the window, the
    strangers among them, its reach, since when; and what revoking does."""
    code = f"<code>{escape(str(payload.get('code', '')))}</code>"
    count = int(payload.get("level", 1))
    head = (gettext("⚠️ Code {code} may have leaked", locale) if count <= 1
            else gettext("⚠️ Code {code} keeps spreading", locale)).format(code=code)
    lines = [head]
    if payload.get("campaign_id") is not None:
        lines.append(gettext("Campaign #{id} “{name}”.", locale).format(
            id=payload["campaign_id"], name=escape(str(payload.get("campaign") or ""))))
    uses, customers = int(payload.get("uses", 0)), int(payload.get("customers", 0))
    strangers, reach = int(payload.get("strangers", 0)), int(payload.get("reach", 0))
    lines.append(gettext("Over the last {days}: {uses} {by_customers}.", locale).format(
        days=format_days(int(payload.get("window_days", 7)), locale),
        uses=ngettext("{n} use", "{n} uses", uses, locale).format(n=format_count(uses, locale)),
        by_customers=ngettext("by {n} customer", "by {n} customers", customers, locale).format(
            n=format_count(customers, locale))))
    lines += [
        ngettext("{n} of them never received the code from us.",
                 "{n} of them never received the code from us.",
                 strangers, locale).format(n=format_count(strangers, locale)) if strangers
        else gettext("All of them received it from us, but it is used more often than they "
                     "could explain.", locale),
        ngettext("It reached {n} customer through our channels.",
                 "It reached {n} customers through our channels.",
                 reach, locale).format(n=format_count(reach, locale)) if reach
        else gettext("We know of no customer it was given to: no message, campaign or "
                     "personal code of ours carried it.", locale),
    ]
    since = datetime.fromisoformat(str(payload["since"]))
    lines.append((gettext("Strangers have been using it since {when}.", locale) if strangers
                  else gettext("First use in this period: {when}.", locale)).format(
        when=format_when(since, locale, tz)))
    lines.append("")
    lines.append(gettext("If it was not meant for everyone, revoke it: the checkout will "
                         "refuse it at once.", locale))
    return "\n".join(lines)


def alert_buttons(payload: dict[str, Any], locale: str) -> dict[str, Any]:
    """One button: revoke the code (`handlers.managers.leaks`)."""
    label = gettext("🚫 Revoke the code", locale)
    return {"inline_keyboard": [[{"text": label,
                                  "callback_data": button_data(int(payload["code_id"]))}]]}
