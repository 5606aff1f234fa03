"""The later steps of `/campaign new`: when it runs (presets in words, crontab for
experts, times in the shop's zone) and its message in each language, with the
placeholders a text may use. The dialog's states live here, shared with
`handlers.managers.campaign_new`."""

from __future__ import annotations

from dataclasses import asdict

from aiogram import html
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.promo.campaigns import schedules
from bot.promo.campaigns.admin import Draft
from bot.texts.notices import PLACEHOLDERS, unknown_placeholders
from handlers.managers import campaign_new_keyboards as kb
from handlers.managers.campaign_new_keyboards import NewCampaign

MAX_TEXT = 2000


class CampaignForm(StatesGroup):
    kind = State()
    name = State()
    segment = State()
    offer = State()
    variants = State()
    holdout = State()
    split = State()
    schedule = State()
    weekday = State()
    time = State()
    crontab = State()
    message_ru = State()
    message_en = State()
    confirm = State()


def chat_of(callback: CallbackQuery) -> Message:
    """The dialog's own message the button sits on (always a fresh one in a private chat)."""
    assert isinstance(callback.message, Message)
    return callback.message


async def confirmed(callback: CallbackQuery, value: str, state: FSMContext
                    ) -> Message | None:
    """A dialog's last button (this one's and `/survey new`'s): the chat to go on in when
    it says yes; anything else ends the dialog with nothing saved."""
    message = chat_of(callback)
    await callback.answer()
    if value != "yes":
        await state.clear()
        await message.answer(_("Cancelled: nothing was saved."))
        return None
    return message


async def load_draft(state: FSMContext) -> Draft:
    return Draft(**(await state.get_data()).get("draft", {}))


async def save_draft(state: FSMContext, draft: Draft) -> None:
    await state.update_data(draft=asdict(draft))


def schedule_words(draft: Draft) -> str:
    """The schedule as the manager chose it: "every day at 11:00", or the crontab."""
    if not draft.schedule:
        return _("once, now") if draft.start else _("draft, started by hand")
    found = schedules.preset(draft.schedule)
    if found is None:
        return _("crontab {schedule}").format(schedule=html.code(draft.schedule))
    every, hour, minute, weekday = found
    if every == "daily":
        return _("every day at {time}").format(time=kb.clock_time(hour, minute))
    return _("every week on {day} at {time}").format(
        day=kb.weekday_name(weekday or "mon"), time=kb.clock_time(hour, minute))


async def ask_schedule(message: Message, state: FSMContext, settings: Settings) -> None:
    await state.set_state(CampaignForm.schedule)
    await message.answer(_("When does it run? Times are the shop's ({zone}).").format(
        zone=html.quote(settings.shop.timezone)), reply_markup=kb.schedules())


async def _ask_time(message: Message, state: FSMContext, settings: Settings) -> None:
    await state.set_state(CampaignForm.time)
    await message.answer(
        _("At what time? The shop's time ({zone}): press a button or type one, e.g. "
          "{example}.").format(zone=html.quote(settings.shop.timezone),
                               example=html.code("10:30")),
        reply_markup=kb.times())


async def on_schedule_button(callback: CallbackQuery, callback_data: NewCampaign,
                             state: FSMContext, settings: Settings) -> None:
    message, choice = chat_of(callback), callback_data.value
    await callback.answer()
    if choice in ("now", "draft"):
        draft = await load_draft(state)
        draft.schedule, draft.start = None, choice == "now"
        await save_draft(state, draft)
        await ask_message(message, state)
    elif choice == "daily":
        await state.update_data(weekday=None)
        await _ask_time(message, state, settings)
    elif choice == "weekly":
        await state.set_state(CampaignForm.weekday)
        await message.answer(_("On which day of the week?"), reply_markup=kb.weekdays())
    else:
        await state.set_state(CampaignForm.crontab)
        await message.answer(_(
            "Type a crontab schedule: five fields (minute, hour, day of month, month, day "
            "of week) in the shop's time ({zone}), e.g. {example} for Mondays at 11:00."
        ).format(zone=html.quote(settings.shop.timezone), example=html.code("0 11 * * mon")))


async def on_weekday(callback: CallbackQuery, callback_data: NewCampaign, state: FSMContext,
                     settings: Settings) -> None:
    await callback.answer()
    weekday = callback_data.value if callback_data.value in schedules.WEEKDAYS else "mon"
    await state.update_data(weekday=weekday)
    await _ask_time(chat_of(callback), state, settings)


async def _set_time(message: Message, state: FSMContext, hour: int, minute: int) -> None:
    weekday = (await state.get_data()).get("weekday")
    await _set_schedule(message, state, schedules.weekly(weekday, hour, minute) if weekday
                        else schedules.daily(hour, minute))


async def _set_schedule(message: Message, state: FSMContext, schedule: str) -> None:
    draft = await load_draft(state)
    draft.schedule, draft.start = schedule, True
    await save_draft(state, draft)
    await message.answer(_("Schedule: {schedule}").format(schedule=schedule_words(draft)))
    await ask_message(message, state)


async def on_time_button(callback: CallbackQuery, callback_data: NewCampaign,
                         state: FSMContext) -> None:
    await callback.answer()
    value = callback_data.value
    if len(value) != 4 or not value.isdigit():
        return
    await _set_time(chat_of(callback), state, int(value[:2]), int(value[2:]))


async def on_schedule_text(message: Message, state: FSMContext) -> None:
    """A typed time of day (after "every day / week"), or an expert's crontab."""
    text = message.text or ""
    if await state.get_state() == CampaignForm.time.state:
        try:
            hour, minute = schedules.parse_time(text)
        except ValueError:
            await message.answer(_("That is not a time of day: type it as {example}.").format(
                example=html.code("10:30")))
            return
        await _set_time(message, state, hour, minute)
        return
    try:
        schedule = schedules.crontab(text)
    except ValueError:
        await message.answer(_("That is not a crontab schedule (five fields, e.g. {example})."
                               ).format(example=html.code("0 11 * * mon")))
        return
    await _set_schedule(message, state, schedule)


def _placeholders_help() -> str:
    meanings = {"name": _("the customer's name"), "code": _("their code"),
                "deadline": _("until when the code is valid"), "shop": _("the shop's name")}
    return "\n".join(f"{html.code('{' + name + '}')} — {meanings[name]}"
                     for name in PLACEHOLDERS)


async def ask_message(message: Message, state: FSMContext) -> None:
    await state.set_state(CampaignForm.message_ru)
    await message.answer("\n".join([
        _("The message in Russian (the code and its terms are added below it). A dash "
          "keeps the standard text: Russian readers then get the standard Russian one."),
        _("The text may use:"), _placeholders_help()]))


async def _take_text(message: Message) -> tuple[bool, str | None]:
    """(accepted, the text or None for the standard one); an unknown placeholder is
    refused with the ones a text may use."""
    text = (message.text or "").strip()
    if text == "-":
        return True, None
    unknown = unknown_placeholders(text)
    if unknown:
        await message.answer("\n".join([
            _("I do not know {placeholders}: send the text again.").format(
                placeholders=", ".join(html.code("{" + name + "}") for name in unknown)),
            _("The text may use:"), _placeholders_help()]))
        return False, None
    return True, text[:MAX_TEXT]


async def on_message_ru(message: Message, state: FSMContext) -> None:
    accepted, text = await _take_text(message)
    if not accepted:
        return
    draft = await load_draft(state)
    draft.message_ru = text
    await save_draft(state, draft)
    await state.set_state(CampaignForm.message_en)
    await message.answer(_("The message in English, with the same placeholders. A dash "
                           "keeps the standard text: English readers then get the standard "
                           "English one, never the Russian text."))


async def on_message_en(message: Message, state: FSMContext) -> bool:
    """Take the English text; True when the dialog goes on to the preview."""
    accepted, text = await _take_text(message)
    if not accepted:
        return False
    draft = await load_draft(state)
    draft.message_en = text
    await save_draft(state, draft)
    return True
