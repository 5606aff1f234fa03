"""Brake on code guessing: validate and redeem refused for a shopper who has failed too
often in a way that looks like guessing, without stopping anybody else.

What counts: a check refused as `unknown` (no such code), `revoked` or `not_yours` —
what someone trying codes sees. A cart under the minimum, an expired, used-up or not yet
delivered code and the order-level refusals are a shopper's real code not fitting, and
count for nothing; so does an unknown customer (no code is looked at for them).

Who is counted, each in fixed 60-second windows, at
`PROMOBOT_API_FAILED_VALIDATIONS_PER_MINUTE` (default 30):
- the customer, the body's `customer_id`;
- the shopper's client as the shop's checkout saw it, when the shop says: the
  `X-Shopper-Ip` header (an IPv6 address counts with its /64, which one host gets
  whole) and the body's `shopper` (an opaque id, such as a session hash), each apart.
A shop's checkout calls with one API key for all its shoppers, so the key alone never
limits them; it has only a ceiling, `PROMOBOT_API_FAILED_VALIDATIONS_PER_KEY_PER_MINUTE`
(default 6000), as a last resort against a guesser who rotates customer ids and
clients. A busy shop never meets it: at N checkouts a minute with a code typed in each,
2–3 % mistyped and retyped up to 3 times, the shop's guessing failures are about
N × 0.03 × 3 ≈ 0.09 N a minute — 90 at N = 1000 (1.4 million checkouts a day), and the
ceiling only at N ≈ 67 000. An attacker held at the ceiling gets 6000 × 1440 ≈ 8.6
million guesses a day against 31¹⁰ ≈ 8 × 10¹⁴ codes of the default length: with a
million live codes, about a 1 % chance of one hit a day.

Order of work: the body is read and checked first, so a broken or unreadable one is 400
or 422 whatever the counters say; then the request takes its place in each of its
scopes' counts (one atomic hit per scope, all at once), and over a limit the answer is
429 with `Retry-After`, the seconds until the refusing window ends, with no database work.
Once judged, the places are given back unless the check failed as guessing (the handler
says so through `note_failure`) — any other answer, an error included, counts nothing.
A 429 gives back what it took in the scopes with room, and keeps its hit in a scope
already full, where it can only keep that window full (`Counters` says why).
Taking before judging is what holds under concurrency: had the counts been read first
and raised after the database work, N guesses sent at once would all see room. So at most
the limit of one scope's checks are in flight at a time; one customer or client never
has that many. This runs before the idempotency middleware, so a 429 is never
stored as a request's final answer. The counters are shared by every process of the
deployment (`bot.cluster.counters`); in memory, with `PROMOBOT_API_WORKERS=N` worker
processes each counting apart, each holds 1/N of the limits.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler

from bot.api.body import parse
from bot.api.context import API_KEY_NAME
from bot.api.errors import ApiError, error_response
from bot.api.schemas import RedeemIn, ValidateIn
from bot.cluster.counters import Counters, Scope
from bot.promo.checkout.validation import Reason

# The routes the brake guards, with their bodies.
GUARDED_ROUTES: dict[str, type[ValidateIn | RedeemIn]] = {
    "codes.validate": ValidateIn, "codes.redeem": RedeemIn,
}
GUESSING = frozenset({Reason.UNKNOWN, Reason.REVOKED, Reason.NOT_YOURS})
SHOPPER_IP_HEADER = "X-Shopper-Ip"


@dataclass(frozen=True, slots=True)
class Brake:
    counters: Counters
    # Failures allowed per window: per customer and per client; per API key.
    per_shopper: int
    per_key: int

    def scopes(self, key_name: str, body: ValidateIn | RedeemIn,
               shopper_ip: str | None) -> tuple[Scope, ...]:
        found = [Scope("key", _digest(key_name), self.per_key),
                 Scope("customer", _digest(body.customer_id), self.per_shopper)]
        if body.shopper is not None:
            found.append(Scope("shopper", _digest(body.shopper), self.per_shopper))
        if shopper_ip is not None:
            found.append(Scope("ip", _digest(shopper_ip), self.per_shopper))
        return tuple(found)


BRAKE = web.AppKey("guess_brake", Brake)
# Set by the handler's `note_failure`: the request keeps its places in the counts.
_GUESSING = web.RequestKey("guessing_failure", bool)


def _digest(value: str) -> str:
    """Counter keys carry no shopper's IP or id in clear, and stay short."""
    return hashlib.blake2b(value.encode(), digest_size=12).hexdigest()


def shopper_ip(request: web.Request) -> str | None:
    """The client the header names: an IPv4 address, or an IPv6 address's /64."""
    raw = request.headers.get(SHOPPER_IP_HEADER)
    if raw is None or not raw.strip():
        return None
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        raise ApiError(400, "invalid_header",
                       f"{SHOPPER_IP_HEADER} must be one IPv4 or IPv6 address") from None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def note_failure(request: web.Request, reason: Reason) -> None:
    """A handler reports a refused validate or redeem; only guessing counts. No await
    stands between the verdict and this, so a request cancelled after its verdict still
    counts."""
    if reason in GUESSING:
        request[_GUESSING] = True


@web.middleware
async def ratelimit_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    model = GUARDED_ROUTES.get(request.match_info.route.name)
    if model is None or API_KEY_NAME not in request:
        return await handler(request)
    # Parsed here, before the counters, so that a broken body is 400/422 whatever they
    # say; the handler gets the same parsed body.
    body = await parse(request, model)
    brake = request.app[BRAKE]
    scopes = brake.scopes(request[API_KEY_NAME], body, shopper_ip(request))
    taken = await brake.counters.take(scopes)
    if (wait := taken.retry_after) is not None:
        return error_response(
            429, "rate_limited",
            f"too many failed code checks; retry in {wait} s", headers={"Retry-After": str(wait)},
        )
    request[_GUESSING] = False
    try:
        return await handler(request)
    finally:
        if not request[_GUESSING]:
            await brake.counters.give_back(taken.held)
