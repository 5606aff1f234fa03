"""Dialog state survives a hop between processes when it lives in Redis."""

from __future__ import annotations

import random

from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from bot.app.telegram import create_storage
from tests.support.stores import REDIS_URL, needs_redis


def test_without_redis_state_stays_in_memory(settings) -> None:
    assert isinstance(create_storage(settings), MemoryStorage)


@needs_redis
async def test_two_instances_share_a_managers_dialog(settings) -> None:
    settings = settings.replace(redis_url=REDIS_URL)
    first, second = create_storage(settings), create_storage(settings)
    key = StorageKey(bot_id=random.randint(1, 10**9), chat_id=42, user_id=42)
    try:
        await first.set_state(key, "CampaignNew:offer")
        await first.set_data(key, {"kind": "comeback"})
        assert await second.get_state(key) == "CampaignNew:offer"
        assert await second.get_data(key) == {"kind": "comeback"}
    finally:
        await first.set_state(key, None)
        await first.set_data(key, {})
        await first.close()
        await second.close()
