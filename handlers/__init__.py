"""aiogram routers: one per feature module, each made by its `create_router()` so that
every Dispatcher (the running one, each test's) gets fresh routers. `get_routers()` gives
them in inclusion order; the help router holds the fallback and comes last."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import chat_member, codes, errors, help, invite, managers, settings, start, tier

    return [
        errors.create_router(),
        chat_member.create_router(),
        start.create_router(),
        codes.create_router(),
        tier.create_router(),
        invite.create_router(),
        settings.create_router(),
        # Manager routers go here, before the fallback.
        managers.create_router(),
        help.create_router(),
    ]
