"""`/settings` and `/lang`: language, promotional messages on/off, time zone for reminders.

Language works before linking (it is kept on the Telegram account); the rest belongs to
the customer. A time zone not among the buttons is typed as an IANA name.
"""

from __future__ import annotations

from aiogram import F, Router, html
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Customer
from bot.i18n import LANGUAGES, zone_name
from bot.promo.customers import accounts
from bot.promo.customers.accounts import Who
from handlers.filters import Magic
from handlers.keyboards import (
    BTN_SETTINGS,
    MenuButton,
    SettingsAction,
    keyboard_for,
    language_keyboard,
    settings_keyboard,
)


class SettingsForm(StatesGroup):
    zone = State()


def settings_text(customer: Customer | None, locale: str, settings: Settings) -> str:
    lines = [_("⚙️ Settings"), "", _("Language: {language}").format(language=LANGUAGES[locale])]
    if customer is None:
        lines += ["", _("Link your shop account to choose promotional messages and your "
                        "time zone.")]
        return "\n".join(lines)
    promo = _("on") if customer.marketing_opt_in else _("off")
    zone = customer.timezone or settings.shop.timezone
    lines += [
        _("Promotional messages: {state}").format(state=promo),
        _("Time zone for reminders: {zone}").format(zone=html.quote(zone_name(zone, locale))),
    ]
    return "\n".join(lines)


async def show_settings(
    message: Message, customer: Customer | None, settings: Settings, i18n: I18n
) -> None:
    """The current choices with buttons to change them."""
    opt_in = bool(customer and customer.marketing_opt_in)
    await message.answer(
        settings_text(customer, i18n.current_locale, settings),
        reply_markup=settings_keyboard(linked=customer is not None, opt_in=opt_in),
    )


async def choose_language(message: Message) -> None:
    """Just the language buttons."""
    await message.answer(_("Choose your language:"), reply_markup=language_keyboard())


async def _reload(session: AsyncSession, who: Who) -> Customer | None:
    _account, customer = await accounts.load(session, who.id)
    return customer


async def set_language(
    callback: CallbackQuery,
    callback_data: SettingsAction,
    session: AsyncSession,
    who: Who,
    customer: Customer | None,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
) -> None:
    """Save the language and answer in it straight away."""
    locale = callback_data.value
    if locale not in LANGUAGES:
        await callback.answer()
        return
    await accounts.set_locale(session, who.id, customer.id if customer else None, locale, clock())
    customer = await _reload(session, who)
    await session.commit()
    with i18n.use_locale(locale):
        await callback.answer(_("Language: {language}").format(language=LANGUAGES[locale]))
        if isinstance(callback.message, Message):
            await callback.message.edit_text(
                settings_text(customer, locale, settings),
                reply_markup=settings_keyboard(
                    linked=customer is not None, opt_in=bool(customer and customer.marketing_opt_in)
                ),
            )
            # The reply keyboard's texts change with the language: send it anew.
            await callback.message.answer(
                _("Done! I will speak English now."), reply_markup=keyboard_for(customer)
            )


async def linked_only(
    callback: CallbackQuery,
    callback_data: SettingsAction,
    session: AsyncSession,
    state: FSMContext,
    who: Who,
    customer: Customer | None,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
) -> None:
    """Promotional messages and the time zone: the customer's settings."""
    if customer is None or not isinstance(callback.message, Message):
        await callback.answer(_("Link your shop account first."), show_alert=True)
        return
    if callback_data.action == "tz_other":
        await state.set_state(SettingsForm.zone)
        await callback.answer()
        await callback.message.answer(_(
            "Type your time zone, for example Asia/Almaty or Europe/Berlin."
        ))
        return
    if callback_data.action == "promo":
        opt_in = callback_data.value == "on"
        await accounts.set_marketing(session, customer.id, opt_in, clock())
        note = _("Promotional messages are on.") if opt_in else _(
            "Promotional messages are off. Messages about your orders and codes still come."
        )
    else:
        if accounts.valid_zone(callback_data.value) is None:
            await callback.answer()
            return
        await accounts.set_timezone(session, customer.id, callback_data.value, clock())
        note = _("Time zone saved.")
    customer = await _reload(session, who)
    await session.commit()
    await callback.answer(note)
    await callback.message.edit_text(
        settings_text(customer, i18n.current_locale, settings),
        reply_markup=settings_keyboard(linked=True, opt_in=bool(customer and
                                                               customer.marketing_opt_in)),
    )


async def typed_zone(
    message: Message,
    session: AsyncSession,
    state: FSMContext,
    customer: Customer | None,
    clock: Clock,
    i18n: I18n,
) -> None:
    """A typed IANA zone name: saved when Python knows it, asked again when not."""
    if customer is None:
        await state.clear()
        return
    zone = accounts.valid_zone(message.text or "")
    if zone is None:
        await message.answer(_(
            "I don't know this time zone. Examples: Europe/Moscow, Asia/Almaty, "
            "America/New_York."
        ))
        return
    await accounts.set_timezone(session, customer.id, zone, clock())
    await session.commit()
    await state.clear()
    await message.answer(_("Time zone saved: {zone}").format(
        zone=html.quote(zone_name(zone, i18n.current_locale))))


def create_router() -> Router:
    router = Router(name="settings")
    router.message.filter(Magic(F.chat.type == "private"))
    router.message.register(show_settings, Command("settings"))
    router.message.register(show_settings, MenuButton(BTN_SETTINGS))
    router.message.register(choose_language, Command("lang"))
    router.callback_query.register(set_language, SettingsAction.filter(F.action == "lang"))
    router.callback_query.register(
        linked_only, SettingsAction.filter(F.action.in_({"promo", "tz", "tz_other"}))
    )
    router.message.register(
        typed_zone, StateFilter(SettingsForm.zone), Magic(F.text), Magic(~F.text.startswith("/"))
    )
    return router
