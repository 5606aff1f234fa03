"""The leak watch: shared codes used by people they were never given to.

A personal code is bound to its customer, so a leaked one fails for anyone else. A
shared code — no customer, several uses: one the shop issues over the API for e-mail or
its app, a campaign's common code — works for whoever types it. Posted on a coupon site,
it turns a campaign for a few hundred customers into a sale for everyone. This module
notices that and tells the staff who may stop it. (`/bulk` hands out many single-use
codes: each is used once at most, so none is ever used by many.)

The rule, as a manager reads it. Every run looks at the last `PROMOBOT_LEAK_WINDOW_DAYS`
(7) days of each shared code that can still be used (not revoked, expired or used
up). A code used fewer than
`PROMOBOT_LEAK_MIN_USES` (10) times is left alone. Otherwise it is suspicious when
- at least `PROMOBOT_LEAK_STRANGER_PERCENT` (50) % of the customers who used it are
  *strangers*: nothing we know of gave it to them — no Telegram message carrying the code
  or its campaign reached them, no code of that campaign was issued to them (the shop's
  e-mails, the bot's), and the campaign did not pick them for its audience; or
- it was used more often than its *reach* can explain: more than
  `PROMOBOT_LEAK_REACH_PERCENT` (100) % of the number of customers it reached by those
  same ways (a campaign sent to 40 people whose code was used 60 times).
Codes of `PROMOBOT_LEAK_PUBLIC_CHANNELS` (`site`) are the shop's published codes, meant
for anyone, and are not watched. A shared code the shop hands out where we cannot see it
(e-mails sent without a campaign) has no known recipients: its first alert says so, and
adding its channel to the public ones keeps such codes out.

Once, then only when it got worse. The first alert about a code claims its row in
`leak_alerts` (INSERT … ON CONFLICT DO NOTHING), in the transaction that queues the
messages: a second run, or a second instance at the same moment, finds the row and
queues nothing. A code alerts again only when the uses nobody can explain — the
strangers, or the uses beyond what the reach allows, whichever is more — have at least
doubled since its last alert (one conditional UPDATE of that row): a leak that keeps
spreading is told again, a steady trickle is not told every ten minutes.

Who is told: the owners and managers (those who may revoke), each in their own language,
through the outbox as service messages (never held by caps or quiet hours), with the
numbers and a button that revokes the code (`revoke_leaked`): the checkout then refuses
it as `revoked`, like any code revoked by `/revoke`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, distinct, exists, func, or_, select, union, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import Settings, StaffSettings
from bot.db.dialect import insert_ignoring_conflict
from bot.db.models import (
    Campaign,
    CampaignAssignment,
    CodeStatus,
    Delivery,
    DeliveryStatus,
    LeakAlert,
    PromoCode,
    Redemption,
    Role,
)
from bot.delivery.outbox import Reason, enqueue
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.errors import DomainError, ErrorCode
from bot.promo.staff import manual_codes
from bot.promo.staff.managers import LEVELS, Staff
from bot.promo.staff.menus import MenuReader, menu_readers

REASON = str(Reason.LEAK_ALERT)
# The revoke button's callback data, `mgrleak:<code id>` (the managers' button prefix).
BUTTON_PREFIX = "mgrleak"
REVOKE_REASON = "leak watch: used by customers who never received it"


@dataclass(frozen=True, slots=True)
class Watch:
    """The thresholds, from the settings (`PROMOBOT_LEAK_*`)."""

    window: timedelta
    min_uses: int
    stranger_percent: int
    reach_percent: int
    public_channels: frozenset[str]

    @classmethod
    def of(cls, staff: StaffSettings) -> Watch:
        return cls(timedelta(days=staff.leak_window_days), staff.leak_min_uses,
                   staff.leak_stranger_percent, staff.leak_reach_percent,
                   frozenset(staff.leak_public_channels))

    @property
    def on(self) -> bool:
        return self.min_uses > 0


@dataclass(frozen=True, slots=True)
class Usage:
    """One shared code's last `window`: what the alert shows."""

    code_id: int
    code: str
    campaign_id: int | None
    campaign: str | None
    uses: int  # not released (a cancelled order gives its use back)
    customers: int
    strangers: int  # customers nothing we know of gave the code to
    reach: int  # customers it reached through a channel we know
    since: datetime  # the first stranger's use in the window, else the first use

    def explained(self, watch: Watch) -> int:
        """How many uses the reach can explain."""
        return self.reach * watch.reach_percent // 100

    def suspects(self, watch: Watch) -> int:
        """The uses nobody can explain: the strangers, or the uses beyond the reach."""
        return max(self.strangers, self.uses - self.explained(watch))

    def leaked(self, watch: Watch) -> bool:
        if self.uses < watch.min_uses:
            return False
        strangers = self.strangers * 100 >= watch.stranger_percent * self.customers
        return (self.strangers > 0 and strangers) or self.uses > self.explained(watch)


def _known(customer: Any, code: Any) -> Any:
    """`customer` received `code` through a channel we know: a Telegram message carrying
    the code or its campaign reached them, a code of that campaign was issued to them, or
    the campaign picked them for its audience (not its control group)."""
    own = aliased(PromoCode)
    d, a = Delivery, CampaignAssignment
    return or_(
        exists().where(d.customer_id == customer, d.status == DeliveryStatus.SENT,
                       or_(d.code_id == code.id, d.campaign_id == code.campaign_id)),
        exists().where(own.campaign_id == code.campaign_id, own.customer_id == customer),
        exists().where(a.campaign_id == code.campaign_id, a.customer_id == customer,
                       a.is_holdout == False),  # noqa: E712
    )


async def measure(session: AsyncSession, watch: Watch, *, now: datetime) -> list[Usage]:
    """Every active shared code used at least `min_uses` times in the window, measured.

    One grouped query over the window's uses (by `ix_redemptions_created_at`), each use
    judged by indexed probes of its customer; then the reach of those few codes."""
    r, c = Redemption, PromoCode
    since = now - watch.window
    # A code that can no longer be used (revoked, expired, used up) needs no alert.
    scope = [r.created_at >= since, r.created_at <= now, r.released_at.is_(None),
             c.customer_id.is_(None), c.status == CodeStatus.ACTIVE,
             or_(c.expires_at.is_(None), c.expires_at > now),
             or_(c.usage_limit.is_(None), c.used_count < c.usage_limit)]
    if watch.public_channels:
        scope.append(c.channel.not_in(sorted(watch.public_channels)))
    uses = (
        select(r.code_id, r.customer_id, r.created_at,
               case((_known(r.customer_id, c), 0), else_=1).label("stranger"))
        .join(c, c.id == r.code_id)
        .where(*scope)
        .subquery()
    )
    stranger = uses.c.stranger == 1
    grouped = (
        select(uses.c.code_id, func.count(), func.count(distinct(uses.c.customer_id)),
               func.count(distinct(case((stranger, uses.c.customer_id)))),
               func.min(uses.c.created_at), func.min(case((stranger, uses.c.created_at))))
        .group_by(uses.c.code_id)
        .having(func.count() >= max(watch.min_uses, 1))
        .subquery()
    )
    rows = (await session.execute(
        select(grouped, c.code, c.campaign_id, Campaign.name)
        .join(c, c.id == grouped.c.code_id)
        .outerjoin(Campaign, Campaign.id == c.campaign_id)
        .order_by(grouped.c.code_id)
    )).all()
    measured = []
    for code_id, n, customers, strangers, first, first_stranger, code, campaign_id, name in rows:
        measured.append(Usage(
            code_id, code, campaign_id, name, int(n), int(customers), int(strangers or 0),
            await reach(session, code_id, campaign_id),
            first_stranger if first_stranger is not None else first,
        ))
    return measured


async def reach(session: AsyncSession, code_id: int, campaign_id: int | None) -> int:
    """Customers a shared code reached through a channel we know (`_known`'s ways)."""
    d = Delivery
    sent = [d.status == DeliveryStatus.SENT, d.customer_id.is_not(None)]
    parts = [select(d.customer_id).where(*sent, d.code_id == code_id)]
    if campaign_id is not None:
        a = CampaignAssignment
        parts += [
            select(d.customer_id).where(*sent, d.campaign_id == campaign_id),
            select(PromoCode.customer_id).where(PromoCode.campaign_id == campaign_id,
                                                PromoCode.customer_id.is_not(None)),
            select(a.customer_id).where(a.campaign_id == campaign_id,
                                        a.is_holdout == False),  # noqa: E712
        ]
    everyone = union(*parts).subquery()
    return int(await session.scalar(select(func.count()).select_from(everyone)) or 0)


async def claim(session: AsyncSession, usage: Usage, watch: Watch, *, now: datetime
                ) -> int | None:
    """The alert's level if this run is the one to tell (not committed): 1 the first
    time, one more each time the unexplained uses have doubled; None otherwise."""
    suspects = usage.suspects(watch)
    figures = {"uses": usage.uses, "strangers": usage.strangers, "reach": usage.reach,
               "suspects": suspects, "alerted_at": now}
    first = await session.execute(
        insert_ignoring_conflict(session, LeakAlert.__table__, code_id=usage.code_id, level=1,
                                 first_alerted_at=now, **figures)
        .returning(LeakAlert.__table__.c.level))
    level = first.scalar()
    if level is not None:
        return int(level)
    worse = await session.execute(
        update(LeakAlert)
        .where(LeakAlert.code_id == usage.code_id, LeakAlert.suspects * 2 <= suspects)
        .values(level=LeakAlert.level + 1, **figures)
        .returning(LeakAlert.level)
        .execution_options(synchronize_session=False))
    level = worse.scalar()
    return None if level is None else int(level)


def payload(usage: Usage, watch: Watch, level: int, locale: str) -> dict[str, Any]:
    """What the alert's text shows, in its reader's language (`bot.texts.leaks`)."""
    return {
        "code_id": usage.code_id, "code": usage.code, "campaign_id": usage.campaign_id,
        "campaign": usage.campaign, "uses": usage.uses, "customers": usage.customers,
        "strangers": usage.strangers, "reach": usage.reach,
        "window_days": watch.window.days, "since": usage.since.isoformat(), "level": level,
        "locale": locale,
    }


def button_data(code_id: int) -> str:
    return f"{BUTTON_PREFIX}:{code_id}"


async def revokers(session: AsyncSession, settings: Settings) -> list[MenuReader]:
    """Who is told: the owners and managers (analysts may not revoke), with their language."""
    readers = await menu_readers(session, settings.telegram, settings.shop.default_locale)
    return [reader for reader in readers if LEVELS[reader.role] >= LEVELS[Role.MANAGER]]


async def alert(session: AsyncSession, usage: Usage, watch: Watch, readers: list[MenuReader],
                *, now: datetime) -> int:
    """Claim the alert and queue it to each reader, in one transaction (not committed);
    how many messages were queued."""
    level = await claim(session, usage, watch, now=now)
    if level is None:
        return 0
    queued = 0
    for reader in readers:
        row = await enqueue(
            session, dedupe_key=f"{REASON}:{usage.code_id}:{level}:{reader.telegram_id}",
            customer_id=None, chat_id=reader.telegram_id, reason=REASON,
            payload=payload(usage, watch, level, reader.locale), promotional=False, due_at=now)
        queued += row is not None
    return queued


async def watch_codes(ctx: Context) -> RunResult:
    """The scheduled run: measure the shared codes, alert about the leaked ones, each in a
    transaction of its own. `audience`: codes measured; `issued`: codes alerted about;
    `queued`: messages to staff."""
    result = RunResult(kind="leaks")
    watch = Watch.of(ctx.settings.staff)
    if not watch.on:
        return result
    async with ctx.db.read_session() as session:
        measured = await measure(session, watch, now=ctx.now)
        readers = await revokers(session, ctx.settings) if measured else []
    result.audience = len(measured)
    if not readers:
        return result  # nobody may revoke yet: the next run tells whoever is added
    for usage in measured:
        if not usage.leaked(watch):
            continue
        async with ctx.db.session() as session:
            queued = await alert(session, usage, watch, readers, now=ctx.now)
            await session.commit()
        result.issued += queued > 0
        result.queued += queued
    return result


@dataclass(frozen=True, slots=True)
class Revoked:
    code: PromoCode
    by_this_tap: bool  # False: it was revoked already (another manager, `/revoke`, a stop)


async def revoke_leaked(session: AsyncSession, staff: Staff, code_id: int, *, now: datetime
                        ) -> Revoked:
    """The alert's button: revoke the code as `/revoke` does (its queued messages
    cancelled, an audit row), not committed. A code revoked already is no refusal here:
    the manager who taps second is told so."""
    code = await session.get(PromoCode, code_id)
    if code is None:
        raise DomainError(ErrorCode.UNKNOWN_CODE, "no such code", promo_code=str(code_id))
    if code.status == CodeStatus.REVOKED:
        return Revoked(code, False)
    try:
        return Revoked(await manual_codes.revoke(session, staff, code.code, REVOKE_REASON,
                                                 now=now), True)
    except DomainError as error:
        if error.code != ErrorCode.ALREADY_REVOKED:
            raise
    await session.refresh(code)
    return Revoked(code, False)

