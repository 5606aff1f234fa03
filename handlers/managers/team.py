"""`/managers` (owners): the staff list with budgets, adding, changing and removing
managers and analysts, and the latest audit entries."""

from __future__ import annotations

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Role
from bot.i18n import format_when
from bot.promo.errors import DomainError, ErrorCode
from bot.promo.staff import managers
from bot.promo.staff.managers import Staff
from bot.promo.staff.manual_codes import parse_amount
from handlers.managers.access import Allowed
from handlers.managers.common import answer_usage, args_of, money, role_name

AUDIT_SHOWN = 10


async def show_staff(
    message: Message, read_session: AsyncSession, settings: Settings, i18n: I18n
) -> None:
    rows = await managers.list_staff(read_session, settings.telegram)
    lines = [_("👥 Staff:")]
    for row in rows:
        who = f"{row.telegram_id}" + (f" (@{html.quote(row.username)})" if row.username else "")
        budget = ""
        if row.role != Role.OWNER.value:
            amount = row.monthly_budget if row.monthly_budget is not None else (
                settings.staff.monthly_budget)
            budget = " — " + (_("budget {amount}/month").format(amount=money(amount, settings,
                                                                                i18n))
                              if amount else _("no budget limit"))
        lines.append(f"• {who}: {role_name(row.role)}{budget}")
    await message.answer("\n".join(lines))


async def show_log(
    message: Message, read_session: AsyncSession, settings: Settings, i18n: I18n
) -> None:
    rows = await managers.recent_audit(read_session, AUDIT_SHOWN)
    if not rows:
        await message.answer(_("The audit log is empty."))
        return
    lines = [_("📝 Latest actions:")]
    for row in rows:
        when = format_when(row.created_at, i18n.current_locale, settings.shop.zone)
        target = f" {html.quote(row.entity)} {html.quote(row.entity_id or '')}".rstrip()
        lines.append(f"• {when} {html.quote(row.actor)}: {html.quote(row.action)}{target}")
    await message.answer("\n".join(lines))


async def managers_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    read_session: AsyncSession,
    staff: Staff,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
) -> None:
    """`/managers`, `add`, `remove`, `budget`, `log`."""
    args = args_of(command.args)
    if not args:
        await show_staff(message, read_session, settings, i18n)
        return
    action, rest = args[0].lower(), args[1:]
    if action == "log" and not rest:
        await show_log(message, read_session, settings, i18n)
        return
    if action not in ("add", "remove", "budget") or not rest:
        await answer_usage(message, "managers")
        return
    telegram_id = await managers.resolve_user(session, rest[0])
    if telegram_id is None:
        await answer_usage(message, "managers", _(
            "I don't know this user: give a Telegram id, or the @username of someone who "
            "has written to the bot."))
        return
    try:
        if action == "add":
            if len(rest) not in (2, 3) or rest[1].lower() not in {r.value for r in Role}:
                await answer_usage(message, "managers")
                return
            budget = parse_amount(rest[2], settings.shop.currency) if len(rest) == 3 else None
            _before, after = await managers.put_staff(
                session, staff, telegram_id=telegram_id, role=Role(rest[1].lower()),
                monthly_budget=budget, telegram=settings.telegram, now=clock())
            text = _("✅ {who} is now {role}.").format(who=telegram_id,
                                                     role=role_name(after["role"]))
        elif action == "remove":
            if len(rest) != 1:
                await answer_usage(message, "managers")
                return
            await managers.remove_staff(session, staff, telegram_id=telegram_id,
                                        telegram=settings.telegram, now=clock())
            text = _("✅ {who} is no longer on the staff.").format(who=telegram_id)
        else:
            if len(rest) != 2:
                await answer_usage(message, "managers")
                return
            current = await managers.staff_member(session, telegram_id, settings.telegram)
            if current is None:
                raise DomainError(ErrorCode.NOT_STAFF, "no such staff member")
            budget = None if rest[1].lower() in ("none", "default", "-") else parse_amount(
                rest[1], settings.shop.currency)
            await managers.put_staff(session, staff, telegram_id=telegram_id,
                                     role=current.role, monthly_budget=budget,
                                     telegram=settings.telegram, now=clock())
            text = _("✅ Budget of {who}: {amount}/month.").format(
                who=telegram_id,
                amount=money(budget, settings, i18n) if budget is not None else _("default"))
    except ValueError:
        await session.rollback()
        await answer_usage(message, "managers")
        return
    await session.commit()
    await message.answer(text)


def create_router() -> Router:
    router = Router(name="managers.team")
    router.message.register(managers_command, Command("managers"), Allowed(Role.OWNER))
    return router
