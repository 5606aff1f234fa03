"""`/issue`, `/revoke` and `/bulk`: codes by hand (managers and owners).

Parse → the domain (`bot.promo.staff.manual_codes`) → render. The domain refuses with the numbers
(guardrail, with the customer's tier; budget), worded by `bot.texts.errors`; nothing is
committed unless the whole action succeeded.
"""

from __future__ import annotations

from aiogram import Router, html
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import I18n, ngettext
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Role
from bot.i18n import format_count
from bot.promo.codes.offers import Offer
from bot.promo.customers.profiles import find_customer
from bot.promo.staff import manual_codes as manual
from bot.promo.staff.managers import Staff
from bot.texts.wording import describe, sample_code
from handlers.managers.access import Allowed
from handlers.managers.common import answer_usage, args_of, money, number_of


def _terms(code: object, i18n: I18n, settings: Settings) -> list[str]:
    return describe(code, i18n.current_locale, settings.shop.zone)  # type: ignore[arg-type]


async def issue(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    staff: Staff,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
) -> None:
    """`/issue <customer> <reward> [days] [min order] [categories]`; the reward may also
    be `gift <SKU> <cost> <days> <name>` or `early <categories> <launch> [percent]`."""
    args = args_of(command.args)
    kind = args[1].lower() if len(args) > 1 else ""
    if kind in _SHAPES:
        offer = await _reward(message, kind, command.args or "", settings)
    elif 2 <= len(args) <= 5:
        offer = await _discount(message, args, settings)
    else:
        await answer_usage(message, "issue")
        return
    if offer is None:
        return
    if offer.launch_at is not None and offer.launch_at <= clock():
        await answer_usage(message, "issue early", _(
            "The launch has passed already: early access is for goods not on sale yet."))
        return
    customer = await find_customer(session, args[0])
    if customer is None:
        await answer_usage(message, "issue", _("No customer matches {who}.").format(who=args[0]))
        return
    issued = await manual.issue_to_customer(
        session, staff, customer, offer, settings=settings, now=clock()
    )
    await session.commit()
    lines = [
        _("✅ Code for {customer}:").format(
            customer=html.quote(customer.name or customer.external_id)
        ),
        html.code(html.quote(issued.code.code)),
    ]
    lines += [f"• {html.quote(line)}" for line in _terms(issued.code, i18n, settings)]
    if issued.not_sent is None:
        lines.append(_("📨 Queued to the customer in Telegram."))
    else:
        why = {
            "no_telegram": _("their Telegram is not linked"),
            "blocked": _("they blocked the bot"),
            "opted_out": _("they turned promotional messages off"),
        }[issued.not_sent]
        lines.append(_("⚠️ Not sent: {why}. Hand the code over another way.").format(why=why))
    if issued.budget.budget:
        lines.append(
            _("Budget: {spent} of {budget} used this month.").format(
                spent=money(issued.budget.spent, settings, i18n),
                budget=money(issued.budget.budget, settings, i18n),
            )
        )
    await message.answer("\n".join(lines))


# Rewards that are not a discount: the word after the customer.
_SHAPES = frozenset({"gift", "early"})


async def _discount(message: Message, args: list[str], settings: Settings) -> Offer | None:
    try:
        return manual.build_offer(
            args[1],
            currency=settings.shop.currency,
            days=args[2] if len(args) > 2 else None,
            min_order=args[3] if len(args) > 3 else None,
            categories=args[4] if len(args) > 4 else None,
        )
    except ValueError:
        await answer_usage(message, "issue", _("I could not read the reward or conditions."))
        return None


async def _reward(message: Message, kind: str, text: str, settings: Settings) -> Offer | None:
    """A gift or early access, from the words after `/issue <customer> gift|early`."""
    shop = settings.shop
    try:
        if kind == "gift":
            # The gift's name takes the rest of the line.
            words = text.split(maxsplit=5)[2:]
            if len(words) != 4:
                raise ValueError("gift <SKU> <cost> <days> <name>")
            return manual.build_gift_offer(*words, currency=shop.currency)
        words = text.split()[2:]
        if not 2 <= len(words) <= 3:
            raise ValueError("early <categories> <launch> [percent]")
        return manual.build_early_offer(words[0], words[1], words[2] if len(words) > 2 else None,
                                        currency=shop.currency, zone=shop.zone)
    except ValueError:
        problem = (_("I could not read the gift: its SKU, its cost price, the days and its name.")
                   if kind == "gift" else
                   _("I could not read the early access: the categories, the launch date and "
                     "maybe a percent."))
        await answer_usage(message, f"issue {kind}", problem)
        return None


async def revoke(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    staff: Staff,
    clock: Clock,
) -> None:
    """`/revoke <code> [reason]`."""
    text = (command.args or "").strip()
    if not text:
        await answer_usage(message, "revoke")
        return
    code_text, _sep, reason = text.partition(" ")
    code = await manual.revoke(session, staff, code_text, reason, now=clock())
    await session.commit()
    await message.answer(
        _("✅ Code {code} is revoked.").format(code=html.code(html.quote(code.code)))
    )


async def bulk(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    staff: Staff,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
) -> None:
    """`/bulk <campaign> <N>`: N unbound codes as a CSV document."""
    args = args_of(command.args)
    if len(args) != 2 or None in map(number_of, args):
        await answer_usage(message, "bulk")
        return
    made = await manual.issue_for_campaign(
        session, staff, int(args[0]), int(args[1]), settings=settings, now=clock()
    )
    terms = _terms(sample_code(made.offer, expires_at=made.expires_at), i18n, settings)
    document = manual.bulk_csv(made.codes, terms, made.expires_at)
    # Sent before the commit: if Telegram refuses the upload, no codes exist that nobody
    # has (the error handler tells the manager, the transaction rolls back).
    await message.answer_document(
        BufferedInputFile(document, filename=f"campaign-{made.campaign.id}-codes.csv"),
        caption=ngettext("✅ {count} code of campaign #{id} ({name}).",
                         "✅ {count} codes of campaign #{id} ({name}).", len(made.codes)).format(
            count=format_count(len(made.codes), i18n.current_locale), id=made.campaign.id,
            name=html.quote(made.campaign.name),
        ),
    )
    await session.commit()


def create_router() -> Router:
    router = Router(name="managers.codes")
    router.message.register(issue, Command("issue"), Allowed(Role.MANAGER))
    router.message.register(revoke, Command("revoke"), Allowed(Role.MANAGER))
    router.message.register(bulk, Command("bulk"), Allowed(Role.MANAGER))
    return router
