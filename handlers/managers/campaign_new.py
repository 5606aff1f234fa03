"""`/campaign new`: a guided dialog (aiogram FSM + inline keyboards) that collects a
campaign and writes it only when the manager confirms — an abandoned dialog leaves
nothing behind. `/cancel` ends it at any step.

Steps: kind → segment → offer → variants → holdout → schedule → message (ru, en) →
preview in both languages → create.
"""

from __future__ import annotations

from dataclasses import asdict

from aiogram import F, Router, html
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import Role
from bot.delivery.outbox import Reason
from bot.promo.campaigns import admin as campaign_admin
from bot.promo.campaigns.admin import Draft
from bot.promo.customers.segments import SEGMENTS
from bot.promo.staff.managers import Staff
from bot.promo.staff.manual_codes import build_offer
from bot.texts.notices import preview
from handlers.filters import Magic
from handlers.managers.access import Allowed
from handlers.managers.campaigns import kind_name

KINDS = ("comeback", "review", "cart", "broadcast")
HOLDOUTS = (0, 10, 20, 30)
MAX_VARIANTS = 5


class CampaignForm(StatesGroup):
    kind = State()
    segment = State()
    offer = State()
    variants = State()
    holdout = State()
    schedule = State()
    message_ru = State()
    message_en = State()
    confirm = State()


class NewCampaign(CallbackData, prefix="mgrn"):
    """A button of the dialog: the step it answers and the value chosen."""

    step: str
    value: str


def _keyboard(step: str, options: list[tuple[str, str]], width: int = 2
              ) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for value, text in options:
        builder.button(text=text, callback_data=NewCampaign(step=step, value=value))
    builder.adjust(width)
    return builder.as_markup()


def _chat(callback: CallbackQuery) -> Message:
    """The dialog's own message the button sits on (always a fresh one in a private chat)."""
    assert isinstance(callback.message, Message)
    return callback.message


async def _draft(state: FSMContext) -> Draft:
    return Draft(**(await state.get_data()).get("draft", {}))


async def _save(state: FSMContext, draft: Draft) -> None:
    await state.update_data(draft=asdict(draft))


async def start(message: Message, state: FSMContext) -> None:
    """Step 1: the kind."""
    await state.set_state(CampaignForm.kind)
    await _save(state, Draft())
    await message.answer(
        _("🆕 New campaign. What kind? (/cancel to stop at any step)"),
        reply_markup=_keyboard("kind", [(k, kind_name(k)) for k in KINDS]))


async def cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Cancelled: nothing was saved."))


async def ask_offer(message: Message, state: FSMContext) -> None:
    await state.set_state(CampaignForm.offer)
    await message.answer(html.quote(_(
        "The offer: <reward> [days] [min order] [categories], e.g. {example}. "
        "For a message without a code send a dash: -")).format(
        example=html.code("10% 30 3000 shoes,-sale")))


async def on_kind(callback: CallbackQuery, callback_data: NewCampaign, state: FSMContext
                  ) -> None:
    message = _chat(callback)
    draft = await _draft(state)
    draft.kind = callback_data.value if callback_data.value in KINDS else "broadcast"
    await _save(state, draft)
    await callback.answer()
    options = [(name, name) for name in SEGMENTS]
    if draft.kind != "broadcast":
        options.insert(0, ("-", _("no segment (by events)")))
    await state.set_state(CampaignForm.segment)
    await message.answer(_("Which segment?"), reply_markup=_keyboard("segment", options))


async def on_segment(callback: CallbackQuery, callback_data: NewCampaign, state: FSMContext
                     ) -> None:
    message = _chat(callback)
    draft = await _draft(state)
    draft.segment = callback_data.value if callback_data.value in SEGMENTS else None
    await _save(state, draft)
    await callback.answer()
    await ask_offer(message, state)


async def on_offer(message: Message, state: FSMContext, settings: Settings) -> None:
    text = (message.text or "").strip()
    draft = await _draft(state)
    if text != "-":
        parts = text.split()
        try:
            offer = build_offer(parts[0], currency=settings.shop.currency,
                                days=parts[1] if len(parts) > 1 else None,
                                min_order=parts[2] if len(parts) > 2 else None,
                                categories=parts[3] if len(parts) > 3 else None)
            if len(parts) > 4:
                raise ValueError
        except (ValueError, IndexError):
            await message.answer(_("I could not read the reward or conditions."))
            await ask_offer(message, state)
            return
        draft.offer = offer.to_json()
    await _save(state, draft)
    await state.set_state(CampaignForm.variants)
    await message.answer(
        html.quote(_("Variants for an experiment: one per line as <name> <weight> <reward>, "
                     "e.g. {example}. Or keep the single offer.")).format(
            example=html.code("A 1 10%\nB 1 15%")),
        reply_markup=_keyboard("variants", [("single", _("Single offer"))]))


async def ask_holdout(message: Message, state: FSMContext) -> None:
    await state.set_state(CampaignForm.holdout)
    await message.answer(_("Holdout (a control group that gets nothing):"),
                         reply_markup=_keyboard("holdout", [(str(p), f"{p}%")
                                                            for p in HOLDOUTS], 4))


async def on_variants_text(message: Message, state: FSMContext, settings: Settings) -> None:
    draft = await _draft(state)
    variants = []
    try:
        lines = [line.split() for line in (message.text or "").splitlines() if line.strip()]
        if not 1 <= len(lines) <= MAX_VARIANTS:
            raise ValueError
        for name, weight, reward in lines:
            if not weight.isdigit() or not 1 <= int(weight) <= 100:
                raise ValueError
            offer = build_offer(reward, currency=settings.shop.currency)
            data = {"discount_type": str(offer.discount_type), "value": offer.value}
            variants.append({"name": name[:64], "weight": int(weight), "offer": data})
    except ValueError:
        await message.answer(html.quote(_("I could not read the variants: one per line, "
                                          "<name> <weight> <reward>.")))
        return
    draft.variants = variants
    await _save(state, draft)
    await ask_holdout(message, state)


async def on_single(callback: CallbackQuery, state: FSMContext) -> None:
    message = _chat(callback)
    await callback.answer()
    await ask_holdout(message, state)


async def on_holdout(callback: CallbackQuery, callback_data: NewCampaign, state: FSMContext
                     ) -> None:
    message = _chat(callback)
    draft = await _draft(state)
    draft.holdout_percent = int(callback_data.value) if callback_data.value.isdigit() else 0
    await _save(state, draft)
    await callback.answer()
    await state.set_state(CampaignForm.schedule)
    await message.answer(
        _("When does it run? Start now, keep it as a draft, or type a crontab schedule "
          "such as {example}.").format(example=html.code("0 11 * * 1")),
        reply_markup=_keyboard("schedule", [("now", _("▶️ Start now")),
                                            ("draft", _("📝 Keep as draft"))]))


async def ask_message(message: Message, state: FSMContext) -> None:
    await state.set_state(CampaignForm.message_ru)
    await message.answer(_("The message in Russian (the code and its terms are added "
                           "below it). A dash keeps the standard text."))


async def on_schedule_button(callback: CallbackQuery, callback_data: NewCampaign,
                             state: FSMContext) -> None:
    message = _chat(callback)
    draft = await _draft(state)
    draft.start = callback_data.value == "now"
    await _save(state, draft)
    await callback.answer()
    await ask_message(message, state)


async def on_schedule_text(message: Message, state: FSMContext) -> None:
    fields = (message.text or "").split()
    if len(fields) != 5 or not all(set(f) <= set("0123456789*/,-") for f in fields):
        await message.answer(_("That is not a crontab schedule (five fields, e.g. {example})."
                               ).format(example=html.code("0 11 * * 1")))
        return
    draft = await _draft(state)
    draft.schedule, draft.start = " ".join(fields), True
    await _save(state, draft)
    await ask_message(message, state)


async def on_message_ru(message: Message, state: FSMContext) -> None:
    draft = await _draft(state)
    text = (message.text or "").strip()
    draft.message_ru = None if text == "-" else text[:2000]
    await _save(state, draft)
    await state.set_state(CampaignForm.message_en)
    await message.answer(_("The message in English. A dash keeps the standard text."))


def _sample(draft: Draft, locale: str, settings: Settings) -> str:
    """The message as shoppers will read it, rendered by the sender's own renderer."""
    offers = draft.offers()
    payload = {"message": {"ru": draft.message_ru, "en": draft.message_en}}
    return preview(Reason.CAMPAIGN, payload, offers[0] if offers else None, locale=locale,
                   tz=settings.shop.zone)


async def on_message_en(message: Message, state: FSMContext, settings: Settings) -> None:
    draft = await _draft(state)
    text = (message.text or "").strip()
    draft.message_en = None if text == "-" else text[:2000]
    await _save(state, draft)
    await state.set_state(CampaignForm.confirm)
    summary = [_("Check the campaign:"),
               _("Kind: {kind}").format(kind=kind_name(draft.kind)),
               _("Segment: {segment}").format(segment=html.quote(draft.segment or "—")),
               _("Variants: {count}").format(count=len(draft.variants) or 1),
               _("Holdout: {percent}%").format(percent=draft.holdout_percent),
               _("Schedule: {schedule}").format(schedule=html.quote(
                   draft.schedule or (_("start now") if draft.start else _("draft"))))]
    await message.answer("\n".join(summary))
    for locale in ("ru", "en"):
        await message.answer(f"🇷🇺\n{_sample(draft, locale, settings)}" if locale == "ru"
                             else f"🇬🇧\n{_sample(draft, locale, settings)}")
    await message.answer(_("Create it?"), reply_markup=_keyboard(
        "confirm", [("yes", _("✅ Create")), ("no", _("✖️ Cancel"))]))


async def on_confirm(
    callback: CallbackQuery,
    callback_data: NewCampaign,
    state: FSMContext,
    session: AsyncSession,
    staff: Staff,
    settings: Settings,
    clock: Clock,
) -> None:
    """The only write of the dialog: the campaign, its variants and the audit row; a
    refusal is told in the chat by `handlers.managers.refusals`."""
    message = _chat(callback)
    draft = await _draft(state)
    await state.clear()
    await callback.answer()
    if callback_data.value != "yes":
        await message.answer(_("Cancelled: nothing was saved."))
        return
    campaign = await campaign_admin.create(session, staff, draft, guardrail=settings.guardrail,
                                           now=clock())
    await session.commit()
    await message.answer(_("✅ Campaign #{id} created. Details and controls: /campaign {id}; "
                           "audience: /preview {id}").format(id=campaign.id))


async def stale_button(callback: CallbackQuery) -> None:
    """A button of a dialog that has ended."""
    await callback.answer(_("This dialog has ended. Start again: /campaign new"),
                          show_alert=True)


def _step(step: str) -> object:
    return NewCampaign.filter(F.step == step)


def create_router() -> Router:
    router = Router(name="managers.campaign_new")
    router.message.filter(Allowed(Role.MANAGER))
    router.callback_query.filter(Allowed(Role.MANAGER))
    router.message.register(start, Command("campaign", magic=F.args.regexp(r"(?i)^\s*new\s*$")))
    router.message.register(cancel, Command("cancel"), StateFilter(CampaignForm))
    forms = CampaignForm
    router.callback_query.register(on_kind, _step("kind"), StateFilter(forms.kind))
    router.callback_query.register(on_segment, _step("segment"), StateFilter(forms.segment))
    router.message.register(on_offer, StateFilter(forms.offer), Magic(F.text))
    router.message.register(on_variants_text, StateFilter(forms.variants), Magic(F.text))
    router.callback_query.register(on_single, _step("variants"), StateFilter(forms.variants))
    router.callback_query.register(on_holdout, _step("holdout"), StateFilter(forms.holdout))
    router.callback_query.register(on_schedule_button, _step("schedule"),
                                   StateFilter(forms.schedule))
    router.message.register(on_schedule_text, StateFilter(forms.schedule), Magic(F.text))
    router.message.register(on_message_ru, StateFilter(forms.message_ru), Magic(F.text))
    router.message.register(on_message_en, StateFilter(forms.message_en), Magic(F.text))
    router.callback_query.register(on_confirm, _step("confirm"), StateFilter(forms.confirm))
    router.callback_query.register(stale_button, NewCampaign.filter())
    return router


