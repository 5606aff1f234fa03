"""`/campaign new`: a guided dialog (aiogram FSM + inline keyboards) that collects a
campaign and writes it only when the manager confirms — an abandoned dialog leaves
nothing behind. `/cancel` ends it at any step.

Steps: kind → name → segment → offer → variants → holdout → (with two variants or more)
split: by the weights or optimised → schedule → message (ru, en) → preview of every
variant in both languages → create. Offers are checked against the
margin guardrail and the manager's budget at their own step; a refusal there, or at
"Create", asks that step again with everything else kept, then comes back to "Create".

Two kinds take a shorter or stricter path. "Try a new category" needs a segment and an
offer (its codes are limited per customer when it runs). A rewarded action asks for the
action's name in place of the campaign's, then its offer, and goes straight to "Create":
no segment, variants, control group or schedule (the shop promised the reward to whoever
does the action, paid as the reports arrive), and it is active once created.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot, Dispatcher, F, Router, html
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n, get_i18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.db.models import CampaignKind, Role
from bot.i18n import format_percent
from bot.promo.campaigns import admin as campaign_admin
from bot.promo.campaigns import drafts
from bot.promo.campaigns.admin import SEGMENT_KINDS, Draft
from bot.promo.codes.offers import Offer
from bot.promo.customers.segments import EVERYONE, SEGMENTS
from bot.promo.errors import DomainError
from bot.promo.staff.managers import Staff
from bot.promo.staff.manual_codes import build_offer, offer_in_words
from bot.promo.surveys import surveys
from bot.texts.campaign_preview import draft_samples
from bot.texts.segments import segment_name
from bot.texts.surveys import options_of
from handlers.filters import Magic
from handlers.managers import campaign_new_keyboards as kb
from handlers.managers import progress
from handlers.managers.access import Allowed
from handlers.managers.campaign_new_keyboards import NewCampaign
from handlers.managers.campaign_new_steps import (
    CampaignForm,
    ask_schedule,
    chat_of,
    confirmed,
    load_draft,
    on_message_en,
    on_message_ru,
    on_schedule_button,
    on_schedule_text,
    on_time_button,
    on_weekday,
    save_draft,
    schedule_words,
)
from handlers.managers.campaigns import kind_name
from handlers.managers.common import error_text

__all__ = ["CampaignForm", "NewCampaign", "create_router"]

KINDS = ("comeback", "review", "cart", "broadcast", "new_category", "action")
# Kinds whose campaign is nothing without a code.
OFFER_KINDS = (CampaignKind.NEW_CATEGORY, CampaignKind.ACTION)
# An action's name as the shop reports it (`POST /api/v1/events/action`).
ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_VARIANTS = 5
Ask = Callable[[Message, FSMContext], Awaitable[None]]
Refused = tuple[str, DomainError]


async def start(message: Message, state: FSMContext) -> None:
    """Step 1: the kind."""
    await state.set_state(CampaignForm.kind)
    await state.set_data({})
    await save_draft(state, Draft())
    await message.answer(
        _("🆕 New campaign. What kind? (/cancel to stop at any step)"),
        reply_markup=kb.keyboard("kind", [(k, kind_name(k)) for k in KINDS]))


async def cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Cancelled: nothing was saved."))


async def on_kind(callback: CallbackQuery, callback_data: NewCampaign, state: FSMContext
                  ) -> None:
    draft = await load_draft(state)
    draft.kind = callback_data.value if callback_data.value in KINDS else "broadcast"
    await save_draft(state, draft)
    await callback.answer()
    await _ask_name(chat_of(callback), state)


async def _ask_name(message: Message, state: FSMContext) -> None:
    await state.set_state(CampaignForm.name)
    draft = await load_draft(state)
    if draft.kind == CampaignKind.ACTION:
        await message.answer(_(
            "The action to reward, by the name the shop reports it under "
            "(POST /api/v1/events/action), e.g. {example}: lower-case Latin letters, "
            "digits and _.").format(example=html.code("newsletter")))
        return
    await message.answer(_(
        "A name for the campaign, for you and your colleagues (shoppers do not see it), "
        "e.g. {example}. A dash keeps {default}.").format(
        example=html.code(_("Winter comeback")), default=html.code(_("kind and date"))))


async def start_for_answer(callback: CallbackQuery, callback_data: NewCampaign,
                           state: FSMContext, read_session: AsyncSession) -> None:
    """A survey's results button: a broadcast to exactly those who chose that option,
    the dialog going on from its name (the audience is set)."""
    survey_id, _sep, option = callback_data.value.partition("-")
    await callback.answer()
    answer = [int(survey_id), int(option)]
    await campaign_admin.check_answer(read_session, answer)
    survey = await surveys.get(read_session, answer[0])
    label = options_of(survey, get_i18n().current_locale)[answer[1]]
    await state.set_data({"answer_label": label})
    await save_draft(state, Draft(kind="broadcast", segment=EVERYONE, survey_answer=answer))
    await chat_of(callback).answer(_("🆕 New campaign for the customers who chose "
                                     "“{option}” in survey #{id}.").format(
        option=html.quote(label), id=survey_id))
    await _ask_name(chat_of(callback), state)


async def on_name(message: Message, state: FSMContext) -> None:
    draft = await load_draft(state)
    if draft.kind == CampaignKind.ACTION:
        await _on_action_name(message, state, draft)
        return
    text = " ".join((message.text or "").split())
    draft.name = "" if text == "-" else text[:200]
    await save_draft(state, draft)
    if draft.survey_answer:
        await ask_offer(message, state)
        return
    locale = get_i18n().current_locale
    options = [(name, segment_name(name, locale)) for name in SEGMENTS]
    if draft.kind not in SEGMENT_KINDS:
        options.insert(0, ("-", _("no segment (by events)")))
    await state.set_state(CampaignForm.segment)
    await message.answer(_("Which segment?"), reply_markup=kb.keyboard("segment", options))


async def _on_action_name(message: Message, state: FSMContext, draft: Draft) -> None:
    """A rewarded action has its name for a name, and no segment: it waits for reports."""
    action = (message.text or "").strip().lower()
    if not ACTION_NAME.match(action):
        await message.answer(_("That is not an action's name: lower-case Latin letters, "
                               "digits and _, starting with a letter, e.g. {example}.").format(
            example=html.code("newsletter")))
        return
    draft.name, draft.params, draft.segment = action, {"action": action}, None
    await save_draft(state, draft)
    await ask_offer(message, state)


async def on_segment(callback: CallbackQuery, callback_data: NewCampaign, state: FSMContext
                     ) -> None:
    draft = await load_draft(state)
    draft.segment = callback_data.value if callback_data.value in SEGMENTS else None
    await save_draft(state, draft)
    await callback.answer()
    await ask_offer(chat_of(callback), state)


async def ask_offer(message: Message, state: FSMContext) -> None:
    await state.set_state(CampaignForm.offer)
    kind = (await load_draft(state)).kind
    if kind == CampaignKind.NEW_CATEGORY:
        await message.answer(html.quote(_(
            "The offer: <reward> [days] [min order], e.g. {example}. Each customer's code "
            "is limited to the category chosen for them: one they never bought, that "
            "customers like them buy.")).format(example=html.code("15% 14")))
        return
    if kind == CampaignKind.ACTION:
        await message.answer(html.quote(_(
            "The offer for the action: <reward> [days] [min order] [categories], e.g. "
            "{example}.")).format(example=html.code("7% 21")))
        return
    await message.answer(html.quote(_(
        "The offer: <reward> [days] [min order] [categories], e.g. {example}. "
        "For a message without a code send a dash: -")).format(
        example=html.code("10% 30 3000 shoes,-sale")))


async def ask_variants(message: Message, state: FSMContext) -> None:
    await state.set_state(CampaignForm.variants)
    await message.answer(
        html.quote(_("Variants for an experiment: one per line as <name> <weight> <reward>, "
                     "e.g. {example}. Or keep the single offer: the button or a dash.")).format(
            example=html.code("A 1 10%\nB 1 15%")),
        reply_markup=kb.keyboard("variants", [("single", _("Single offer"))]))


async def ask_holdout(message: Message, state: FSMContext) -> None:
    await state.set_state(CampaignForm.holdout)
    await message.answer(_("Holdout (a control group that gets nothing):"),
                         reply_markup=kb.holdouts())


async def _refused(message: Message, error: DomainError, settings: Settings, i18n: I18n
                   ) -> None:
    await message.answer("\n".join([
        error_text(error, settings, i18n),
        _("Nothing is lost: change this step, the rest of the campaign stays as it was.")]))


async def _checked(message: Message, offers: list[Offer], draft: Draft, *, session: AsyncSession,
                   staff: Staff, settings: Settings, clock: Clock, i18n: I18n) -> bool:
    """The offers pass the guardrail and the budget; else the refusal, with its numbers,
    is told and the step is asked again (the caller's draft is not saved)."""
    try:
        await drafts.check_offers(session, staff, offers, segment=draft.segment,
                                  survey_answer=draft.survey_answer,
                                  settings=settings, now=clock())
    except DomainError as error:
        await _refused(message, error, settings, i18n)
        return False
    return True


async def _next(message: Message, state: FSMContext, ask: Ask, **deps: Any) -> None:
    """The step after a fixed one: back to "Create" when a refusal sent the manager
    here, else the dialog's next step."""
    if (await state.get_data()).get("fixing"):
        await show_confirm(message, state, **deps)
    else:
        await ask(message, state)


async def on_offer(message: Message, state: FSMContext, read_session: AsyncSession,
                   staff: Staff, settings: Settings, clock: Clock, i18n: I18n) -> None:
    text = (message.text or "").strip()
    draft = await load_draft(state)
    deps = {"session": read_session, "staff": staff, "settings": settings, "clock": clock,
            "i18n": i18n}
    if text == "-" and draft.kind in OFFER_KINDS:
        await message.answer(_("This campaign gives a code in the category it suggests: "
                               "it needs an offer.") if draft.kind == CampaignKind.NEW_CATEGORY
                             else _("A rewarded action gives a code: it needs an offer."))
        await ask_offer(message, state)
        return
    if text == "-":
        draft.offer = {}
    else:
        try:
            offer = offer_in_words(text, currency=settings.shop.currency)
        except ValueError:
            await message.answer(_("I could not read the reward or conditions."))
            await ask_offer(message, state)
            return
        if not await _checked(message, [offer], draft, **deps):
            await ask_offer(message, state)
            return
        draft.offer = offer.to_json()
    if draft.kind == CampaignKind.ACTION:
        # The shop promised this reward: no variants, no control group, no schedule (it
        # pays as the reports arrive), the standard thank-you; active once created.
        draft.start = True
        await save_draft(state, draft)
        await show_confirm(message, state, **deps)
        return
    await save_draft(state, draft)
    await _next(message, state, ask_variants, **deps)


def _parse_variants(text: str, currency: str) -> list[dict[str, Any]]:
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not 1 <= len(lines) <= MAX_VARIANTS:
        raise ValueError
    variants = []
    for name, weight, reward in lines:
        if not weight.isdigit() or not 1 <= int(weight) <= 100:
            raise ValueError
        offer = build_offer(reward, currency=currency)
        data = {"discount_type": str(offer.discount_type), "value": offer.value}
        variants.append({"name": name[:64], "weight": int(weight), "offer": data})
    return variants


async def on_variants_text(message: Message, state: FSMContext, read_session: AsyncSession,
                           staff: Staff, settings: Settings, clock: Clock, i18n: I18n
                           ) -> None:
    draft = await load_draft(state)
    deps = {"session": read_session, "staff": staff, "settings": settings, "clock": clock,
            "i18n": i18n}
    text = (message.text or "").strip()
    try:
        # A dash keeps the single offer, as it keeps the default at the other steps.
        variants = [] if text == "-" else _parse_variants(text, settings.shop.currency)
    except ValueError:
        await message.answer(html.quote(_("I could not read the variants: one per line, "
                                          "<name> <weight> <reward>.")))
        return
    draft.variants = variants
    # A fix that leaves fewer than two variants comes straight back to "Create".
    draft.optimise = draft.optimise and len(variants) > 1
    if not await _checked(message, drafts.variant_offers(draft), draft, **deps):
        await ask_variants(message, state)
        return
    await save_draft(state, draft)
    await _next(message, state, ask_holdout, **deps)


async def on_single(callback: CallbackQuery, state: FSMContext, read_session: AsyncSession,
                    staff: Staff, settings: Settings, clock: Clock, i18n: I18n) -> None:
    draft = await load_draft(state)
    draft.variants, draft.optimise = [], False
    await save_draft(state, draft)
    await callback.answer()
    await _next(chat_of(callback), state, ask_holdout, session=read_session, staff=staff,
                settings=settings, clock=clock, i18n=i18n)


async def on_holdout(callback: CallbackQuery, callback_data: NewCampaign, state: FSMContext,
                     settings: Settings) -> None:
    draft = await load_draft(state)
    draft.holdout_percent = int(callback_data.value) if callback_data.value.isdigit() else 0
    draft.optimise = False
    await save_draft(state, draft)
    await callback.answer()
    if len(draft.variants) < 2:
        await ask_schedule(chat_of(callback), state, settings)
        return
    await state.set_state(CampaignForm.split)
    await chat_of(callback).answer(
        _("How should new recipients be split between the variants? By their weights, or "
          "optimised: as results come in, more of them get the variant that earns the most "
          "margin per recipient (the control group keeps its share)."),
        reply_markup=kb.splits())


async def on_split(callback: CallbackQuery, callback_data: NewCampaign, state: FSMContext,
                   settings: Settings) -> None:
    draft = await load_draft(state)
    draft.optimise = callback_data.value == "optimise"
    await save_draft(state, draft)
    await callback.answer()
    await ask_schedule(chat_of(callback), state, settings)


def _summary(draft: Draft, answer_label: str | None) -> str:
    if draft.kind == CampaignKind.ACTION:
        return "\n".join([
            _("Check the campaign:"),
            _("Kind: {kind}").format(kind=kind_name(draft.kind)),
            _("Action: {action}").format(action=html.code(draft.params.get("action", ""))),
            _("It is active once created: the shop's reports of this action earn this offer "
              "instead of the one in the settings, once per customer and reference."),
        ])
    return "\n".join([
        _("Check the campaign:"),
        _("Name: {name}").format(name=html.quote(draft.name or "—")),
        _("Kind: {kind}").format(kind=kind_name(draft.kind)),
        _("Segment: {segment}").format(segment=html.quote(
            segment_name(draft.segment, get_i18n().current_locale) if draft.segment else "—")),
        *([_("Only those who chose “{option}” in survey #{id}").format(
            option=html.quote(answer_label or ""), id=draft.survey_answer[0])]
          if draft.survey_answer else []),
        _("Variants: {count}").format(count=len(draft.variants) or 1),
        _("Holdout: {percent}").format(
            percent=format_percent(draft.holdout_percent, get_i18n().current_locale)),
        *([_("Split: optimised towards the most profitable variant")] if draft.optimise
          else []),
        _("Schedule: {schedule}").format(schedule=schedule_words(draft)),
    ])


async def _back_to_step(message: Message, state: FSMContext, refused: Refused,
                       settings: Settings, i18n: I18n) -> None:
    """An offer no longer passes: say why, with the numbers, and ask its step again;
    fixed, it comes straight back to "Create" (`_next`)."""
    step, error = refused
    await state.update_data(fixing=True)
    await _refused(message, error, settings, i18n)
    await (ask_offer if step == drafts.OFFER_STEP else ask_variants)(message, state)


async def show_confirm(message: Message, state: FSMContext, *, session: AsyncSession,
                       staff: Staff, settings: Settings, clock: Clock, i18n: I18n) -> None:
    """The summary, every variant's message in both languages, and "Create"; or, when an
    offer no longer passes, that offer's step again."""
    draft = await load_draft(state)
    refused = await drafts.refused_step(session, staff, draft, settings=settings, now=clock())
    if refused is not None:
        await _back_to_step(message, state, refused, settings, i18n)
        return
    await state.update_data(fixing=False)
    await state.set_state(CampaignForm.confirm)
    await message.answer(_summary(draft, (await state.get_data()).get("answer_label")))
    for sample in draft_samples(draft, locale=i18n.current_locale, tz=settings.shop.zone,
                                now=clock(), shop=settings.shop.name):
        await message.answer(sample)
    await message.answer(_("Create it?"), reply_markup=kb.confirmation())


async def on_confirm(
    callback: CallbackQuery,
    callback_data: NewCampaign,
    state: FSMContext,
    session: AsyncSession,
    staff: Staff,
    settings: Settings,
    clock: Clock,
    i18n: I18n,
    dispatcher: Dispatcher,
    bot: Bot,
) -> None:
    """The only write of the dialog: the campaign, its variants and the audit row. An
    offer refused now (the average order or the budget moved) sends the manager back to
    its step with the draft kept; any other refusal is told by
    `handlers.managers.refusals`, the draft still kept."""
    message = await confirmed(callback, callback_data.value, state)
    if message is None:
        return
    draft = await load_draft(state)
    refused = await drafts.refused_step(session, staff, draft, settings=settings, now=clock())
    if refused is not None:
        await _back_to_step(message, state, refused, settings, i18n)
        return
    campaign = await campaign_admin.create(session, staff, draft, guardrail=settings.guardrail,
                                           now=clock())
    await session.commit()
    await state.clear()
    await message.answer(_("✅ Campaign #{id} created. Details and controls: /campaign {id}; "
                           "audience: /preview {id}").format(id=campaign.id))
    if draft.start and not draft.schedule and draft.kind != CampaignKind.ACTION:
        # "Once, now": it sends now, as a start does, followed live in this chat.
        progress.launch(dispatcher, bot, message.chat.id, campaign.id, i18n.current_locale)


async def on_message_en_done(message: Message, state: FSMContext, read_session: AsyncSession,
                             staff: Staff, settings: Settings, clock: Clock, i18n: I18n
                             ) -> None:
    if await on_message_en(message, state):
        await show_confirm(message, state, session=read_session, staff=staff,
                           settings=settings, clock=clock, i18n=i18n)


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
    form, text = CampaignForm, Magic(F.text)
    buttons = router.callback_query.register
    buttons(on_kind, _step("kind"), StateFilter(form.kind))
    router.message.register(on_name, StateFilter(form.name), text)
    buttons(on_segment, _step("segment"), StateFilter(form.segment))
    router.message.register(on_offer, StateFilter(form.offer), text)
    router.message.register(on_variants_text, StateFilter(form.variants), text)
    buttons(on_single, _step("variants"), StateFilter(form.variants))
    buttons(on_holdout, _step("holdout"), StateFilter(form.holdout))
    buttons(on_split, _step("split"), StateFilter(form.split))
    buttons(on_schedule_button, _step("schedule"), StateFilter(form.schedule))
    buttons(on_weekday, _step("weekday"), StateFilter(form.weekday))
    buttons(on_time_button, _step("time"), StateFilter(form.time))
    router.message.register(on_schedule_text, StateFilter(form.time, form.crontab), text)
    router.message.register(on_message_ru, StateFilter(form.message_ru), text)
    router.message.register(on_message_en_done, StateFilter(form.message_en), text)
    buttons(on_confirm, _step("confirm"), StateFilter(form.confirm))
    buttons(start_for_answer, _step("survey"), Magic(F.data.regexp(r"^mgrn:survey:\d+-\d+$")))
    router.callback_query.register(stale_button, NewCampaign.filter())
    return router

