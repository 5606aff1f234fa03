"""Who may join by an invitation: a new customer, brought by somebody else.

A referral pays both sides, so the rules close every route by which one person invites
themselves: the same customer; a Telegram account that was ever linked to the referrer
(relinked to a fresh shop account); the referrer's phone on the invitee or on any customer
ever linked to the invitee's Telegram account; and a Telegram account that ever had a
customer other than the invitee (a relinked account is not a new customer). The link
history (`account_links`, written by `bot.promo.customers.linking.link`) remembers what
relinking moved away; the checks are one query over it.

Phones are compared as stored: `upsert_customer` keeps every phone normalized
(`+79161234567`), so equal digits are equal strings and the phone index serves.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Select, exists, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.db.models import AccountLink, Customer


class ReferralOutcome(StrEnum):
    RECORDED = "recorded"
    REMEMBERED = "remembered"  # not linked yet: recorded when the account links
    UNKNOWN = "unknown"
    SELF = "self"
    OWN_ACCOUNT = "own_account"  # the referrer's account by another route
    RELINKED = "relinked"  # the Telegram account had another customer
    EXISTING_BUYER = "existing_buyer"
    ALREADY_REFERRED = "already_referred"


def _accounts(customer_id: int | None, telegram_id: int | None) -> Select[tuple[int]]:
    """The invitee's Telegram accounts: the one at hand and every one the customer had."""
    history = aliased(AccountLink)
    return select(history.telegram_id).where(
        or_(
            history.customer_id == customer_id if customer_id is not None else false(),
            history.telegram_id == telegram_id if telegram_id is not None else false(),
        )
    )


async def refusal(
    session: AsyncSession,
    referrer_id: int,
    *,
    customer_id: int | None = None,
    telegram_id: int | None = None,
) -> ReferralOutcome | None:
    """Why the invitee (a customer, a Telegram account, or both) is not the referrer's new
    friend, or None. An account with no customer yet is refused as relinked when it ever
    had one: whichever customer it links to next is not a new one by that account."""
    accounts = _accounts(customer_id, telegram_id)
    link = aliased(AccountLink)
    linked = select(link.customer_id).where(link.telegram_id.in_(accounts))
    referrer_phone = select(Customer.phone).where(Customer.id == referrer_id).scalar_subquery()
    namesake = aliased(Customer)
    invitee = namesake.id == customer_id if customer_id is not None else false()
    row = (
        await session.execute(
            select(
                exists().where(link.telegram_id.in_(accounts), link.customer_id == referrer_id),
                exists().where(
                    namesake.phone == referrer_phone, or_(invitee, namesake.id.in_(linked))
                ),
                exists().where(
                    link.telegram_id.in_(accounts),
                    link.customer_id != customer_id if customer_id is not None else true(),
                ),
            )
        )
    ).one()
    own_account_by_link, own_account_by_phone, relinked = row
    if own_account_by_link or own_account_by_phone:
        return ReferralOutcome.OWN_ACCOUNT
    if relinked:
        return ReferralOutcome.RELINKED
    return None
