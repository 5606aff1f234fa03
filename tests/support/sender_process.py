"""A sender in a process of its own, for the SIGKILL test: `python -m tests.support.sender_process`.

Settings come from the `PROMOBOT_*` environment, like `promobot run`.
"""

from __future__ import annotations

import asyncio
import logging

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.config import Settings
from bot.db import create_database
from bot.delivery.sender import Sender
from bot.texts.notices import render_message


async def main() -> None:
    settings = Settings(_env_file=None)
    assert settings.telegram.token is not None
    db = create_database(settings.db.url)
    bot = Bot(
        token=settings.telegram.token.get_secret_value(),
        session=AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram.api_url)),
    )
    print("ready", flush=True)
    await Sender(db, bot, settings, render=render_message).run()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(main())
