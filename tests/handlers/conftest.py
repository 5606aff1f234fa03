"""Fixtures of the tests that go through Telegram: see `tests.support.telegram`."""

from tests.support.campaign_dialog import dialog
from tests.support.telegram import api, bot, chat, dp, tg_settings

__all__ = ["api", "bot", "chat", "dialog", "dp", "tg_settings"]
