"""`/customer <who>`: one customer as the staff see them (every role)."""

from __future__ import annotations

from datetime import timedelta

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.i18n import format_when
from bot.promo.codes.offers import Offer
from bot.promo.customers import card as customer_card
from bot.promo.customers.profiles import find_customer
from bot.texts.wording import reward_text
from handlers.managers.common import answer_usage, args_of, money


def state_name(state: str) -> str:
    names = {"active": _("active"), "used": _("used"), "expired": _("expired"),
             "revoked": _("revoked"), "waiting": _("not delivered yet")}
    return names.get(state, state)


def window_text(window: timedelta) -> str:
    if window.days and not window.seconds:
        return _("{days} d").format(days=window.days)
    return _("{hours} h").format(hours=round(window.total_seconds() / 3600, 1))


async def show_customer(
    message: Message,
    command: CommandObject,
    read_session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
) -> None:
    """Tier, spend, orders, segments, codes, recent messages, frequency caps."""
    args = args_of(command.args)
    if len(args) != 1:
        await answer_usage(message, "customer")
        return
    customer = await find_customer(read_session, args[0])
    if customer is None:
        await answer_usage(message, "customer", _("No customer matches {who}.").format(
            who=args[0]))
        return
    now, locale, tz = clock(), i18n.current_locale, settings.shop.zone
    seen = await customer_card.card(read_session, customer, settings=settings, now=now)
    when = (lambda moment: format_when(moment, locale, tz))  # noqa: E731
    telegram = _("not linked")
    if seen.account is not None:
        telegram = f"{seen.account.id}" + (f" @{html.quote(seen.account.username)}"
                                           if seen.account.username else "")
        if seen.account.is_blocked:
            telegram += " " + _("(blocked the bot)")
    tier = seen.tier
    lines = [
        _("👤 {name} (shop id {id})").format(name=html.quote(customer.name or "—"),
                                            id=html.quote(customer.external_id)),
        _("Telegram: {telegram}").format(telegram=telegram),
        _("Level: {level} ({percent}%), net spend {spend}").format(
            level=tier.current.index if tier.current else 0, percent=tier.percent,
            spend=money(customer.net_spend, settings, i18n)),
        _("Orders: {count}, last: {last}").format(
            count=customer.orders_count,
            last=when(customer.last_order_at) if customer.last_order_at else "—"),
        _("Segments: {segments}").format(segments=", ".join(seen.segments) or "—"),
        _("Promotional messages: {state}").format(
            state=_("on") if customer.marketing_opt_in else _("off")),
        "",
        _("Codes:") if seen.codes else _("Codes: none"),
    ]
    for code in seen.codes:
        state = customer_card.code_state(code, now)
        lines.append(f"• {html.code(html.quote(code.code))} "
                     f"{html.quote(reward_text(Offer.of_code(code), locale))} — "
                     f"{state_name(state)}")
    lines += ["", _("Recent messages:") if seen.messages else _("Recent messages: none")]
    for sent in seen.messages:
        moment = sent.sent_at or sent.due_at
        lines.append(f"• {when(moment)} {html.quote(sent.reason)}: {html.quote(sent.status)}")
    caps = []
    for state in seen.caps:
        text = _("{used} of {count} per {window}").format(
            used=state.used, count=state.cap.count, window=window_text(state.cap.window))
        if state.until is not None:
            text += " " + _("(full until {when})").format(when=when(state.until))
        caps.append(text)
    lines += ["", _("Frequency caps: {caps}").format(caps="; ".join(caps) or "—")]
    await message.answer("\n".join(lines))


def create_router() -> Router:
    router = Router(name="managers.customers")
    router.message.register(show_customer, Command("customer"))
    return router
