"""aiogram routers: one per feature module, each made by its `create_router()` so that
every Dispatcher (the running one, each test's) gets fresh routers. `get_routers()` gives
them in inclusion order; the help router holds the fallback and comes last."""

from __future__ import annotations

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import (
        chat_member,
        codes,
        errors,
        help,
        invite,
        managers,
        settings,
        start,
        surveys,
        tier,
    )

    # A message visits the routers in this order until one takes it, and each router on
    # the way costs its filters and a dozen calls (~30-90 µs). So the shopper's everyday
    # commands lead; no two routers take the same message, so only the fallback's place
    # matters. Errors, chat-member changes and poll answers never reach a message handler:
    # they go last.
    return [
        codes.create_router(),
        tier.create_router(),
        invite.create_router(),
        settings.create_router(),
        start.create_router(),
        # Manager routers go here, before the fallback.
        managers.create_router(),
        help.create_router(),
        chat_member.create_router(),
        surveys.create_router(),
        errors.create_router(),
    ]
