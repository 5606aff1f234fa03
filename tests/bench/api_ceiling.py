"""The bare asyncpg ceiling: what aiohttp and asyncpg alone reach on this machine for the
shop API's validate and redeem, so that promobot's figures can be read as a share of it.

One round trip per call, the least the database work can be: validate is one SELECT of
the customer joined to their code; redeem is one statement that takes a use of the code
(conditional UPDATE) and records the redemption (INSERT in the same CTE), committed on
its own. No brake, no idempotency, no order-level rules, no messages: only the API key,
the JSON body, the percent discount and the minimum order. Nothing here is promobot's
code; it serves the same paths and bodies, on the database `bench_api` seeds, so that
`bench_api --server ceiling` measures it like the real server.

    python -m tests.bench.api_ceiling   # reads PROMOBOT_DATABASE_URL, _API_HOST, _API_PORT
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import multiprocessing
import os
import signal
import socket

import asyncpg
from aiohttp import web

from tests.bench.api_seed import API_KEY, PREFIX

VALIDATE = """
SELECT c.id AS customer_id, p.id, p.customer_id AS owner, p.status, p.discount_value,
       p.min_order, coalesce(p.expires_at > now(), true) AS live
FROM customers c LEFT JOIN promo_codes p ON p.code = $2
WHERE c.external_id = $1
"""
REDEEM = """
WITH customer AS (SELECT id FROM customers WHERE external_id = $1),
taken AS (
    UPDATE promo_codes p SET used_count = used_count + 1
    FROM customer
    WHERE p.code = $2 AND p.status = 'active'
      AND (p.customer_id IS NULL OR p.customer_id = customer.id)
      AND (p.usage_limit IS NULL OR p.used_count < p.usage_limit)
      AND (p.expires_at IS NULL OR p.expires_at > now()) AND p.min_order <= $4
    RETURNING p.id, customer.id AS customer_id, $4 * p.discount_value / 100 AS discount
)
INSERT INTO redemptions (code_id, customer_id, order_external_id, order_total, discount,
                         tier_discount, free_shipping, cost, created_at)
SELECT id, customer_id, $3, $4, discount, 0, false, discount, now() FROM taken
RETURNING id, discount
"""
POOL = web.AppKey("pool", asyncpg.Pool)
compact = functools.partial(json.dumps, separators=(",", ":"))  # as promobot answers
BEARER = f"Bearer {API_KEY}"


@web.middleware
async def authorized(request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
    if request.path != PREFIX + "/health" and not hmac.compare_digest(
            request.headers.get("Authorization", ""), BEARER):
        return web.json_response({"error": "unauthorized"}, status=401)
    return await handler(request)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def validate(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    total = body["order"]["total"]
    row = await request.app[POOL].fetchrow(VALIDATE, body["customer_id"], body["code"])
    if row is None:
        return web.json_response({"error": "unknown_customer"}, status=404)
    valid = (row["id"] is not None and row["owner"] in (None, row["customer_id"])
             and row["status"] == "active" and row["live"] and total >= row["min_order"])
    discount = total * row["discount_value"] // 100 if valid else 0
    return web.json_response({"valid": valid, "discount": discount}, dumps=compact)


async def redeem(request: web.Request) -> web.Response:
    body = json.loads(await request.read())
    row = await request.app[POOL].fetchrow(
        REDEEM, body["customer_id"], body["code"], body["order_id"], body["order"]["total"])
    if row is None:
        return web.json_response({"error": "refused"}, status=409)
    return web.json_response({"redemption_id": row["id"], "discount": row["discount"]})


def dsn(url: str) -> str:
    """asyncpg's DSN from SQLAlchemy's URL."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def serve(sock: socket.socket) -> None:
    app = web.Application(middlewares=[authorized])
    app.router.add_get(PREFIX + "/health", health)
    app.router.add_post(PREFIX + "/codes/validate", validate)
    app.router.add_post(PREFIX + "/codes/redeem", redeem)
    app[POOL] = await asyncpg.create_pool(dsn(os.environ["PROMOBOT_DATABASE_URL"]),
                                          min_size=2, max_size=10)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    await stop.wait()
    await runner.cleanup()
    await app[POOL].close()


def worker(sock: socket.socket) -> None:
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    asyncio.run(serve(sock))


def main() -> None:
    """One listening socket shared by `PROMOBOT_API_WORKERS` processes, as `promobot api`."""
    sock = socket.create_server((os.environ.get("PROMOBOT_API_HOST", "127.0.0.1"),
                                 int(os.environ.get("PROMOBOT_API_PORT", "8081"))))
    sock.setblocking(False)
    workers = int(os.environ.get("PROMOBOT_API_WORKERS", "1"))
    processes = [multiprocessing.Process(target=worker, args=(sock,)) for _ in range(workers)]
    for process in processes:
        process.start()
    signal.sigwait({signal.SIGINT, signal.SIGTERM})
    for process in processes:
        process.terminate()
    for process in processes:
        process.join()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    main()
