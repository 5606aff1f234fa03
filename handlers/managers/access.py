"""Who may use the manager commands: a router-level filter, and the owners' bootstrap.

`IsStaff` guards the whole manager router: for anyone else the router does not exist,
so their `/issue` falls through to the fallback like any unknown command and reveals
nothing. It hands the handlers a `staff` argument. `Allowed(role)` guards one handler;
a staff member without that role is told so by `refuse_role` (they know the commands).
"""

from __future__ import annotations

from typing import Any

from aiogram.filters import Filter
from aiogram.types import TelegramObject, User

from bot.clock import Clock
from bot.config import Settings
from bot.db import Database
from bot.db.models import Role
from bot.promo.staff.managers import Staff, bootstrap_owners, staff_member


class IsStaff(Filter):
    """The sender is an owner, manager or analyst; passes `staff` on."""

    async def __call__(
        self,
        event: TelegramObject,
        db: Database,
        settings: Settings,
        event_from_user: User | None = None,
    ) -> bool | dict[str, Any]:
        if event_from_user is None or event_from_user.is_bot:
            return False
        # A session of its own, closed before the handler runs, whose writes it must see.
        async with db.read_session() as session:
            staff = await staff_member(session, event_from_user.id, settings.telegram)
        return False if staff is None else {"staff": staff}


class Allowed(Filter):
    """The staff member has at least this role."""

    def __init__(self, role: Role) -> None:
        self.role = role

    async def __call__(self, event: TelegramObject, staff: Staff) -> bool:
        return staff.can(self.role)


async def bootstrap(db: Database, settings: Settings, clock: Clock) -> None:
    """At start-up: owners from `PROMOBOT_OWNER_IDS` get their rows (idempotent)."""
    async with db.session() as session:
        await bootstrap_owners(session, settings.telegram.owner_ids, clock())
        await session.commit()
