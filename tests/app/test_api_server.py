"""`promobot api`'s server: migrates the SQLite default, serves, stops cleanly."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import ClientSession

from bot.app.api import serve
from bot.config import Settings
from tests.support.ports import free_port


async def test_serve_migrates_answers_and_stops(tmp_path: Path) -> None:
    port = free_port()
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path / 'a.db'}",
                        api_port=port, api_keys=["shop:k"])
    stop = asyncio.Event()
    task = asyncio.create_task(serve(settings, stop))
    url = f"http://127.0.0.1:{port}/api/v1"
    async with ClientSession() as http:
        for _ in range(100):
            try:
                async with http.get(f"{url}/health") as response:
                    assert response.status == 200
                    break
            except OSError:
                await asyncio.sleep(0.05)
        async with http.put(f"{url}/customers/c1", json={},
                            headers={"Authorization": "Bearer k"}) as response:
            assert response.status == 201  # the schema was made by ensure_schema
    stop.set()
    await asyncio.wait_for(task, 10)
