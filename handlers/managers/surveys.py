"""`/survey`: staff ask customers a short question as a Telegram poll, and read the answers.

`/survey new` — a dialog: one of the playbook's questions or one's own (question, then
options one per line), what an answer earns (an offer, or nothing), whom it goes to (a
segment), then the poll as shoppers will see it and "Send". `/survey` lists the latest,
`/survey <id>` (also `/stats survey <id>`) shows the results with a chart and, per
option, a button that starts a campaign for exactly those who chose it; `/survey close
<id>` stops counting answers (and withdraws the polls not sent yet); `/survey send <id>`
queues it for whoever it has not reached yet. Managers make, send and close surveys;
every staff role reads them.

Parse → the domain (`bot.promo.surveys`) → render (`bot.texts.surveys`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from aiogram import F, Router, html
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n, get_i18n, ngettext
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock
from bot.config import Settings
from bot.db import Database
from bot.db.models import Role
from bot.promo.campaigns.context import Context
from bot.promo.codes.issuing import ensure_within_guardrail
from bot.promo.codes.offers import Offer
from bot.promo.customers.segments import SEGMENTS
from bot.promo.errors import DomainError
from bot.promo.staff.managers import Staff
from bot.promo.staff.manual_codes import offer_in_words
from bot.promo.surveys import surveys
from bot.texts import charts
from bot.texts.segments import segment_name
from bot.texts.surveys import (
    TEMPLATES,
    options_of,
    question_of,
    results_text,
    survey_line,
    template_poll,
)
from bot.texts.wording import reward_text
from handlers.filters import Magic
from handlers.managers.access import Allowed
from handlers.managers.campaign_new_keyboards import NewCampaign, keyboard
from handlers.managers.campaign_new_steps import chat_of, confirmed
from handlers.managers.common import answer_usage, args_of, error_text, number_of

OWN = "own"
# A survey's reward lasts this long from delivery unless the manager says otherwise.
REWARD_DAYS = 30


class SurveyForm(StatesGroup):
    template = State()
    question = State()
    options = State()
    reward = State()
    segment = State()
    confirm = State()


class SurveyStep(CallbackData, prefix="mgrs"):
    """A button of the dialog: the step it answers and the value chosen."""

    step: str
    value: str


class SurveyAction(CallbackData, prefix="mgrsa"):
    """A button under a survey's results."""

    action: str
    survey: int


@dataclass
class Draft:
    """What the dialog collects (JSON-friendly, kept in FSM storage)."""

    template: str | None = None
    question: str = ""
    options: list[str] = field(default_factory=list)
    reward: dict[str, object] = field(default_factory=dict)
    segment: str | None = None


async def _draft(state: FSMContext) -> Draft:
    return Draft(**(await state.get_data()).get("draft", {}))


async def _save(state: FSMContext, draft: Draft) -> None:
    await state.update_data(draft=draft.__dict__)


def _buttons(step: str, options: list[tuple[str, str]], width: int = 1) -> InlineKeyboardMarkup:
    return keyboard(step, options, width, data=SurveyStep)


# --- the dialog ------------------------------------------------------------------------


async def start(message: Message, state: FSMContext) -> None:
    """Step 1: a ready question or one's own."""
    locale = get_i18n().current_locale
    await state.set_state(SurveyForm.template)
    await state.set_data({})
    await _save(state, Draft())
    options = [(key, template_poll(key, locale)[0]) for key in TEMPLATES]
    await message.answer(
        _("📊 New survey: a question customers answer with one tap in Telegram. Pick a "
          "ready one or write your own (/cancel to stop at any step)."),
        reply_markup=_buttons("template", [*options, (OWN, _("✍️ My own question"))]))


async def cancel(message: Message, state: FSMContext) -> None:
    await state.clear()
    await message.answer(_("Cancelled: nothing was saved."))


async def on_template(callback: CallbackQuery, callback_data: SurveyStep, state: FSMContext
                      ) -> None:
    await callback.answer()
    draft = await _draft(state)
    if callback_data.value not in TEMPLATES:
        await state.set_state(SurveyForm.question)
        await chat_of(callback).answer(_("Send the question, up to {limit} characters.").format(
            limit=surveys.QUESTION_LIMIT))
        return
    question, options = TEMPLATES[callback_data.value]
    # Stored in the source language; each shopper reads the template in theirs.
    draft.template, draft.question, draft.options = callback_data.value, question, list(options)
    await _save(state, draft)
    await _ask_reward(chat_of(callback), state)


async def on_question(message: Message, state: FSMContext) -> None:
    text = " ".join((message.text or "").split())
    if not text or len(text) > surveys.QUESTION_LIMIT:
        await message.answer(_("The question should be 1 to {limit} characters long.").format(
            limit=surveys.QUESTION_LIMIT))
        return
    draft = await _draft(state)
    draft.question = text
    await _save(state, draft)
    await state.set_state(SurveyForm.options)
    await message.answer(_(
        "Send the answer options, one per line: from {low} to {high}, each up to {limit} "
        "characters.").format(low=surveys.MIN_OPTIONS, high=surveys.MAX_OPTIONS,
                              limit=surveys.OPTION_LIMIT))


async def on_options(message: Message, state: FSMContext) -> None:
    options = [" ".join(line.split()) for line in (message.text or "").splitlines()]
    options = [option for option in options if option]
    draft = await _draft(state)
    try:
        surveys.check_poll(draft.question, options)
    except ValueError:
        await message.answer(_(
            "I need {low} to {high} different options, one per line, each up to {limit} "
            "characters. Send them again.").format(
            low=surveys.MIN_OPTIONS, high=surveys.MAX_OPTIONS, limit=surveys.OPTION_LIMIT))
        return
    draft.options = options
    await _save(state, draft)
    await _ask_reward(message, state)


async def _ask_reward(message: Message, state: FSMContext) -> None:
    await state.set_state(SurveyForm.reward)
    await message.answer(html.quote(_(
        "What does an answer earn? <reward> [days] [min order] [categories], e.g. {example}: "
        "a personal code, once per customer. Nothing: a dash -")).format(
        example=html.code("5% 30 2000")))


async def on_reward(message: Message, state: FSMContext, read_session: AsyncSession,
                    settings: Settings, clock: Clock, i18n: I18n) -> None:
    text = (message.text or "").strip()
    draft = await _draft(state)
    if text == "-":
        draft.reward = {}
    else:
        try:
            offer = offer_in_words(text, currency=settings.shop.currency,
                                   days=str(REWARD_DAYS))
        except ValueError:
            await message.answer(_("I could not read the reward or conditions."))
            await _ask_reward(message, state)
            return
        try:
            await ensure_within_guardrail(read_session, offer, guardrail=settings.guardrail,
                                          now=clock())
        except DomainError as error:
            await message.answer(error_text(error, settings, i18n))
            await _ask_reward(message, state)
            return
        draft.reward = offer.to_json()
    await _save(state, draft)
    await state.set_state(SurveyForm.segment)
    locale = i18n.current_locale
    await message.answer(_("Whom do we ask? Only those who accept promotions and have "
                           "Telegram linked get it."),
                         reply_markup=_buttons("segment", [
                             (name, segment_name(name, locale)) for name in SEGMENTS], 2))


async def on_segment(callback: CallbackQuery, callback_data: SurveyStep, state: FSMContext,
                     read_session: AsyncSession, settings: Settings, clock: Clock,
                     i18n: I18n) -> None:
    await callback.answer()
    draft = await _draft(state)
    draft.segment = callback_data.value if callback_data.value in SEGMENTS else None
    await _save(state, draft)
    await state.set_state(SurveyForm.confirm)
    locale = i18n.current_locale
    poll = question_of_draft(draft, locale)
    reach = await surveys.reach(read_session, draft.segment, settings=settings, now=clock())
    reward = (reward_text(Offer.from_json(draft.reward), locale) if draft.reward
              else _("nothing"))
    await chat_of(callback).answer("\n".join([
        _("Check the survey. Shoppers will see this poll:"),
        "",
        html.bold(html.quote(poll[0])),
        *[f"○ {html.quote(option)}" for option in poll[1]],
        "",
        _("An answer earns: {reward}").format(reward=html.quote(reward)),
        ngettext("Whom: {segment}, {count} customer reachable now",
                 "Whom: {segment}, {count} customers reachable now", reach).format(
            segment=html.quote(segment_name(draft.segment or "all", locale)), count=reach),
    ]), reply_markup=_buttons("confirm", [("yes", _("📨 Send")), ("no", _("Cancel"))], 2))


def question_of_draft(draft: Draft, locale: str) -> tuple[str, list[str]]:
    if draft.template in TEMPLATES:
        return template_poll(draft.template, locale)
    return draft.question, draft.options


async def on_confirm(callback: CallbackQuery, callback_data: SurveyStep, state: FSMContext,
                     session: AsyncSession, db: Database, staff: Staff, settings: Settings,
                     clock: Clock) -> None:
    """The dialog's only write: the survey, committed, then its polls queued. Keyed by
    the confirmation message, so that a double tap makes and sends it once; the draft is
    kept until the survey is made (a refusal now loses nothing)."""
    message = await confirmed(callback, callback_data.value, state)
    if message is None:
        return
    draft = await _draft(state)
    survey = await surveys.create(
        session, question=draft.question, options=draft.options, template=draft.template,
        segment=draft.segment, reward=Offer.from_json(draft.reward) if draft.reward else None,
        created_by=staff.telegram_id, request=f"{message.chat.id}:{message.message_id}",
        settings=settings, now=clock())
    await session.commit()
    await state.clear()
    if survey is not None:
        await _send(message, db, survey.id, settings=settings, clock=clock)


async def _send(message: Message, db: Database, survey_id: int, *, settings: Settings,
                clock: Clock) -> None:
    sent = await surveys.send(Context(db, settings, clock(),
                                      batch_size=settings.jobs.campaign_batch_size), survey_id)
    await message.answer(ngettext(
        "✅ Survey #{id} is on its way to {queued} customer; it goes out within the frequency "
        "caps and quiet hours. Results: /survey {id}",
        "✅ Survey #{id} is on its way to {queued} customers; it goes out within the frequency "
        "caps and quiet hours. Results: /survey {id}", sent.queued,
    ).format(id=survey_id, queued=sent.queued))


async def send_survey(message: Message, command: CommandObject, db: Database,
                      settings: Settings, clock: Clock) -> None:
    """`/survey send <id>`: queue it for whoever it has not been queued for yet (customers
    new to its segment, or the rest of a send a restart cut short)."""
    args = args_of(command.args)
    survey_id = number_of(args[1]) if len(args) == 2 else None
    if survey_id is None:
        await answer_usage(message, "survey")
        return
    await _send(message, db, survey_id, settings=settings, clock=clock)


async def stale_button(callback: CallbackQuery) -> None:
    await callback.answer(_("This dialog has ended. Start again: /survey new"),
                          show_alert=True)


# --- reading and closing ---------------------------------------------------------------


async def show_survey(message: Message, command: CommandObject, read_session: AsyncSession,
                      settings: Settings, clock: Clock, i18n: I18n) -> None:
    """`/survey` (the latest), `/survey <id>` (its results)."""
    args = args_of(command.args)
    if not args:
        await _list(message, read_session, i18n)
        return
    survey_id = number_of(args[0]) if len(args) == 1 else None
    if survey_id is None:
        await answer_usage(message, "survey")
        return
    await show_results(message, read_session, survey_id, settings=settings, clock=clock,
                       i18n=i18n)


async def _list(message: Message, read_session: AsyncSession, i18n: I18n) -> None:
    found = await surveys.recent(read_session)
    locale = i18n.current_locale
    if not found:
        await message.answer(_("No surveys yet. Ask your customers: /survey new"))
        return
    await message.answer("\n".join([html.bold(_("📊 Surveys")),
                                    *[survey_line(survey, locale) for survey in found],
                                    "", _("Results: /survey <id>; a new one: /survey new")]))


async def show_results(message: Message, read_session: AsyncSession, survey_id: int, *,
                       settings: Settings, clock: Clock, i18n: I18n,
                       staff: Staff | None = None) -> None:
    """The results as text, then the chart, with a campaign button per option."""
    locale = i18n.current_locale
    found = await surveys.results(read_session, survey_id)
    survey = found.survey
    options = options_of(survey, locale)
    builder = InlineKeyboardBuilder()
    for index, option in enumerate(options):
        builder.button(text=_("🎯 Campaign: {option}").format(option=option)[:60],
                       callback_data=NewCampaign(step="survey", value=f"{survey.id}-{index}"))
    if surveys.is_open(survey, clock()):
        builder.button(text=_("⏹ Close the survey"),
                       callback_data=SurveyAction(action="close", survey=survey.id))
    builder.adjust(1)
    await message.answer(results_text(found, locale=locale, tz=settings.shop.zone, now=clock()),
                         reply_markup=builder.as_markup())
    png = await asyncio.to_thread(charts.survey_png, question_of(survey, locale), options,
                                  found.counts, locale)
    await message.answer_photo(BufferedInputFile(png, filename=f"survey-{survey.id}.png"))


async def close_survey(message: Message, command: CommandObject, session: AsyncSession,
                       clock: Clock) -> None:
    args = args_of(command.args)
    survey_id = number_of(args[1]) if len(args) == 2 else None
    if survey_id is None:
        await answer_usage(message, "survey")
        return
    await message.answer(await _close(session, survey_id, clock()))


async def close_button(callback: CallbackQuery, callback_data: SurveyAction,
                       session: AsyncSession, clock: Clock) -> None:
    text = await _close(session, callback_data.survey, clock())
    await callback.answer(text, show_alert=True)
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(reply_markup=None)


async def _close(session: AsyncSession, survey_id: int, now: datetime) -> str:
    closed = await surveys.close(session, survey_id, now=now)
    await session.commit()
    if not closed:
        return _("Survey #{id} was already closed.").format(id=survey_id)
    return _("Survey #{id} is closed: new answers are not counted.").format(id=survey_id)


def create_router() -> Router:
    router = Router(name="managers.surveys")
    manager = Allowed(Role.MANAGER)
    acting = F.args.regexp(r"(?i)^\s*(new|close|send)\b")
    router.message.register(start, Command("survey", magic=F.args.regexp(r"(?i)^\s*new\s*$")),
                            manager)
    router.message.register(close_survey, Command("survey", magic=F.args.regexp(
        r"(?i)^\s*close\b")), manager)
    router.message.register(send_survey, Command("survey", magic=F.args.regexp(
        r"(?i)^\s*send\b")), manager)
    # Reading is for every role; making and closing fall through to `refuse_role`.
    router.message.register(show_survey, Command("survey", magic=~acting))
    router.message.register(cancel, Command("cancel"), StateFilter(SurveyForm))
    form, text = SurveyForm, Magic(F.text)
    step = SurveyStep.filter
    router.callback_query.register(on_template, step(F.step == "template"),
                                   StateFilter(form.template), manager)
    router.message.register(on_question, StateFilter(form.question), text, manager)
    router.message.register(on_options, StateFilter(form.options), text, manager)
    router.message.register(on_reward, StateFilter(form.reward), text, manager)
    router.callback_query.register(on_segment, step(F.step == "segment"),
                                   StateFilter(form.segment), manager)
    router.callback_query.register(on_confirm, step(F.step == "confirm"),
                                   StateFilter(form.confirm), manager)
    router.callback_query.register(stale_button, SurveyStep.filter(), manager)
    router.callback_query.register(close_button, SurveyAction.filter(F.action == "close"),
                                   manager)
    return router
