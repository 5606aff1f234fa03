"""Nobody invites themselves: the link history and the referral rules of issue 11.

Every scenario goes through the doors the bot uses: `link` for each link, `start_referral`
for `/start ref_<code>`, `settle_pending_referral` after linking; the referral table says
what was recorded.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

import tests.support.factories as factories
from bot.db import Database
from bot.db.models import AccountLink, Customer, Referral
from bot.promo.customers import accounts
from bot.promo.customers.accounts import ReferralOutcome, Who
from bot.promo.customers.profiles import ensure_referral_code

FIRST, SECOND = 9001, 9002


def who(telegram_id: int) -> Who:
    return Who(
        id=telegram_id, chat_id=telegram_id, username=None, first_name=None, language_code=None
    )


async def referral_code(db: Database, customer: Customer) -> str:
    async with db.session() as session:
        code = await ensure_referral_code(session, await session.get(Customer, customer.id))
        await session.commit()
    return code


async def link(db: Database, clock, customer: Customer, telegram_id: int) -> None:
    async with db.session() as session:
        await accounts.link(session, customer.id, telegram_id, clock())
        await session.commit()


async def invite(db: Database, clock, telegram_id: int, code: str) -> ReferralOutcome:
    """`/start ref_<code>` from the account, as linked now (the bot keeps every account
    that writes to it before any handler runs)."""
    async with db.session() as session:
        await accounts.touch(session, who(telegram_id), clock())
        _, customer = await accounts.load(session, telegram_id)
        outcome = await accounts.start_referral(session, who(telegram_id), customer, code, clock())
        await session.commit()
    return outcome


async def referrals(db: Database) -> list[tuple[int, int]]:
    async with db.read_session() as session:
        rows = await session.execute(select(Referral.referrer_id, Referral.referee_id))
        return sorted(tuple(row) for row in rows)


async def test_every_new_link_is_kept_in_the_history(db, clock) -> None:
    first = await factories.customer(db, "first", now=clock())
    second = await factories.customer(db, "second", now=clock())
    await link(db, clock, first, FIRST)
    clock.advance(minutes=1)
    await link(db, clock, first, FIRST)  # seen twice: no second row
    clock.advance(minutes=1)
    await link(db, clock, second, FIRST)  # the account moves to another customer
    clock.advance(minutes=1)
    await link(db, clock, first, SECOND)  # the customer moves to another account
    async with db.read_session() as session:
        rows = (
            await session.execute(
                select(
                    AccountLink.telegram_id, AccountLink.customer_id, AccountLink.linked_at
                ).order_by(AccountLink.id)
            )
        ).all()
    start = clock() - timedelta(minutes=3)
    assert [tuple(row) for row in rows] == [
        (FIRST, first.id, start),
        (FIRST, second.id, start + timedelta(minutes=2)),
        (SECOND, first.id, start + timedelta(minutes=3)),
    ]


async def test_relinked_account_does_not_refer_its_first_customer(db, clock) -> None:
    """Issue 11: linked to A, the Telegram account relinks to a new account B with the same
    phone and opens A's invitation: before, 'You came by a friend's invitation' and A → B."""
    first = await factories.customer(db, "acc-a", now=clock(), phone="+79161234567")
    await link(db, clock, first, FIRST)
    code = await referral_code(db, first)
    second = await factories.customer(db, "acc-b", now=clock(), phone="8 (916) 123-45-67")
    await link(db, clock, second, FIRST)

    assert await invite(db, clock, FIRST, code) is ReferralOutcome.OWN_ACCOUNT
    assert await referrals(db) == []
    async with db.read_session() as session:
        assert (await session.get(Customer, second.id)).referred_by_id is None


async def test_relinked_account_without_the_phone_is_refused_too(db, clock) -> None:
    first = await factories.customer(db, "acc-a", now=clock())
    await link(db, clock, first, FIRST)
    code = await referral_code(db, first)
    await link(db, clock, await factories.customer(db, "acc-b", now=clock()), FIRST)
    assert await invite(db, clock, FIRST, code) is ReferralOutcome.OWN_ACCOUNT
    assert await referrals(db) == []


async def test_own_link_is_refused(db, clock) -> None:
    first = await factories.customer(db, "acc-a", now=clock(), telegram_id=FIRST)
    assert await invite(db, clock, FIRST, await referral_code(db, first)) is ReferralOutcome.SELF
    assert await referrals(db) == []


async def test_same_phone_on_another_telegram_account_is_refused(db, clock) -> None:
    host = await factories.customer(
        db, "host", now=clock(), phone="+79161234567", telegram_id=FIRST
    )
    code = await referral_code(db, host)
    await factories.customer(db, "twin", now=clock(), phone="8 916 123 45 67", telegram_id=SECOND)
    assert await invite(db, clock, SECOND, code) is ReferralOutcome.OWN_ACCOUNT
    assert await referrals(db) == []


async def test_phone_of_a_customer_the_account_had_before_is_refused(db, clock) -> None:
    """The account once belonged to a customer with the referrer's phone, then relinked to
    a customer with no phone at all."""
    host = await factories.customer(
        db, "host", now=clock(), phone="+79161234567", telegram_id=FIRST
    )
    code = await referral_code(db, host)
    await factories.customer(db, "twin", now=clock(), phone="+79161234567", telegram_id=SECOND)
    await link(db, clock, await factories.customer(db, "fresh", now=clock()), SECOND)
    assert await invite(db, clock, SECOND, code) is ReferralOutcome.OWN_ACCOUNT
    assert await referrals(db) == []


async def test_account_that_had_another_customer_is_not_new(db, clock) -> None:
    host = await factories.customer(db, "host", now=clock(), telegram_id=FIRST)
    code = await referral_code(db, host)
    await factories.customer(db, "earlier", now=clock(), telegram_id=SECOND)
    await link(db, clock, await factories.customer(db, "later", now=clock()), SECOND)
    assert await invite(db, clock, SECOND, code) is ReferralOutcome.RELINKED
    assert await referrals(db) == []


async def test_a_new_friend_is_recorded(db, clock) -> None:
    """The control: another person, another phone, a fresh Telegram account."""
    host = await factories.customer(
        db, "host", now=clock(), phone="+79161234567", telegram_id=FIRST
    )
    friend = await factories.customer(
        db, "friend", now=clock(), phone="+79031234567", telegram_id=SECOND
    )
    assert await invite(db, clock, SECOND, await referral_code(db, host)) is (
        ReferralOutcome.RECORDED
    )
    assert await referrals(db) == [(host.id, friend.id)]


async def test_unlinked_account_once_linked_to_the_referrer_is_refused_at_once(db, clock):
    """The referrer's account moved to another Telegram; the old one opens the invitation
    before linking anything: told now, nothing remembered for later."""
    host = await factories.customer(db, "host", now=clock(), telegram_id=FIRST)
    code = await referral_code(db, host)
    await link(db, clock, host, SECOND)  # FIRST is left with no customer
    assert await invite(db, clock, FIRST, code) is ReferralOutcome.OWN_ACCOUNT
    async with db.read_session() as session:
        _, customer = await accounts.load(session, FIRST)
        referred_by = await session.scalar(
            select(func.count()).select_from(Customer).where(Customer.referred_by_id.is_not(None))
        )
    assert customer is None and referred_by == 0


async def test_remembered_invitation_is_refused_when_the_link_shows_the_same_phone(db, clock):
    host = await factories.customer(
        db, "host", now=clock(), phone="+79161234567", telegram_id=FIRST
    )
    code = await referral_code(db, host)
    assert await invite(db, clock, SECOND, code) is ReferralOutcome.REMEMBERED
    twin = await factories.customer(db, "twin", now=clock(), phone="+7 916 123-45-67")
    async with db.session() as session:
        await accounts.link(session, twin.id, SECOND, clock())
        outcome = await accounts.settle_pending_referral(session, SECOND, twin, clock())
        await session.commit()
    assert outcome is ReferralOutcome.OWN_ACCOUNT
    assert await referrals(db) == []


async def test_remembered_invitation_of_a_new_friend_is_recorded_on_linking(db, clock):
    host = await factories.customer(db, "host", now=clock(), telegram_id=FIRST)
    assert await invite(db, clock, SECOND, await referral_code(db, host)) is (
        ReferralOutcome.REMEMBERED
    )
    friend = await factories.customer(db, "friend", now=clock())
    async with db.session() as session:
        await accounts.link(session, friend.id, SECOND, clock())
        outcome = await accounts.settle_pending_referral(session, SECOND, friend, clock())
        await session.commit()
    assert outcome is ReferralOutcome.RECORDED
    assert await referrals(db) == [(host.id, friend.id)]
