"""The route table: one entry per endpoint, read by the app and by the OpenAPI document."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp.typedefs import Handler
from pydantic import BaseModel

from bot.api import (
    campaign_schemas,
    campaigns,
    codes,
    customers,
    events,
    health,
    links,
    offers,
    orders,
    schemas,
)

PREFIX = "/api/v1"


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    name: str
    handler: Handler
    summary: str
    response: type[BaseModel]
    body: type[BaseModel] | None = None
    # Success statuses; the first is the usual one.
    statuses: tuple[int, ...] = (200,)
    # Error statuses beyond the ones every authenticated call can give (400, 401, 413, 422).
    errors: tuple[int, ...] = ()
    public: bool = False
    description: str = ""


_BUDGET = ("A redemption that would take a campaign beyond its money budget "
           "(`budget.amount`, minor units) or its uses budget (`budget.uses`) is refused at the "
           "checkout; the answer's `budget` says what is spent and left.")
campaign_routes = (
    Route("POST", "/campaigns", "campaigns.post", campaigns.post_campaign,
          "Create a campaign (a draft)", campaign_schemas.CampaignOut,
          campaign_schemas.CampaignIn, (201,), (409,),
          description="Every variant's offer is checked against the margin guardrail. "
          + _BUDGET),
    Route("GET", "/campaigns", "campaigns.list", campaigns.get_campaigns,
          "The latest campaigns", campaign_schemas.CampaignListOut),
    Route("GET", "/campaigns/{campaign_id}", "campaigns.get", campaigns.get_campaign,
          "One campaign with its budget", campaign_schemas.CampaignOut, errors=(404,)),
    Route("PATCH", "/campaigns/{campaign_id}", "campaigns.patch", campaigns.patch_campaign,
          "Set or remove a campaign's budget", campaign_schemas.CampaignOut,
          campaign_schemas.CampaignPatchIn, errors=(404,),
          description="Only the fields given change; `null` removes that budget. A budget "
          "below what is already spent stops the campaign's codes at once. " + _BUDGET),
    Route("GET", "/campaigns/{campaign_id}/stats", "campaigns.stats",
          campaigns.get_campaign_stats, "A campaign's results and budget",
          campaign_schemas.CampaignStatsOut, errors=(404,),
          description="Since the campaign was created: the funnel, money, treatment vs "
          "holdout with the uplift (percentage points, 95 % interval), and the budget."),
)

ROUTES: tuple[Route, ...] = (
    Route("PUT", "/customers/{customer_id}", "customers.put", customers.put_customer,
          "Create or update a customer's profile", schemas.CustomerOut, schemas.CustomerIn,
          (200, 201), description="Only the fields given change; 201 when created."),
    Route("PUT", "/orders/{order_id}", "orders.put", orders.put_order,
          "Create or update an order", schemas.OrderOut, schemas.OrderIn, (200, 201), (404, 409),
          description="Idempotent by order id. A change of status applies once: a cancel "
          "releases the code it used; a return lowers net spend and revokes rewards the "
          "order earned."),
    Route("POST", "/link-tokens", "link_tokens.post", links.post_link_token,
          "A one-time Telegram link for the customer", schemas.LinkTokenOut,
          schemas.LinkTokenIn, (201,), (404,)),
    Route("POST", "/codes/validate", "codes.validate", codes.post_validate,
          "Check a code against a basket", schemas.ValidateOut, schemas.ValidateIn,
          (200,), (404, 429),
          description="Always 200 for a known customer: `valid`, the machine `reason` and a "
          "`message` in the customer's language. Checks that look like guessing (unknown, "
          "revoked, not yours) are limited per customer and per shopper client (the "
          "`shopper` field or the `X-Shopper-Ip` header): 429 with `Retry-After`."),
    Route("POST", "/codes/redeem", "codes.redeem", codes.post_redeem,
          "Take one use of a code for an order", schemas.RedeemOut, schemas.RedeemIn,
          (200,), (404, 409, 429),
          description="Idempotent by (code, order_id). A refusal is 409 whose error code is the "
          "reason (`not_yours`, `used_up`, `expired`, ...) and whose message is for the "
          "shopper; an unknown code is 404 `unknown`."),
    Route("POST", "/codes/release", "codes.release", codes.post_release,
          "Give back the use an order took", schemas.ReleaseOut, schemas.ReleaseIn,
          (200,), (404,)),
    Route("POST", "/codes", "codes.issue", codes.post_code,
          "Issue a code for any channel", schemas.CodeOut, schemas.IssueIn, (201,), (404, 409),
          description="Refused with 409 `guardrail` and the numbers in the message above the "
          "margin ceiling. A personal code (`customer_id`) is weighed with the customer's "
          "tier under `PROMOBOT_STACKING`: additive, tier + code (+ free shipping once) must "
          "fit the ceiling (`tier 12% + code 18% = 30% > ceiling 18%`); exclusive, a code no "
          "larger than the tier is refused, since the checkout would never apply it."),
    Route("GET", "/customers/{customer_id}/offers", "customers.offers", offers.get_offers,
          "Tier, progress and active codes of a customer", schemas.OffersOut, errors=(404,)),
    Route("POST", "/events/review", "events.review", events.post_review,
          "A review of an order", schemas.ReviewOut, schemas.ReviewIn, (200, 201), (404, 409),
          description="One per order: a repeat report returns the first (200)."),
    Route("POST", "/events/cart-abandoned", "events.cart_abandoned",
          events.post_cart_abandoned, "An abandoned cart", schemas.CartOut, schemas.CartIn,
          (200, 201), (404, 409), description="One per cart_id; the total is computed."),
    Route("POST", "/events/action", "events.action", events.post_action,
          "An action to reward (an app installed, ...)", schemas.ActionOut, schemas.ActionIn,
          (200, 201), (404, 409),
          description="Paid at once (201), once per (customer, action, ref): a repeat gets "
                      "the same code back (200). Actions and offers: "
                      "`PROMOBOT_ACTION_REWARDS`; a monthly cap per customer."),
    *campaign_routes,
    Route("GET", "/health", "health", health.get_health, "Liveness", schemas.HealthOut,
          public=True),
)
