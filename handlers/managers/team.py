"""`/managers` (owners): the staff list with budgets, adding, changing and removing
managers and analysts, and the latest audit entries.

One handler per sub-command, chosen by its first word in any case (`log`, `add`, `remove`,
`budget`); whatever else follows `/managers` is answered with the usage. Each parses,
calls the domain (`bot.promo.staff.managers`) and answers; a domain refusal (not on the
staff, an owner from the settings) is answered by `handlers.managers.refusals`.
"""

from __future__ import annotations

from aiogram import Bot, F, Router, html
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from magic_filter import MagicFilter
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Role
from bot.i18n import format_when
from bot.promo.errors import DomainError, ErrorCode
from bot.promo.staff import managers
from bot.promo.staff.managers import Staff
from bot.promo.staff.manual_codes import parse_amount
from handlers.commands import refresh_staff_menu
from handlers.managers.access import Allowed
from handlers.managers.common import answer_usage, args_of, money, role_name

AUDIT_SHOWN = 10
ROLES = frozenset(role.value for role in Role)
# What `/managers budget <who> ...` takes for "back to the default budget".
DEFAULT_BUDGET = ("none", "default", "-")


async def show_staff(
    message: Message, read_session: AsyncSession, settings: Settings, i18n: I18n
) -> None:
    """`/managers`: everyone on the staff, with their role and monthly budget."""
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
    """`/managers log`: the latest entries of the audit log, newest first."""
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


def about(action: str) -> MagicFilter:
    """`/managers <action> <who> ...`: the sub-command, in any case, and someone to act on."""
    return F.args.regexp(rf"(?i)^{action}\s+\S")


async def member(
    message: Message, command: CommandObject, session: AsyncSession
) -> tuple[int, list[str]] | None:
    """The Telegram id the sub-command is about and the words after it; None once the
    owner has been told nobody is known by that name."""
    who, *rest = args_of(command.args)[1:]
    telegram_id = await managers.resolve_user(session, who)
    if telegram_id is None:
        await answer_usage(message, "managers", _(
            "I don't know this user: give a Telegram id, or the @username of someone who "
            "has written to the bot."))
        return None
    return telegram_id, rest


async def refuse_amount(message: Message, session: AsyncSession) -> None:
    """Not an amount: the usage. Nothing is to be written, so the write transaction ends
    before the bot talks to Telegram rather than after."""
    await session.rollback()
    await answer_usage(message, "managers")


async def show_usage(message: Message) -> None:
    """`/managers` with a sub-command it does not know, or the wrong words after one."""
    await answer_usage(message, "managers")


async def add_member(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    staff: Staff,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    i18n: I18n,
) -> None:
    """`/managers add <who> <role> [budget]`: onto the staff, or a new role."""
    found = await member(message, command, session)
    if found is None:
        return
    telegram_id, rest = found
    if len(rest) not in (1, 2) or rest[0].lower() not in ROLES:
        await show_usage(message)
        return
    try:
        budget = parse_amount(rest[1], settings.shop.currency) if len(rest) == 2 else None
    except ValueError:
        await refuse_amount(message, session)
        return
    _before, after = await managers.put_staff(
        session, staff, telegram_id=telegram_id, role=Role(rest[0].lower()),
        monthly_budget=budget, telegram=settings.telegram, now=clock())
    await session.commit()
    await message.answer(_("✅ {who} is now {role}.").format(who=telegram_id,
                                                           role=role_name(after["role"])))
    await refresh_staff_menu(bot, session, i18n, settings, telegram_id, Role(after["role"]))


async def remove_member(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    staff: Staff,
    settings: Settings,
    clock: Clock,
    bot: Bot,
    i18n: I18n,
) -> None:
    """`/managers remove <who>`."""
    found = await member(message, command, session)
    if found is None:
        return
    telegram_id, rest = found
    if rest:
        await show_usage(message)
        return
    await managers.remove_staff(session, staff, telegram_id=telegram_id,
                                telegram=settings.telegram, now=clock())
    await session.commit()
    await message.answer(_("✅ {who} is no longer on the staff.").format(who=telegram_id))
    await refresh_staff_menu(bot, session, i18n, settings, telegram_id, None)


async def set_budget(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    staff: Staff,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
) -> None:
    """`/managers budget <who> <amount or none>`: a staff member's monthly budget."""
    found = await member(message, command, session)
    if found is None:
        return
    telegram_id, rest = found
    if len(rest) != 1:
        await show_usage(message)
        return
    current = await managers.staff_member(session, telegram_id, settings.telegram)
    if current is None:
        raise DomainError(ErrorCode.NOT_STAFF, "no such staff member")
    try:
        budget = None if rest[0].lower() in DEFAULT_BUDGET else parse_amount(
            rest[0], settings.shop.currency)
    except ValueError:
        await refuse_amount(message, session)
        return
    await managers.put_staff(session, staff, telegram_id=telegram_id, role=current.role,
                             monthly_budget=budget, telegram=settings.telegram, now=clock())
    await session.commit()
    amount = money(budget, settings, i18n) if budget is not None else _("default")
    await message.answer(_("✅ Budget of {who}: {amount}/month.").format(who=telegram_id,
                                                                       amount=amount))


def create_router() -> Router:
    router = Router(name="managers.team")
    # Every sub-command is for owners; other staff go on to `refuse_role`.
    router.message.filter(Allowed(Role.OWNER))
    router.message.register(show_staff, Command("managers", magic=~F.args))
    router.message.register(show_log, Command("managers", magic=F.args.regexp(r"(?i)^log\s*$")))
    router.message.register(add_member, Command("managers", magic=about("add")))
    router.message.register(remove_member, Command("managers", magic=about("remove")))
    router.message.register(set_budget, Command("managers", magic=about("budget")))
    router.message.register(show_usage, Command("managers"))
    return router
