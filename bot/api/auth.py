"""Bearer API keys: several, each with a name; compared in constant time."""

from __future__ import annotations

import hmac

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.api.context import API_KEY_NAME, SETTINGS
from bot.api.errors import error_response

# Routes anyone may read: liveness probes and the API's own description.
PUBLIC_ROUTES = frozenset({"health", "openapi"})


def key_name(given: str, keys: dict[str, str]) -> str | None:
    """The name of the key `given` matches; every configured key is compared, always,
    so the time taken does not tell which key or how much of it matched."""
    given_bytes = given.encode("utf-8", "backslashreplace")
    found: str | None = None
    for key, name in keys.items():
        if hmac.compare_digest(given_bytes, key.encode("utf-8")) and found is None:
            found = name
    return found


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.match_info.route.name in PUBLIC_ROUTES:
        return await handler(request)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    name = None
    if scheme.lower() == "bearer" and token.strip():
        name = key_name(token.strip(), request.app[SETTINGS].api.keys)
    if name is None:
        return error_response(
            401, "unauthorized", "missing or wrong API key (Authorization: Bearer <key>)",
            headers={"WWW-Authenticate": 'Bearer realm="promobot"'},
        )
    request[API_KEY_NAME] = name
    return await handler(request)
