"""Middlewares of the dispatcher, outermost first: dedupe → throttling → account →
locale; then, around the chosen handler, its DB sessions."""

from handlers.middlewares.account import AccountCache, AccountMiddleware
from handlers.middlewares.dedupe import DedupeMiddleware, RecentUpdates
from handlers.middlewares.locale import LocaleMiddleware
from handlers.middlewares.session import DbSessionMiddleware
from handlers.middlewares.throttling import ThrottlingMiddleware

__all__ = [
    "AccountCache",
    "AccountMiddleware",
    "DbSessionMiddleware",
    "DedupeMiddleware",
    "LocaleMiddleware",
    "RecentUpdates",
    "ThrottlingMiddleware",
]
