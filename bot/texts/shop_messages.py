"""What ties the bot's own messages to the shop: its name above the text and a button to
its site (`PROMOBOT_SHOP_NAME`, `PROMOBOT_SHOP_URL`).

A shopper may get a code from a bot whose name says nothing about the shop, and then has
to find the shop to use it. So every message the sender delivers — campaigns, comeback
offers, rewards, reminders — names the shop, and carries a button to it when the shop
has given its URL. The sender takes `ShopMessages.render` as its renderer and
`ShopMessages.buttons` for the keyboard.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from bot.config import ShopSettings
from bot.db.models import Delivery, PromoCode
from bot.delivery.outbox import Reason
from bot.i18n import gettext
from bot.texts.leaks import alert_buttons
from bot.texts.notices import render_message


@dataclass(frozen=True, slots=True)
class ShopMessages:
    name: str
    url: str | None

    @classmethod
    def of(cls, shop: ShopSettings) -> ShopMessages:
        return cls(shop.name.strip(), shop.url)

    def render(
        self, delivery: Delivery, *, code: PromoCode | None, locale: str, tz: ZoneInfo
    ) -> str:
        """The message of `bot.texts.notices`, under the shop's name in bold; an alert to
        staff (who know their shop) as it is."""
        text = render_message(delivery, code=code, locale=locale, tz=tz)
        if delivery.reason == Reason.LEAK_ALERT:
            return text
        return f"<b>{escape(self.name)}</b>\n\n{text}" if self.name else text

    def buttons(self, delivery: Delivery, *, locale: str) -> dict[str, Any] | None:
        """One URL button to the shop; none when the shop has no URL. A leak alert's is
        the one that revokes its code."""
        if delivery.reason == Reason.LEAK_ALERT:
            return alert_buttons(dict(delivery.payload or {}), locale)
        if self.url is None:
            return None
        label = gettext("🛍 Go to the shop", locale)
        return {"inline_keyboard": [[{"text": label, "url": self.url}]]}
