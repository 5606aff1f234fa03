"""Helpers for the manager e2e tests: a fake Bot API that keeps uploaded files, staff
seeded straight into the database, and what the commands audited. Customers, codes and
campaigns come from `tests.support.factories`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import select

from bot.db import Database
from bot.db.models import AuditLog, Manager
from tests.support.fake_bot_api import FakeBotAPI

OWNER = 1000  # in settings.telegram.owner_ids
MANAGER = 2000
ANALYST = 3000
STRANGER = 4000
SHOPPER = 5001


@dataclass
class Upload:
    method: str
    field: str
    filename: str
    content: bytes


class UploadingBotAPI(FakeBotAPI):
    """The fake Bot API, also keeping the bytes of every uploaded file."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.uploads: list[Upload] = []

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params = await super()._params(request)
        if request.content_type == "multipart/form-data":
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    value.file.seek(0)
                    self.uploads.append(Upload(request.match_info["method"], key,
                                               value.filename, value.file.read()))
        return params


async def add_staff(db: Database, telegram_id: int, role: str, budget: int | None = None
                    ) -> None:
    async with db.session() as session:
        session.add(Manager(telegram_id=telegram_id, role=role, monthly_budget=budget))
        await session.commit()


async def audit_rows(db: Database, action: str | None = None) -> list[AuditLog]:
    async with db.read_session() as session:
        query = select(AuditLog).order_by(AuditLog.id)
        if action:
            query = query.where(AuditLog.action == action)
        return list(await session.scalars(query))


def at(clock: Any) -> datetime:
    return clock()
