"""What every manager command shares: usage texts, refusals worded from domain errors,
money in the manager's language, and argument splitting."""

from __future__ import annotations

from aiogram import html
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n, get_i18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.i18n import format_money
from bot.promo.errors import DomainError
from bot.promo.staff.managers import Staff
from bot.texts.campaigns import status_name as campaign_status
from bot.texts.errors import Reader, refusal_text


def usages() -> dict[str, tuple[str, str]]:
    """Command → (usage, example), in the current language."""
    return {
        "issue": (
            _("/issue <customer> <reward> [days] [min order] [categories]; the reward is 10%, "
              "500, free-shipping, or gift / early (see their usage)"),
            _("/issue +79161234567 10% 14 3000 shoes,-sale"),
        ),
        "issue gift": (
            _("/issue <customer> gift <SKU> <cost price> <days> <name of the gift>"),
            _("/issue +79161234567 gift MUG-01 250 30 Mug with our logo"),
        ),
        "issue early": (
            _("/issue <customer> early <categories> <launch: YYYY-MM-DD or YYYY-MM-DDTHH:MM> "
              "[percent]"),
            _("/issue @anna_k early spring-2027 2027-03-01 10%"),
        ),
        "revoke": (_("/revoke <code> [reason]"), _("/revoke AB12CD34EF sent by mistake")),
        "bulk": (_("/bulk <campaign id> <number of codes>"), _("/bulk 3 500")),
        "customer": (_("/customer <shop id, phone, @username or Telegram id>"),
                     _("/customer @anna_k")),
        "campaign": (_("/campaign new | /campaign <id> [start|pause|resume|stop] | "
                       "/campaign budget <id> <amount or -> [uses or -]"),
                     _("/campaign 3 pause")),
        "campaign budget": (_("/campaign budget <campaign id> <amount or -> [uses or -]"),
                            _("/campaign budget 3 50000 200")),
        "preview": (_("/preview <campaign id>"), _("/preview 3")),
        "stats": (_("/stats [campaign id] [days] | /stats survey <id>"), _("/stats 3 30")),
        "survey": (_("/survey new | /survey [id] | /survey send <id> | /survey close <id>"),
                   _("/survey 2")),
        "export": (_("/export [campaign id] [days]"), _("/export 3 30")),
        "managers": (
            _("/managers [add <id or @username> <owner|manager|analyst> [budget] | "
              "remove <id> | budget <id> <amount or none> | log]"),
            _("/managers add @olga manager 20000"),
        ),
    }


def usage_text(command: str, problem: str | None = None) -> str:
    usage, example = usages()[command]
    lines = [html.quote(problem)] if problem else []
    lines += [_("Usage: {usage}").format(usage=html.quote(usage)),
              _("Example: {example}").format(example=html.quote(example))]
    return "\n".join(lines)


async def answer_usage(message: Message, command: str, problem: str | None = None) -> None:
    await message.answer(usage_text(command, problem))


def money(amount: int, settings: Settings, i18n: I18n) -> str:
    return format_money(amount, settings.shop.currency, i18n.current_locale)


def args_of(text: str | None) -> list[str]:
    return (text or "").split()


# Ids are INTEGER columns: a longer number names no row, and the database refuses it
# outright rather than finding nothing.
MAX_NUMBER = 2**31 - 1


def number_of(text: str) -> int | None:
    """A whole number in ASCII digits that fits an id; None for anything else, the usage's
    cue (`str.isdigit` alone also passes "²", which `int` refuses)."""
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    return number if number <= MAX_NUMBER else None


def error_text(error: DomainError, settings: Settings, i18n: I18n) -> str:
    """A domain refusal in the manager's words (`bot.texts.errors`), escaped for HTML."""
    reader = Reader(locale=i18n.current_locale, currency=settings.shop.currency)
    return html.quote(refusal_text(error, reader))


def status_name(status: str) -> str:
    return html.quote(campaign_status(status, get_i18n().current_locale))


def role_name(role: str) -> str:
    names = {"owner": _("owner"), "manager": _("manager"), "analyst": _("analyst")}
    return names.get(role, html.quote(role))


async def refuse_role(message: Message, staff: Staff) -> None:
    """A staff member used a command above their role."""
    await message.answer(_("Your role ({role}) does not allow this command.").format(
        role=role_name(staff.role)))


async def refuse_button(callback: CallbackQuery, staff: Staff) -> None:
    await callback.answer(_("Your role ({role}) does not allow this.").format(
        role=role_name(staff.role)), show_alert=True)
