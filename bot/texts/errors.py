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

from bot.i18n import N_, format_money, gettext
from bot.promo.errors import DomainError, ErrorCode
from bot.texts.campaigns import status_name

# The API's statuses: the input is wrong / the thing does not exist / the state forbids it.
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


def _guardrail(p: Mapping[str, Any], reader: Reader) -> Mapping[str, object]:
    return {
        "requested": f"{p['requested_percent']}%", "ceiling": f"{p['ceiling_percent']}%",
        "profit": reader.money(p["net_profit"]), "aov": reader.money(p["average_order_value"]),
        "safety": f"{int(p['safety_share'] * 100)}%",
    }


def _budget(p: Mapping[str, Any], reader: Reader) -> Mapping[str, object]:
    return {name: reader.money(p[name]) for name in ("requested", "left", "budget", "spent")}


def _transition(p: Mapping[str, Any], reader: Reader) -> Mapping[str, object]:
    return {**p, "status": status_name(str(p["status"]), reader.locale)}


MEANINGS: dict[ErrorCode, Meaning] = {
    ErrorCode.GUARDRAIL: Meaning(INVALID, N_(
        "⛔ Refused by the margin guardrail: the discount is {requested} but the ceiling "
        "is {ceiling}: net profit per order {profit} ÷ average order {aov}, less a "
        "safety margin of {safety}."), _guardrail),
    ErrorCode.INVALID_EXPIRY: Meaning(INVALID),
    ErrorCode.INVALID_LIMIT: Meaning(INVALID),
    ErrorCode.CODE_SPACE_EXHAUSTED: Meaning(
        INVALID, N_("Could not draw that many unique codes; try fewer.")),
    ErrorCode.UNKNOWN_CODE: Meaning(INVALID, N_("There is no such code.")),
    ErrorCode.ALREADY_REVOKED: Meaning(INVALID, N_("This code is revoked already.")),
    ErrorCode.INVALID_COUNT: Meaning(INVALID, N_("The number of codes is 1 to {maximum}.")),
    ErrorCode.UNKNOWN_CAMPAIGN: Meaning(INVALID, N_("There is no such campaign.")),
    ErrorCode.CAMPAIGN_STOPPED: Meaning(INVALID, N_("This campaign is stopped.")),
    ErrorCode.NO_OFFER: Meaning(INVALID, N_(
        "This campaign has no discount offer, so it has no codes to issue.")),
    ErrorCode.BAD_TRANSITION: Meaning(INVALID, N_(
        "The campaign is {status}: “{action}” does not apply to it."), _transition),
    ErrorCode.INVALID_KIND: Meaning(INVALID),
    ErrorCode.INVALID_HOLDOUT: Meaning(INVALID),
    ErrorCode.BUDGET: Meaning(INVALID, N_(
        "⛔ Over your monthly discount budget: this would cost about {requested}, and you "
        "have {left} left of {budget} (spent {spent} this month)."), _budget),
    ErrorCode.INVALID_BUDGET: Meaning(INVALID, N_("A budget cannot be negative.")),
    ErrorCode.CONFIGURED_OWNER: Meaning(INVALID, N_(
        "Owners listed in PROMOBOT_OWNER_IDS stay owners; change the setting to change "
        "that.")),
    ErrorCode.NOT_STAFF: Meaning(INVALID, N_("This person is not on the staff.")),
    ErrorCode.UNKNOWN_CUSTOMER: Meaning(NOT_FOUND),
    ErrorCode.INVALID_CUSTOMER_ID: Meaning(INVALID),
    ErrorCode.INVALID_PHONE: Meaning(INVALID),
    ErrorCode.INVALID_EMAIL: Meaning(INVALID),
    ErrorCode.INVALID_TIMEZONE: Meaning(INVALID),
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
    if meaning.text is None:
        return gettext("⛔ Refused: {reason}", reader.locale).format(reason=error.message)
    values = meaning.values(error.params, reader) if meaning.values else error.params
    return gettext(meaning.text, reader.locale).format(**values)
