"""`/codes`: the customer's active codes, worded by `bot.texts.wording.describe`."""

from __future__ import annotations

from aiogram import F, Router, html
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.clock import Clock
from bot.config import Settings
from bot.db.engine import Database
from bot.db.models import Customer
from bot.i18n import zone
from bot.promo.checkout.validation import CodeLike
from bot.promo.codes.wallet import wallet
from bot.texts.wording import describe
from handlers.filters import Linked, Magic
from handlers.keyboards import BTN_CODES, MenuButton, cabinet_keyboard

# Telegram's message limit is 4096 characters; a wallet rarely holds more than a few codes.
MAX_CODES_SHOWN = 20


def render_code(code: CodeLike, locale: str, settings: Settings, customer: Customer) -> str:
    lines = describe(code, locale, zone(customer.timezone, settings.shop.timezone))
    body = "\n".join(f"• {html.quote(line)}" for line in lines)
    return f"{html.code(html.quote(code.code))}\n{body}"


async def show_codes(
    message: Message,
    db: Database,
    customer: Customer,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
) -> None:
    """The wallet: code (tap to copy), reward, conditions, deadline."""
    codes = await wallet(db.hot, customer.id, clock())
    cabinet = cabinet_keyboard(settings.webapp.url)
    if not codes:
        await message.answer(_(
            "You have no active codes right now. New ones come as a thank-you for your "
            "orders, reviews and invited friends."
        ), reply_markup=cabinet)
        return
    locale = i18n.current_locale
    parts = [_("🎟 Your personal codes (tap a code to copy it):")]
    parts += [render_code(code, locale, settings, customer) for code in codes[:MAX_CODES_SHOWN]]
    if len(codes) > MAX_CODES_SHOWN:
        parts.append(_("…and {count} more.").format(count=len(codes) - MAX_CODES_SHOWN))
    await message.answer("\n\n".join(parts), reply_markup=cabinet)


def create_router() -> Router:
    router = Router(name="codes")
    router.message.filter(Magic(F.chat.type == "private"), Linked())
    router.message.register(show_codes, Command("codes"))
    router.message.register(show_codes, MenuButton(BTN_CODES))
    return router
