"""The cabinet (the Mini App) is one tap away in the chat when the shop has its address:
`/start`, `/codes` and `/tier` carry a button that opens it as the shopper."""

from __future__ import annotations

from typing import Any

import pytest

import tests.support.factories as factories
import tests.support.updates as u
from bot.config import Settings
from tests.handlers.test_shopper import USER, link
from tests.support.fake_bot_api import FakeBotAPI

URL = "https://shop.example/webapp/"


@pytest.fixture
def tg_settings(settings: Settings, api: FakeBotAPI) -> Settings:
    return settings.replace(telegram_api_url=api.url, bot_username="promobot", webapp_url=URL)


def _cabinet_button(api: FakeBotAPI) -> Any:
    markup = api.calls("sendMessage")[-1].params.get("reply_markup") or {}
    rows = markup.get("inline_keyboard") or [[{}]]
    return rows[0][0]


@pytest.mark.parametrize(("language", "label"), [("ru", "👤 Открыть личный кабинет"),
                                                 ("en", "👤 Open my cabinet")])
async def test_codes_tier_and_start_open_the_cabinet(chat, db, clock, api, language,
                                                     label) -> None:
    customer = await factories.customer(db, now=clock(), locale=language)
    await link(chat, db, clock, customer, language_code=language)
    for command in ("/codes", "/tier", "/start"):
        await chat.send(u.message(USER, command, language_code=language))
        assert _cabinet_button(api) == {"text": label, "web_app": {"url": URL}}, command
    # /start brings the menu back too, in the message before.
    assert "keyboard" in api.calls("sendMessage")[-2].params["reply_markup"]


async def test_a_stranger_gets_no_cabinet_button(chat, api) -> None:
    await chat.send(u.message(USER, "/start", language_code="en"))
    assert "web_app" not in _cabinet_button(api)
