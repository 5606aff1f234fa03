"""The bot's commands as people see them: `/help`'s lists and Telegram's command menus.

Shoppers get one menu for all private chats (per language). Each staff member's chat
gets a menu of its own — the shopper commands, then those of their role, in their
language — set at start-up and again when `/managers` adds, changes or removes them, so
that nobody sees a command they may not use. Texts are made in the current language:
inside an update, or under `i18n.use_locale` outside one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import Bot, html
from aiogram.exceptions import TelegramAPIError
from aiogram.types import BotCommand, BotCommandScopeChat
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db import Database
from bot.db.models import Role
from bot.promo.staff.managers import LEVELS
from bot.promo.staff.menus import menu_readers, reader_locale
from handlers.managers.common import role_name, usages

log = logging.getLogger(__name__)


def shopper_commands() -> list[tuple[str, str]]:
    """Shopper commands for /help and for Telegram's command menu."""
    return [
        ("codes", _("your active promo codes")),
        ("tier", _("your loyalty level and progress")),
        ("invite", _("your invitation link for friends")),
        ("settings", _("language, promotional messages, time zone")),
        ("lang", _("change the language")),
        ("help", _("what I can do")),
    ]


@dataclass(frozen=True, slots=True)
class StaffCommand:
    name: str
    role: Role  # the least role that may use it
    about: str
    example: str


def staff_commands(role: Role) -> list[StaffCommand]:
    """The staff commands `role` may use, the most used first, each with an example."""
    example = {name: sample for name, (_usage, sample) in usages().items()}
    acts = LEVELS[role] >= LEVELS[Role.MANAGER]
    every = [
        StaffCommand("campaign", Role.ANALYST,
                     _("create a campaign, start, pause or stop one") if acts
                     else _("one campaign: its offer, budget and sending"),
                     "/campaign new" if acts else "/campaign 3"),
        StaffCommand("campaigns", Role.ANALYST, _("campaigns and their state"), "/campaigns"),
        StaffCommand("preview", Role.ANALYST,
                     _("who a campaign will reach and what it will cost"), example["preview"]),
        StaffCommand("stats", Role.ANALYST, _("results of a campaign or of all of them"),
                     example["stats"]),
        StaffCommand("export", Role.ANALYST, _("the same results as a CSV file"),
                     example["export"]),
        StaffCommand("analyze", Role.ANALYST,
                     _("the customer base: who comes back, when, what they buy again"),
                     "/analyze"),
        StaffCommand("survey", Role.ANALYST,
                     _("ask customers a question in a poll, read the answers") if acts
                     else _("surveys and their answers"),
                     "/survey new" if acts else example["survey"]),
        StaffCommand("customer", Role.ANALYST, _("a customer's card: level, codes, messages"),
                     example["customer"]),
        StaffCommand("issue", Role.MANAGER, _("give a customer a personal code"),
                     example["issue"]),
        StaffCommand("revoke", Role.MANAGER, _("cancel a code"), example["revoke"]),
        StaffCommand("bulk", Role.MANAGER, _("codes of a campaign as a CSV file"),
                     example["bulk"]),
        StaffCommand("managers", Role.OWNER, _("staff, their roles and budgets, the log"),
                     example["managers"]),
    ]
    return [command for command in every if LEVELS[role] >= LEVELS[command.role]]


def staff_help(role: Role) -> str:
    """The staff part of `/help`: the role, then each command with an example."""
    lines = [_("<b>Staff commands</b> (your role: {role}):").format(role=role_name(role))]
    for command in staff_commands(role):
        lines.append(f"/{command.name} — {html.quote(command.about)}")
        lines.append("    " + _("e.g. {example}").format(
            example=f"<code>{html.quote(command.example)}</code>"))
    return "\n".join(lines)


def menu(role: Role | None) -> list[BotCommand]:
    """A command menu: the shopper's, then the staff commands of `role`."""
    commands = [BotCommand(command=name, description=about) for name, about in shopper_commands()]
    if role is not None:
        commands += [BotCommand(command=c.name, description=c.about)
                     for c in staff_commands(role)]
    return commands


async def set_staff_menu(
    bot: Bot, i18n: I18n, telegram_id: int, role: Role | None, locale: str
) -> None:
    """The menu of one staff member's chat; `role=None` takes it away (back to the
    shoppers' menu). Telegram refusing (a chat that never opened the bot) is logged only:
    the next start-up or change tries again."""
    scope = BotCommandScopeChat(chat_id=telegram_id)
    try:
        if role is None:
            await bot.delete_my_commands(scope=scope)
            return
        with i18n.context(), i18n.use_locale(locale):
            commands = menu(role)
        await bot.set_my_commands(commands, scope=scope)
    except TelegramAPIError as error:
        log.warning("staff command menu of chat %s not set: %s", telegram_id, error.message)


async def refresh_staff_menu(bot: Bot, session: AsyncSession, i18n: I18n, settings: Settings,
                             telegram_id: int, role: Role | None) -> None:
    """After `/managers` changed someone: their chat's menu, in their language."""
    locale = await reader_locale(session, telegram_id, settings.shop.default_locale)
    await set_staff_menu(bot, i18n, telegram_id, role, locale)


async def set_staff_menus(bot: Bot, db: Database, settings: Settings, i18n: I18n) -> None:
    """At start-up: every staff member's chat gets the menu of their role."""
    async with db.read_session() as session:
        readers = await menu_readers(session, settings.telegram, settings.shop.default_locale)
    for reader in readers:
        await set_staff_menu(bot, i18n, reader.telegram_id, reader.role, reader.locale)
