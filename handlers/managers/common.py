"""What every manager command shares: usage texts, refusals worded from domain errors,
money in the manager's language, and argument splitting."""

from __future__ import annotations

from aiogram import html
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import format_money
from bot.promo.errors import DomainError
from bot.promo.staff.managers import Staff


def usages() -> dict[str, tuple[str, str]]:
    """Command → (usage, example), in the current language."""
    return {
        "issue": (
            _("/issue <customer> <reward> [days] [min order] [categories]"),
            _("/issue +79161234567 10% 14 3000 shoes,-sale"),
        ),
        "revoke": (_("/revoke <code> [reason]"), _("/revoke AB12CD34EF sent by mistake")),
        "bulk": (_("/bulk <campaign id> <number of codes>"), _("/bulk 3 500")),
        "customer": (_("/customer <shop id, phone, @username or Telegram id>"),
                     _("/customer @anna_k")),
        "campaign": (_("/campaign new | /campaign <id> [pause|resume|stop]"),
                     _("/campaign 3 pause")),
        "preview": (_("/preview <campaign id>"), _("/preview 3")),
        "stats": (_("/stats [campaign id] [days]"), _("/stats 3 30")),
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


async def refuse(
    message: Message, session: AsyncSession, error: DomainError, settings: Settings, i18n: I18n
) -> None:
    """Undo whatever the action wrote, and say why it was refused."""
    await session.rollback()
    await message.answer(error_text(error, settings, i18n))


async def answer_usage(message: Message, command: str, problem: str | None = None) -> None:
    await message.answer(usage_text(command, problem))


def money(amount: int, settings: Settings, i18n: I18n) -> str:
    return format_money(amount, settings.currency, i18n.current_locale)


def args_of(text: str | None) -> list[str]:
    return (text or "").split()


def error_text(error: DomainError, settings: Settings, i18n: I18n) -> str:
    """A domain refusal in the manager's words, with the numbers behind it."""
    p = error.params
    if error.code == "guardrail":
        return _(
            "⛔ Refused by the margin guardrail: the discount is {requested} but the ceiling "
            "is {ceiling}: net profit per order {profit} ÷ average order {aov}, less a "
            "safety margin of {safety}."
        ).format(
            requested=f"{p['requested_percent']}%", ceiling=f"{p['ceiling_percent']}%",
            profit=money(p["net_profit"], settings, i18n),
            aov=money(p["average_order_value"], settings, i18n),
            safety=f"{int(p['safety_share'] * 100)}%",
        )
    if error.code == "budget":
        return _(
            "⛔ Over your monthly discount budget: this would cost about {requested}, and you "
            "have {left} left of {budget} (spent {spent} this month)."
        ).format(requested=money(p["requested"], settings, i18n),
                 left=money(p["left"], settings, i18n),
                 budget=money(p["budget"], settings, i18n),
                 spent=money(p["spent"], settings, i18n))
    texts = {
        "unknown_code": _("There is no such code."),
        "already_revoked": _("This code is revoked already."),
        "unknown_campaign": _("There is no such campaign."),
        "campaign_stopped": _("This campaign is stopped."),
        "no_offer": _("This campaign has no discount offer, so it has no codes to issue."),
        "invalid_count": _("The number of codes is 1 to {maximum}."),
        "configured_owner": _("Owners listed in PROMOBOT_OWNER_IDS stay owners; change the "
                              "setting to change that."),
        "not_staff": _("This person is not on the staff."),
        "invalid_budget": _("A budget cannot be negative."),
        "bad_transition": _("The campaign is {status}: “{action}” does not apply to it."),
        "code_space_exhausted": _("Could not draw that many unique codes; try fewer."),
    }
    text = texts.get(error.code)
    if text is None:
        return _("⛔ Refused: {reason}").format(reason=html.quote(error.message))
    values = {k: html.quote(str(v)) for k, v in p.items()}
    if "status" in p:
        values["status"] = status_name(str(p["status"]))
    return text.format(**values)


def status_name(status: str) -> str:
    names = {"draft": _("draft"), "active": _("active"), "paused": _("paused"),
             "stopped": _("stopped")}
    return names.get(status, html.quote(status))


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
