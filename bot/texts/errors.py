"""What each domain refusal means at every door: the shop API's HTTP status, and the
words a manager (in the bot) or an operator (in the CLI) reads.

One table, so that a new `ErrorCode` is one entry here and the API, the bot and the CLI
answer it alike (a test checks that every code has its entry). A code without words of
its own (mostly the shop API's input checks, read by the shop's developers) is shown as
"⛔ Refused:" and the English detail the domain gave. Texts are plain: callers escape
them for their channel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.i18n import N_, format_money, format_percent, gettext
from bot.promo.codes.guardrail import REFUSED_TIER, Share, Stacking
from bot.promo.errors import DomainError, ErrorCode
from bot.texts.campaigns import status_name

# The API's statuses: the input is wrong / the thing does not exist / the state or a
# business rule forbids it (the margin guardrail, a budget, a stopped campaign).
INVALID, NOT_FOUND, CONFLICT = 422, 404, 409


@dataclass(frozen=True, slots=True)
class Reader:
    """Who reads a refusal: their language, and the shop's currency for the amounts."""

    locale: str
    currency: str

    def money(self, amount: int) -> str:
        return format_money(amount, self.currency, self.locale)


# A text's placeholders filled from the error's params, where they need formatting.
Values = Callable[[Mapping[str, Any], Reader], Mapping[str, object]]


@dataclass(frozen=True, slots=True)
class Meaning:
    status: int
    # The reader's words (a msgid, translated when shown); None: the English detail.
    text: str | None = None
    values: Values | None = None
    # Which words, when the params tell refusals of one code apart (else `text`).
    choose: Callable[[Mapping[str, Any]], str] | None = None


_GUARDRAIL = N_(
    "⛔ Refused by the margin guardrail: the discount is {requested} but the ceiling "
    "is {ceiling}: net profit per order {profit} ÷ average order {aov}, less a "
    "safety margin of {safety}."
)
_GUARDRAIL_TIER = N_(
    "⛔ Refused by the margin guardrail: {terms} = {requested}, above the ceiling "
    "{ceiling} (net profit per order {profit} ÷ average order {aov}, less a safety margin "
    "of {safety})."
)
_TIER_COVERS = N_(
    "⛔ This code would never apply: the customer's tier already gives {tier} ≥ code "
    "{code}. Without stacking, the order takes the larger of the two."
)
_GUARDRAIL_GIFT = N_(
    "⛔ Refused by the margin guardrail: the gift costs {requested} of the order but the "
    "ceiling is {ceiling}: net profit per order {profit} ÷ average order {aov}, less a "
    "safety margin of {safety}."
)
_TERM_TIER = N_("the customer's tier {percent}")
_TERM_GIFT = N_("gift {percent}")
_TERM_CODE = N_("code {percent}")
_TERM_SHIPPING = N_("free shipping {percent}")
_WITH_SHIPPING = N_("{percent} + free shipping {shipping} = {total}")


def _which_guardrail(p: Mapping[str, Any]) -> str:
    """Plain, the tier added to the code (additive stacking), or the tier that makes
    the code pointless (exclusive): `bot.promo.codes.guardrail.judge` tells them apart."""
    if p.get("refusal") == REFUSED_TIER:
        return _TIER_COVERS
    if p.get("tier_share") is not None and p.get("stacking") == Stacking.ADDITIVE:
        return _GUARDRAIL_TIER
    code = p.get("code_share")
    return _GUARDRAIL_GIFT if code is not None and code.gift else _GUARDRAIL


def _side(share: Share, locale: str) -> str:
    """What the tier or the code gives: `12 %`, `12 % + free shipping 6 % = 18 %`."""
    if share.gift:
        return gettext(_TERM_GIFT, locale).format(percent=format_percent(share.gift, locale))
    percent = format_percent(share.percent, locale)
    shipping = format_percent(share.shipping, locale)
    if not share.shipping:
        return percent
    if not share.percent:
        return gettext(_TERM_SHIPPING, locale).format(percent=shipping)
    return gettext(_WITH_SHIPPING, locale).format(
        percent=percent, shipping=shipping, total=format_percent(share.total, locale)
    )


def _terms(p: Mapping[str, Any], locale: str) -> str:
    """The additive sum's parts: the tier, the code, free shipping counted once."""
    tier, code = p["tier_share"], p["code_share"]
    parts = [
        (_TERM_TIER, tier.percent),
        (_TERM_CODE, code.percent),
        (_TERM_SHIPPING, max(tier.shipping, code.shipping)),
        (_TERM_GIFT, code.gift),
    ]
    return " + ".join(
        gettext(text, locale).format(percent=format_percent(value, locale))
        for text, value in parts
        if value
    )


def _guardrail(p: Mapping[str, Any], reader: Reader) -> Mapping[str, object]:
    locale = reader.locale
    values: dict[str, object] = {
        "requested": format_percent(p["requested_percent"], locale),
        "ceiling": format_percent(p["ceiling_percent"], locale),
        "profit": reader.money(p["net_profit"]),
        "aov": reader.money(p["average_order_value"]),
        "safety": format_percent(p["safety_share"] * 100, locale),
    }
    tier, code = p.get("tier_share"), p.get("code_share")
    if tier is not None and code is not None:
        values.update(tier=_side(tier, locale), code=_side(code, locale), terms=_terms(p, locale))
    return values


def _budget(p: Mapping[str, Any], reader: Reader) -> Mapping[str, object]:
    return {name: reader.money(p[name]) for name in ("requested", "left", "budget", "spent")}


def _transition(p: Mapping[str, Any], reader: Reader) -> Mapping[str, object]:
    return {**p, "status": status_name(str(p["status"]), reader.locale)}


MEANINGS: dict[ErrorCode, Meaning] = {
    # A rule refused (409): the request was well formed, the shop's rules or the stored
    # state say no. Malformed input stays 422; a reference to nothing keeps its status.
    ErrorCode.GUARDRAIL: Meaning(CONFLICT, _GUARDRAIL, _guardrail, _which_guardrail),
    ErrorCode.INVALID_EXPIRY: Meaning(INVALID),
    ErrorCode.INVALID_LIMIT: Meaning(INVALID),
    ErrorCode.CODE_SPACE_EXHAUSTED: Meaning(
        CONFLICT, N_("Could not draw that many unique codes; try fewer.")
    ),
    ErrorCode.UNKNOWN_CODE: Meaning(INVALID, N_("There is no such code.")),
    ErrorCode.ALREADY_REVOKED: Meaning(CONFLICT, N_("This code is revoked already.")),
    ErrorCode.INVALID_COUNT: Meaning(INVALID, N_("The number of codes is 1 to {maximum}.")),
    ErrorCode.UNKNOWN_CAMPAIGN: Meaning(INVALID, N_("There is no such campaign.")),
    ErrorCode.CAMPAIGN_STOPPED: Meaning(CONFLICT, N_("This campaign is stopped.")),
    ErrorCode.UNKNOWN_SURVEY: Meaning(NOT_FOUND, N_("There is no such survey.")),
    ErrorCode.SURVEY_CLOSED: Meaning(CONFLICT, N_("This survey is closed.")),
    ErrorCode.NO_OFFER: Meaning(
        CONFLICT, N_("This campaign has no discount offer, so it has no codes to issue.")
    ),
    ErrorCode.BAD_TRANSITION: Meaning(
        CONFLICT, N_("The campaign is {status}: “{action}” does not apply to it."), _transition
    ),
    ErrorCode.INVALID_KIND: Meaning(INVALID),
    ErrorCode.INVALID_HOLDOUT: Meaning(INVALID),
    ErrorCode.UNKNOWN_ACTION: Meaning(
        INVALID, N_("No reward is set for this action (PROMOBOT_ACTION_REWARDS).")
    ),
    ErrorCode.INVALID_OPTIMISE: Meaning(
        INVALID, N_("Only a campaign with two variants or more can optimise its split.")
    ),
    ErrorCode.BUDGET: Meaning(
        CONFLICT,
        N_(
            "⛔ Over your monthly discount budget: this would cost about {requested}, and you "
            "have {left} left of {budget} (spent {spent} this month)."
        ),
        _budget,
    ),
    ErrorCode.INVALID_BUDGET: Meaning(INVALID, N_("A budget cannot be negative.")),
    ErrorCode.CONFIGURED_OWNER: Meaning(
        CONFLICT,
        N_("Owners listed in PROMOBOT_OWNER_IDS stay owners; change the setting to change that."),
    ),
    ErrorCode.NOT_STAFF: Meaning(INVALID, N_("This person is not on the staff.")),
    ErrorCode.UNKNOWN_CUSTOMER: Meaning(NOT_FOUND),
    ErrorCode.INVALID_CUSTOMER_ID: Meaning(INVALID),
    ErrorCode.INVALID_PHONE: Meaning(INVALID),
    ErrorCode.INVALID_EMAIL: Meaning(INVALID),
    ErrorCode.INVALID_TIMEZONE: Meaning(INVALID),
    ErrorCode.INVALID_BIRTHDAY: Meaning(INVALID),
    ErrorCode.UNKNOWN_ORDER: Meaning(NOT_FOUND),
    ErrorCode.INVALID_ORDER_ID: Meaning(INVALID),
    ErrorCode.INVALID_STATUS: Meaning(INVALID),
    ErrorCode.INVALID_TOTAL: Meaning(INVALID),
    ErrorCode.INVALID_CURRENCY: Meaning(INVALID),
    ErrorCode.UNSUPPORTED_CURRENCY: Meaning(INVALID),
    ErrorCode.INVALID_DISCOUNT: Meaning(INVALID),
    ErrorCode.INVALID_RETURNED_AMOUNT: Meaning(INVALID),
    ErrorCode.INVALID_PLACED_AT: Meaning(INVALID),
    ErrorCode.INVALID_ITEM: Meaning(INVALID),
    ErrorCode.ORDER_CUSTOMER_MISMATCH: Meaning(CONFLICT),
    ErrorCode.EMPTY_CART: Meaning(INVALID),
    ErrorCode.CART_CUSTOMER_MISMATCH: Meaning(CONFLICT),
    ErrorCode.INVALID_RATING: Meaning(INVALID),
    ErrorCode.CONFLICT: Meaning(CONFLICT),
}


def refusal_text(error: DomainError, reader: Reader) -> str:
    """A refusal in the reader's words, with the numbers behind it."""
    meaning = MEANINGS[error.code]
    text = meaning.choose(error.params) if meaning.choose else meaning.text
    if text is None:
        return gettext("⛔ Refused: {reason}", reader.locale).format(reason=error.message)
    values = meaning.values(error.params, reader) if meaning.values else error.params
    return gettext(text, reader.locale).format(**values)
