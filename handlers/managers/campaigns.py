"""`/campaigns`, `/campaign <id> [pause|resume|stop|start]` with buttons,
`/campaign budget <id> <amount> [uses]`, and `/preview`.

Reading is for every staff role; changing a campaign's state or budget needs a manager.
"""

from __future__ import annotations

from aiogram import Bot, Dispatcher, F, Router, html
from aiogram.filters import Command, CommandObject
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

import handlers.managers.progress as live
from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Campaign, CampaignStatus, Role
from bot.delivery.progress import progress
from bot.i18n import format_percent, format_span
from bot.promo.campaigns import admin as campaign_admin
from bot.promo.campaigns import budget
from bot.promo.campaigns.admin import ACTIONS, RUN_ACTIONS, Counts
from bot.promo.codes.offers import Offer
from bot.promo.staff.managers import Staff
from bot.promo.staff.manual_codes import parse_amount
from bot.texts import campaign_preview
from bot.texts.campaigns import budget_lines
from bot.texts.segments import segment_name
from handlers.managers.access import Allowed
from handlers.managers.common import (
    answer_usage,
    args_of,
    number_of,
    refuse_role,
    status_name,
)

# State changes after which the campaign runs at once and the manager gets a live
# progress message.
LIVE_ACTIONS = RUN_ACTIONS
# What `/campaign budget` takes for "no budget of this kind".
NO_BUDGET = frozenset({"-", "none", "нет"})


class CampaignAction(CallbackData, prefix="mgrc"):
    """A button on a campaign card: `show`, or a state change."""

    id: int
    action: str


def kind_name(kind: str) -> str:
    names = {
        "comeback": _("comeback"),
        "review": _("review reward"),
        "cart": _("abandoned cart"),
        "referral": _("referral"),
        "broadcast": _("manual broadcast"),
        "moments": _("anniversaries and birthdays"),
        "new_category": _("try a new category"),
        "action": _("rewarded action"),
    }
    return names.get(kind, html.quote(kind))


def action_name(action: str) -> str:
    names = {
        "start": _("▶️ Start"),
        "pause": _("⏸ Pause"),
        "resume": _("▶️ Resume"),
        "stop": _("⏹ Stop"),
    }
    return names[action]


def card_keyboard(campaign: Campaign) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for action, (sources, _target) in ACTIONS.items():
        if campaign.status in sources:
            builder.button(
                text=action_name(action),
                callback_data=CampaignAction(id=campaign.id, action=action),
            )
    builder.button(
        text=_("🔄 Refresh"), callback_data=CampaignAction(id=campaign.id, action="show")
    )
    builder.adjust(3)
    return builder.as_markup()


def summary_line(campaign: Campaign, counts: Counts) -> str:
    return _(
        "#{id} {name} — {kind}, {status}: sent {sent}/{queued}, redeemed {redeemed}, "
        "holdout {holdout}"
    ).format(
        id=campaign.id,
        name=html.quote(campaign.name),
        kind=kind_name(campaign.kind),
        status=status_name(campaign.status),
        sent=counts.sent,
        queued=counts.queued,
        redeemed=counts.redeemed,
        holdout=counts.holdout,
    )


async def list_campaigns(message: Message, read_session: AsyncSession) -> None:
    """`/campaigns`: the latest campaigns with state and counts."""
    rows = await campaign_admin.list_campaigns(read_session)
    if not rows:
        await message.answer(_("No campaigns yet. Create one with /campaign new."))
        return
    lines = [_("📣 Campaigns:")] + [f"• {summary_line(c, n)}" for c, n in rows]
    lines.append(html.quote(_("Details: /campaign <id>")))
    await message.answer("\n".join(lines))


async def card_text(
    session: AsyncSession, campaign_id: int, settings: Settings, i18n: I18n, clock: Clock
) -> tuple[str, Campaign]:
    campaign, variants = await campaign_admin.load(session, campaign_id)
    found = (await campaign_admin.counts(session, [campaign_id]))[campaign_id]
    sent = await progress(session, campaign_id, now=clock(), rate=settings.send.delivery_rate)
    lines = [f"<b>{summary_line(campaign, found)}</b>"]
    if campaign.segment:
        lines.append(_("Segment: {segment}").format(
            segment=html.quote(segment_name(campaign.segment, i18n.current_locale))))
    if (campaign.offer or {}).get("discount_type"):
        lines.append(
            _("Offer: {offer}").format(
                offer=campaign_preview.offer_line(
                    Offer.from_json(campaign.offer), i18n.current_locale
                )
            )
        )
    for variant in variants:
        data = {**(campaign.offer or {}), **(variant.offer or {})}
        text = (
            campaign_preview.offer_line(Offer.from_json(data), i18n.current_locale)
            if data.get("discount_type")
            else "—"
        )
        lines.append(
            _("Variant {name} (weight {weight}): {offer}").format(
                name=html.quote(variant.name), weight=variant.weight, offer=text
            )
        )
    lines.append(_("Holdout: {percent}").format(
        percent=format_percent(campaign.holdout_percent, i18n.current_locale)))
    if campaign.optimise:
        lines.append(_("Split: optimised towards the most profitable variant"))
    if campaign.schedule:
        lines.append(_("Schedule: {schedule}").format(schedule=html.quote(campaign.schedule)))
    lines += budget_text(campaign, settings, i18n)
    lines.append(
        _("Messages: {sent} sent, {pending} waiting, {failed} failed, {skipped} held back").format(
            sent=sent.sent, pending=sent.pending, failed=sent.failed, skipped=sent.skipped
        )
    )
    if sent.pending and campaign.status == CampaignStatus.ACTIVE and sent.eta is not None:
        lines.append(
            _("Time to send the rest: {eta}").format(eta=format_span(sent.eta, i18n.current_locale))
        )
    return "\n".join(lines), campaign


def budget_text(campaign: Campaign, settings: Settings, i18n: I18n) -> list[str]:
    """The card's budget lines, or where to set one."""
    state = budget.state_of(campaign)
    if not state.limited:
        return [
            _("💰 Budget: none (set one: {command})").format(
                command=html.quote(f"/campaign budget {campaign.id} <amount> [uses]")
            )
        ]
    return [
        html.quote(line)
        for line in budget_lines(state, i18n.current_locale, settings.shop.currency)
    ]


async def campaign_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    read_session: AsyncSession,
    staff: Staff,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
    bot: Bot,
    dispatcher: Dispatcher,
) -> None:
    """`/campaign <id>` shows one; `/campaign <id> <action>` changes its state; starting
    or resuming also runs it now and posts a live progress message."""
    args = args_of(command.args)
    first = args[0].lower() if args else ""
    if (len(args) == 1 and first == "new") or first == "budget":
        # Managers are taken by the dialog's router and `budget_command` first; whoever
        # reaches here may not.
        await refuse_role(message, staff)
        return
    if (
        not args
        or number_of(args[0]) is None
        or len(args) > 2
        or (len(args) == 2 and args[1].lower() not in ACTIONS)
    ):
        await answer_usage(message, "campaign")
        return
    campaign_id = int(args[0])
    if len(args) == 2:
        if not staff.can(Role.MANAGER):
            await refuse_role(message, staff)
            return
        await campaign_admin.change_status(
            session, staff, campaign_id, args[1].lower(), now=clock()
        )
        await session.commit()
    text, campaign = await card_text(read_session, campaign_id, settings, i18n, clock)
    markup = card_keyboard(campaign) if staff.can(Role.MANAGER) else None
    await message.answer(text, reply_markup=markup)
    if len(args) == 2 and args[1].lower() in LIVE_ACTIONS:
        live.launch(dispatcher, bot, message.chat.id, campaign_id, i18n.current_locale)


def parse_budget_amount(text: str, currency: str) -> int | None:
    """`50000`, `1500,50` (major units), or a dash for none; ValueError for the rest."""
    if text.lower() in NO_BUDGET:
        return None
    amount = parse_amount(text, currency)
    if not 1 <= amount <= budget.MAX_AMOUNT:
        raise ValueError(f"not a budget: {text!r}")
    return amount


def parse_budget_uses(text: str) -> int | None:
    """A whole number of uses, or a dash for none; ValueError for the rest."""
    if text.lower() in NO_BUDGET:
        return None
    if not (
        text.isascii() and text.isdigit() and len(text) <= 10 and 1 <= int(text) <= budget.MAX_USES
    ):
        raise ValueError(f"not a number of uses: {text!r}")
    return int(text)


async def budget_command(
    message: Message,
    command: CommandObject,
    session: AsyncSession,
    read_session: AsyncSession,
    staff: Staff,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
) -> None:
    """`/campaign budget <id> <amount or -> [uses or -]`: the campaign's whole budget (what
    is left out or given as a dash is "none"), then its card."""
    args = args_of(command.args)[1:]
    if not 2 <= len(args) <= 3 or number_of(args[0]) is None:
        await answer_usage(message, "campaign budget")
        return
    try:
        amount = parse_budget_amount(args[1], settings.shop.currency)
    except ValueError:
        await answer_usage(
            message,
            "campaign budget",
            _(
                "“{text}” is not a budget: give an amount such as 50000 or 1500.50, or a dash "
                "for none."
            ).format(text=args[1]),
        )
        return
    try:
        uses = parse_budget_uses(args[2]) if len(args) == 3 else None
    except ValueError:
        await answer_usage(
            message,
            "campaign budget",
            _(
                "“{text}” is not a number of uses: give a whole number such as 100, or a dash "
                "for none."
            ).format(text=args[2]),
        )
        return
    campaign_id = int(args[0])
    await budget.set_budget(
        session, campaign_id, amount=amount, uses=uses, actor=staff.actor, now=clock()
    )
    await session.commit()
    text, campaign = await card_text(read_session, campaign_id, settings, i18n, clock)
    await message.answer(
        _("✅ Budget saved.") + "\n\n" + text, reply_markup=card_keyboard(campaign)
    )


async def campaign_button(
    callback: CallbackQuery,
    callback_data: CampaignAction,
    session: AsyncSession,
    read_session: AsyncSession,
    staff: Staff,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
    bot: Bot,
    dispatcher: Dispatcher,
) -> None:
    """A button on the card: change the state (managers) or refresh, then redraw;
    starting or resuming also runs it now and posts a live progress message."""
    note = ""
    if callback_data.action in ACTIONS:
        await campaign_admin.change_status(
            session, staff, callback_data.id, callback_data.action, now=clock()
        )
        await session.commit()
        note = _("Done.")
    text, campaign = await card_text(read_session, callback_data.id, settings, i18n, clock)
    await callback.answer(note)
    if isinstance(callback.message, Message):
        await callback.message.edit_text(text, reply_markup=card_keyboard(campaign))
    if callback_data.action in LIVE_ACTIONS:
        # The run goes ahead even when the card is too old to edit.
        chat_id = callback.message.chat.id if callback.message else callback.from_user.id
        live.launch(dispatcher, bot, chat_id, callback_data.id, i18n.current_locale)


async def preview_command(
    message: Message,
    command: CommandObject,
    read_session: AsyncSession,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
) -> None:
    """`/preview <id>`: audience per segment and variant, cost against the guardrail,
    time to send."""
    args = args_of(command.args)
    if len(args) != 1 or number_of(args[0]) is None:
        await answer_usage(message, "preview")
        return
    seen = await campaign_admin.preview(read_session, int(args[0]), settings=settings, now=clock())
    await message.answer(
        campaign_preview.render_preview(
            seen,
            locale=i18n.current_locale,
            currency=settings.shop.currency,
            rate=settings.send.delivery_rate,
        )
    )


def create_router() -> Router:
    router = Router(name="managers.campaigns")
    router.message.register(list_campaigns, Command("campaigns"))
    router.message.register(
        budget_command,
        Command("campaign", magic=F.args.regexp(r"(?i)^budget(\s|$)")),
        Allowed(Role.MANAGER),
    )
    router.message.register(campaign_command, Command("campaign"))
    router.message.register(preview_command, Command("preview"))
    router.callback_query.register(campaign_button, CampaignAction.filter(F.action == "show"))
    router.callback_query.register(campaign_button, CampaignAction.filter(), Allowed(Role.MANAGER))
    return router
