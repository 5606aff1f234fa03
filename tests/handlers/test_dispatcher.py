"""How the Dispatcher is put together, beyond what the conversations show."""

from __future__ import annotations

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.event.handler import CallableObject
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from tests.support.fake_bot_api import FakeBotAPI


def test_no_filter_or_handler_runs_in_a_thread(dp: Dispatcher) -> None:
    """aiogram hands every sync callable (a bare `F` filter too) to `asyncio.to_thread`:
    a thread hand-off per update it sees. Filters are `Filter`s (`handlers.filters.Magic`
    for an `F` expression) and handlers are coroutines."""
    in_threads: list[str] = []
    for router in dp.chain_tail:
        for name, observer in router.observers.items():
            # The router's own filters (`router.message.filter(...)`) sit on `_handler`.
            objects: list[CallableObject] = list(observer._handler.filters or [])
            for handler in observer.handlers:
                objects += [handler, *(handler.filters or [])]
            in_threads += [f"{router.name}.{name}: {obj.callback!r}"
                           for obj in objects if not obj.awaitable]
    assert in_threads == []


async def test_requests_go_as_json_and_uploads_as_multipart(bot: Bot, api: FakeBotAPI) -> None:
    """`JsonSession`: the same parameters as aiogram's form, in a JSON body; a file upload
    keeps the multipart form."""
    keyboard = InlineKeyboardMarkup(inline_keyboard=[[
        InlineKeyboardButton(text="Да", callback_data="yes")]])
    await bot.send_message(42, "Ваши <b>коды</b>", reply_markup=keyboard,
                           disable_notification=True)
    await bot.send_photo(42, BufferedInputFile(b"\x89PNG chart", filename="chart.png"),
                         caption="График")
    sent, photo = api.requests
    assert sent.content_type == "application/json"
    assert sent.params["chat_id"] == "42" and sent.text == "Ваши <b>коды</b>"
    assert sent.params["parse_mode"] == "HTML" and sent.params["disable_notification"] is True
    assert sent.reply_markup == {"inline_keyboard": [[{"text": "Да", "callback_data": "yes"}]]}
    assert photo.content_type == "multipart/form-data"
    attached = photo.params["photo"].removeprefix("attach://")
    assert photo.text == "График" and photo.params[attached] == "<file chart.png>"
