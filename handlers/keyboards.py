"""Keyboards, menu buttons and callback data of the shopper's chat.

Menu buttons are plain texts the user sends back; `MenuButton` matches them in every
language, so a keyboard sent before a language switch keeps working.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    WebAppInfo,
)
from aiogram.utils.i18n import I18n, get_i18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.support import LazyProxy

from bot.i18n import COMMON_ZONES, LANGUAGES, zone_name

BTN_CODES = __("🎟 My codes")
BTN_TIER = __("⭐ My level")
BTN_INVITE = __("🤝 Invite friends")
BTN_SETTINGS = __("⚙️ Settings")
BTN_HELP = __("❓ Help")
BTN_CONTACT = __("📱 Share my phone number")



class MenuButton(Filter):
    """The message is this menu button's text, in any of the bot's languages."""

    def __init__(self, *buttons: LazyProxy) -> None:
        self.buttons = buttons
        self._texts: frozenset[str] | None = None

    def texts(self, i18n: I18n) -> frozenset[str]:
        if self._texts is None:
            found = set()
            for locale in i18n.available_locales:
                with i18n.use_locale(locale):
                    found.update(str(button) for button in self.buttons)
            self._texts = frozenset(found)
        return self._texts

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        return message.text is not None and message.text in self.texts(i18n)


class SettingsAction(CallbackData, prefix="set"):
    """`lang` / `promo` / `tz` with a value, `tz_other` to type a zone, `show` to redraw."""

    action: str
    value: str = ""


class LinkMove(CallbackData, prefix="mv"):
    """Confirm or cancel moving a link. `kind` t: `ref` is the link token (the proof);
    p: `ref` is the customer id found by the user's own contact, `sig` proves we offered it."""

    kind: str
    ref: str
    sig: str = ""
    confirm: bool = True


def sign_offer(secret: bytes, telegram_id: int, customer_id: int) -> str:
    """A short MAC, so that a forged callback cannot link to someone else's account."""
    message = f"{telegram_id}:{customer_id}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:20]


def check_offer(secret: bytes, telegram_id: int, customer_id: int, sig: str) -> bool:
    return hmac.compare_digest(sign_offer(secret, telegram_id, customer_id), sig)


def menu_keyboard() -> ReplyKeyboardMarkup:
    """The linked shopper's menu, in the current language."""
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=str(BTN_CODES)), KeyboardButton(text=str(BTN_TIER))],
            [KeyboardButton(text=str(BTN_INVITE)), KeyboardButton(text=str(BTN_SETTINGS))],
            [KeyboardButton(text=str(BTN_HELP))],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


def link_keyboard() -> ReplyKeyboardMarkup:
    """For a user not linked yet: share the phone number, or ask for help."""
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=str(BTN_CONTACT), request_contact=True)],
            [KeyboardButton(text=str(BTN_HELP))],
        ],
        resize_keyboard=True,
    )


def cabinet_keyboard(url: str | None) -> InlineKeyboardMarkup | None:
    """The button that opens the Mini App (the cabinet), when the shop has its address
    (PROMOBOT_WEBAPP_URL). An inline button: a Mini App opened from the reply keyboard
    gets no launch data to say who opened it."""
    if url is None:
        return None
    return InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text=_("👤 Open my cabinet"), web_app=WebAppInfo(url=url))]])


def keyboard_for(customer: Any) -> ReplyKeyboardMarkup:
    return menu_keyboard() if customer is not None else link_keyboard()


def language_keyboard() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code, name in LANGUAGES.items():
        builder.button(text=name, callback_data=SettingsAction(action="lang", value=code))
    return builder.as_markup()


def settings_keyboard(*, linked: bool, opt_in: bool) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for code, name in LANGUAGES.items():
        builder.button(text=name, callback_data=SettingsAction(action="lang", value=code))
    sizes = [len(LANGUAGES)]
    if linked:
        if opt_in:
            builder.button(text=_("🔕 Turn off promotional messages"),
                           callback_data=SettingsAction(action="promo", value="off"))
        else:
            builder.button(text=_("🔔 Turn on promotional messages"),
                           callback_data=SettingsAction(action="promo", value="on"))
        locale = get_i18n().current_locale
        for zone in COMMON_ZONES:
            builder.button(text=zone_name(zone, locale),
                           callback_data=SettingsAction(action="tz", value=zone))
        builder.button(text=_("🌍 Other time zone…"),
                       callback_data=SettingsAction(action="tz_other"))
        sizes += [1, 2, 2, 2, 1]  # a city and its offset: two fit a row
    builder.adjust(*sizes)
    return builder.as_markup()


def move_keyboard(kind: str, ref: str, sig: str = "") -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    builder.button(text=_("✅ Yes, link here"),
                   callback_data=LinkMove(kind=kind, ref=ref, sig=sig, confirm=True))
    builder.button(text=_("✖️ No, keep as is"),
                   callback_data=LinkMove(kind=kind, ref=ref, sig=sig, confirm=False))
    builder.adjust(1)
    return builder.as_markup()
