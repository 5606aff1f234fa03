"""Domain errors: a typed machine code plus the values a message needs.

The codes are an enum so that a refusal cannot be misspelt and every code has one
meaning: `bot.texts.errors.MEANINGS` holds, for each, the API's HTTP status and the words
a manager reads. Their values are the stable strings the shop's API has always sent.
"""

from __future__ import annotations

from enum import StrEnum, unique
from typing import Any


@unique
class ErrorCode(StrEnum):
    """Why the domain refused; the value is what the API's `error.code` says."""

    # Codes: issuing, the guardrail, manual codes.
    GUARDRAIL = "guardrail"
    INVALID_EXPIRY = "invalid_expiry"
    INVALID_LIMIT = "invalid_limit"
    CODE_SPACE_EXHAUSTED = "code_space_exhausted"
    UNKNOWN_CODE = "unknown_code"
    ALREADY_REVOKED = "already_revoked"
    INVALID_COUNT = "invalid_count"
    # Campaigns.
    UNKNOWN_CAMPAIGN = "unknown_campaign"
    CAMPAIGN_STOPPED = "campaign_stopped"
    NO_OFFER = "no_offer"
    BAD_TRANSITION = "bad_transition"
    INVALID_KIND = "invalid_kind"
    INVALID_HOLDOUT = "invalid_holdout"
    INVALID_OPTIMISE = "invalid_optimise"
    # Surveys.
    UNKNOWN_SURVEY = "unknown_survey"
    SURVEY_CLOSED = "survey_closed"
    # Staff and budgets.
    BUDGET = "budget"
    INVALID_BUDGET = "invalid_budget"
    CONFIGURED_OWNER = "configured_owner"
    NOT_STAFF = "not_staff"
    # Customers.
    UNKNOWN_CUSTOMER = "unknown_customer"
    INVALID_CUSTOMER_ID = "invalid_customer_id"
    INVALID_PHONE = "invalid_phone"
    INVALID_EMAIL = "invalid_email"
    INVALID_TIMEZONE = "invalid_timezone"
    INVALID_BIRTHDAY = "invalid_birthday"
    # The shop: orders, carts, reviews.
    UNKNOWN_ORDER = "unknown_order"
    INVALID_ORDER_ID = "invalid_order_id"
    INVALID_STATUS = "invalid_status"
    INVALID_TOTAL = "invalid_total"
    INVALID_CURRENCY = "invalid_currency"
    UNSUPPORTED_CURRENCY = "unsupported_currency"
    INVALID_DISCOUNT = "invalid_discount"
    INVALID_RETURNED_AMOUNT = "invalid_returned_amount"
    INVALID_PLACED_AT = "invalid_placed_at"
    INVALID_ITEM = "invalid_item"
    ORDER_CUSTOMER_MISMATCH = "order_customer_mismatch"
    EMPTY_CART = "empty_cart"
    CART_CUSTOMER_MISMATCH = "cart_customer_mismatch"
    INVALID_RATING = "invalid_rating"
    UNKNOWN_ACTION = "unknown_action"
    CONFLICT = "conflict"


class DomainError(Exception):
    """A rule of the domain refused the request: `code` is stable, `message` is the detail
    in English (the API, logs, the import report), `params` fill the reader's text."""

    def __init__(self, code: ErrorCode, message: str = "", **params: Any) -> None:
        code = ErrorCode(code)
        super().__init__(message or code.value)
        self.code = code
        self.message = message or code.value
        self.params = params


class NotFound(DomainError):
    """The thing asked for does not exist."""
