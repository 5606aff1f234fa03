"""The Mini App on a test server, on the `db` fixture; its calls signed as Telegram would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.config import Settings
from bot.db import Database
from bot.webapp.app import create_webapp
from tests.support.telegram import api, tg_settings
from tests.support.webapp import launch_data

__all__ = ["api", "cabinet", "signed", "tg_settings"]


@pytest.fixture
async def cabinet(settings: Settings, db: Database, clock: Any) -> AsyncIterator[TestClient]:
    async with TestClient(TestServer(create_webapp(settings, db, clock))) as client:
        yield client


@pytest.fixture
def signed(settings: Settings, clock: Any) -> Any:
    """`signed(user_id, **fields)`: launch data for the user, signed now with our token."""
    token = settings.telegram.token.get_secret_value()

    def sign(user_id: int, **fields: Any) -> str:
        return launch_data(token, user_id, signed_at=fields.pop("signed_at", clock()), **fields)

    return sign
