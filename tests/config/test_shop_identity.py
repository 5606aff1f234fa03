"""The shop's name and URL (campaign messages), and the bot's username left to getMe."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.config import Settings
from bot.config.settings import describe_error


def test_unset_they_add_nothing_and_the_username_is_asked_of_telegram() -> None:
    settings = Settings(_env_file=None)
    assert (settings.shop.name, settings.shop.url) == ("", None)
    assert settings.telegram.username is None
    assert Settings(_env_file=None, shop_url=" ").shop.url is None


def test_a_shop_url_must_be_a_web_address() -> None:
    assert Settings(_env_file=None, shop_url="https://shop.example/").shop.url == (
        "https://shop.example/")
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, shop_url="shop.example")
    assert describe_error(error.value).startswith("PROMOBOT_SHOP_URL: ")
