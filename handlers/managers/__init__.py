"""Manager commands: one router for all staff, with a sub-router per feature.

The parent router's filter (`IsStaff`) makes the whole tree invisible to anyone who is
not staff. Inside, each handler states the role it needs; a staff member without it
reaches `refuse_role` at the end. A domain refusal raised by any of them is answered
once, by the error handlers `refusals` registers here.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command

from handlers.filters import Magic
from handlers.managers.access import IsStaff, bootstrap
from handlers.managers.common import refuse_button, refuse_role

COMMANDS = ("managers", "issue", "revoke", "bulk", "customer", "campaigns", "campaign",
            "preview", "stats", "export", "analyze", "survey")


def create_router() -> Router:
    from handlers.managers import (
        analysis,
        campaign_new,
        campaigns,
        codes,
        customers,
        leaks,
        refusals,
        stats,
        surveys,
        team,
    )

    router = Router(name="managers")
    router.message.filter(Magic(F.chat.type == "private"), IsStaff())
    router.callback_query.filter(IsStaff())
    router.startup.register(bootstrap)
    refusals.register(router)
    router.include_routers(
        team.create_router(),
        codes.create_router(),
        leaks.create_router(),
        customers.create_router(),
        campaign_new.create_router(),
        campaigns.create_router(),
        stats.create_router(),
        analysis.create_router(),
        surveys.create_router(),
    )
    denied = Router(name="managers.denied")
    denied.message.register(refuse_role, Command(*COMMANDS))
    denied.callback_query.register(refuse_button, Magic(F.data.startswith("mgr")))
    router.include_router(denied)
    return router
