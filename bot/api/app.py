"""The shop API application: routes under /api/v1, middlewares, and what they share."""

from __future__ import annotations

import math

from aiohttp import web

from bot.api.auth import auth_middleware
from bot.api.context import CLOCK, DATABASE, LAUNCHER, SETTINGS, SHOP_TERMS
from bot.api.errors import errors_middleware
from bot.api.idempotency import idempotency_middleware
from bot.api.openapi import OPENAPI, build_document, get_openapi
from bot.api.ratelimit import BRAKE, Brake, ratelimit_middleware
from bot.api.routes import PREFIX, ROUTES
from bot.clock import Clock, utcnow
from bot.cluster import Cluster, Store, open_cluster
from bot.cluster.counters import open_counters
from bot.config import Settings
from bot.db.engine import Database
from bot.promo.campaigns.launcher import Launcher
from bot.promo.checkout.terms import ShopTerms


def create_app(
    settings: Settings, db: Database, clock: Clock = utcnow, *, launcher: Launcher | None = None,
    cluster: Cluster | None = None,
) -> web.Application:
    """Middlewares run outermost first: errors → auth → rate limit → idempotency. Campaigns
    started here run on `launcher` (`promobot run` shares the bot's), else on one of the
    app's own, whose runs end with the app. The anti-guessing counters live in `cluster`
    (shared with the rest of the process), else in one the app opens and closes."""
    app = web.Application(
        client_max_size=settings.api.max_body_bytes,
        middlewares=[errors_middleware, auth_middleware, ratelimit_middleware,
                     idempotency_middleware],
    )
    app[SETTINGS] = settings
    app[DATABASE] = db
    app[CLOCK] = clock
    app[SHOP_TERMS] = ShopTerms(settings.guardrail, settings.loyalty)
    if launcher is None:
        own = launcher = Launcher(db, settings, clock)
        app.on_cleanup.append(lambda _app: own.close())
    app[LAUNCHER] = launcher
    own_cluster = None
    if cluster is None:
        cluster = own_cluster = open_cluster(settings, db)
    # Counted in memory, each of several workers counts on its own: each gets its share.
    share = settings.api.workers if cluster.store is Store.MEMORY else 1
    app[BRAKE] = brake = Brake(
        open_counters(cluster),
        per_shopper=math.ceil(settings.api.failed_validations_per_minute / share),
        per_key=math.ceil(settings.api.failed_validations_per_key_per_minute / share),
    )
    # In this order: the counters settle what they owe while their store is still open.
    app.on_cleanup.append(lambda _app: brake.counters.close())
    if own_cluster is not None:
        app.on_cleanup.append(lambda _app: own_cluster.close())
    app[OPENAPI] = build_document()
    for route in ROUTES:
        app.router.add_route(route.method, PREFIX + route.path, route.handler, name=route.name)
    app.router.add_get(PREFIX + "/openapi.json", get_openapi, name="openapi")
    return app
