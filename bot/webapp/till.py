"""The till in the cabinet: a staff member scans the shopper's QR (Telegram's scanner),
types the order's amount, checks the code and redeems it with one tap.

`POST /webapp/api/till/check` and `/till/redeem` take `{code, total, order_id}`. The code
is checked and redeemed for its owner with the checkout API's own functions (the order's
rules, the tier, the ceiling, one code per order): a redeem at the till is the same single
redemption the API would make, and the same `order_id` again answers the first one, so a
second tap changes nothing. Managers and owners only; each redemption is written to the
audit log after it is made (the checkout's hot path runs it in a transaction of its own),
and a retried tap writes it when the first could not.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from aiogram.utils.web_app import WebAppUser
from aiohttp import web
from pydantic import Field

from bot.api.body import parse
from bot.api.context import CLOCK, DATABASE, SETTINGS, SHOP_TERMS
from bot.api.errors import ApiError
from bot.api.schemas import Body, CodeText, ExternalId
from bot.db.models import Role
from bot.i18n import format_money, gettext, zone
from bot.promo.checkout.lookup import validate_for
from bot.promo.checkout.redemption import redeem
from bot.promo.checkout.till import scanned
from bot.promo.checkout.validation import Reason, Verdict
from bot.promo.codes.offers import Basket
from bot.promo.staff.managers import Staff, audit, audited, staff_at
from bot.texts.wording import verdict_message
from bot.webapp.auth import launch_data
from bot.webapp.reader import reader

log = logging.getLogger(__name__)


class TillIn(Body):
    code: CodeText
    # The order's amount as staff type it, in minor units: a till has no basket.
    total: Annotated[int, Field(gt=0, le=10**12)]
    order_id: ExternalId


async def _at_till(request: web.Request) -> tuple[WebAppUser, Staff, str]:
    """The staff member at the till and their language, or 403."""
    user = launch_data(request).user
    assert user is not None
    db, settings = request.app[DATABASE], request.app[SETTINGS]
    _account, _customer, locale = await reader(request, user)
    staff = await staff_at(db.hot, user.id, settings.telegram)
    if staff is None or not staff.can(Role.MANAGER):
        raise ApiError(403, "forbidden", gettext(
            "The till is for the shop's managers: ask the owner for access.", locale))
    return user, staff, locale


def _figures(request: web.Request, basket: Basket, verdict: Verdict, locale: str
             ) -> dict[str, Any]:
    to_pay = basket.total - verdict.total_discount
    amount = format_money(to_pay, request.app[SETTINGS].shop.currency, locale)
    return {"discount": verdict.discount, "total_discount": verdict.total_discount,
            "to_pay": to_pay,
            "to_pay_text": gettext("The shopper pays {amount}.", locale).format(amount=amount)}


def _message(request: web.Request, verdict: Verdict, locale: str) -> str:
    settings = request.app[SETTINGS]
    return verdict_message(verdict, locale, zone(None, settings.shop.timezone),
                           settings.shop.currency)


async def _owner(request: web.Request, body: TillIn, locale: str) -> str:
    """The customer the code belongs to; 404 for no such code, 409 for a code for anyone."""
    found = await scanned(request.app[DATABASE].hot, body.code)
    if not found.known:
        raise ApiError(404, str(Reason.UNKNOWN),
                       _message(request, Verdict(Reason.UNKNOWN), locale))
    if found.owner is None:
        raise ApiError(409, "not_personal", gettext(
            "This code is for anyone: it is taken at the checkout with the buyer's account, "
            "not at the till.", locale))
    return found.owner


async def post_check(request: web.Request) -> web.Response:
    _user, _staff, locale = await _at_till(request)
    body = await parse(request, TillIn)
    owner = await _owner(request, body, locale)
    basket, db = Basket(body.total), request.app[DATABASE]
    _shopper, verdict = await db.hot.read(
        validate_for, owner, body.code, basket, request.app[SHOP_TERMS],
        request.app[CLOCK](), body.order_id)
    if verdict is None:  # the code's owner was deleted after the code was read
        verdict = Verdict(Reason.UNKNOWN)
    return web.json_response({"valid": verdict.valid, "reason": str(verdict.reason),
                              "message": _message(request, verdict, locale), "customer": owner,
                              **_figures(request, basket, verdict, locale)})


async def post_redeem(request: web.Request) -> web.Response:
    _user, staff, locale = await _at_till(request)
    body = await parse(request, TillIn)
    owner = await _owner(request, body, locale)
    db, shop, now = request.app[DATABASE], request.app[SHOP_TERMS], request.app[CLOCK]()
    basket = Basket(body.total)
    terms = await shop.current(db.hot, now)
    redeemed = await redeem(db.hot, body.code, external_id=owner, order_external_id=body.order_id,
                            basket=basket, now=now, terms=terms, shop=shop)
    if redeemed is None:  # the code's owner was deleted after the code was read
        raise ApiError(404, str(Reason.UNKNOWN),
                       _message(request, Verdict(Reason.UNKNOWN), locale))
    _shopper, outcome = redeemed
    message = _message(request, outcome.verdict, locale)
    if not outcome.ok:
        raise ApiError(409, str(outcome.verdict.reason), message)
    assert outcome.redemption_id is not None and outcome.verdict.code is not None
    # A retried tap (its first answer lost) audits what the first one could not.
    async with db.session() as session:
        if not await audited(session, "till.redeem", "redemption", outcome.redemption_id):
            await audit(session, actor=staff.actor, action="till.redeem", entity="redemption",
                        entity_id=outcome.redemption_id, now=now, after={
                            "code_id": outcome.verdict.code.id, "customer": owner,
                            "order_id": body.order_id, "total": body.total,
                            "discount": outcome.verdict.total_discount})
            await session.commit()
    return web.json_response({"redemption_id": outcome.redemption_id,
                              "replayed": outcome.replayed, "message": message,
                              "customer": owner,
                              **_figures(request, basket, outcome.verdict, locale)})
