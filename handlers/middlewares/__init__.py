"""Middlewares of the dispatcher, outermost first: dedupe → throttling → DB session →
account → locale."""

from handlers.middlewares.account import AccountMiddleware
from handlers.middlewares.dedupe import DedupeMiddleware, RecentUpdates
from handlers.middlewares.locale import LocaleMiddleware
from handlers.middlewares.session import DbSessionMiddleware
from handlers.middlewares.throttling import ThrottlingMiddleware

__all__ = [
    "AccountMiddleware",
    "DbSessionMiddleware",
    "DedupeMiddleware",
    "LocaleMiddleware",
    "RecentUpdates",
    "ThrottlingMiddleware",
]
