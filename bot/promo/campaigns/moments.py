"""Moments: a thank-you on the anniversary of a customer's first order ("2 years with
us") and on their birthday, each with a small code — the playbook's "thank you for two
years with us", a reward for loyalty, not a sale.

- The anniversary counts from the first order the customer kept (not cancelled, not
  returned in full), from the first full year on. The birthday is the one the shop sent
  (`PUT /api/v1/customers/{id}` `birthday`); without it there is none.
- The day is the customer's local day (their time zone, else the shop's); a moment on
  29 February falls on 28 February in other years.
- Each at most once a year per customer: the claim is a row of `moment_rewards`, unique
  on (customer, kind, year of the day), inserted with ON CONFLICT DO NOTHING in the same
  transaction as the code and its outbox row (whose dedupe key says the same), so a job
  run twice, two instances at once, or a relink of the customer's Telegram give nothing
  more. Next year is a new row.
- Unsolicited, so promotional: nothing at all (no code, no claim) for a customer who
  declined promotions, never linked Telegram or blocked the bot; the sender keeps the
  caps and quiet hours. The message is due at `PROMOBOT_MOMENTS_TIME` on the day and
  expires at the end of the window (`PROMOBOT_MOMENTS_WINDOW_DAYS`, 3 by default:
  the day and two after, the day's caps or a night's quiet hours can push it there): a
  thank-you for a birthday weeks ago reads as a mistake, so the sender cancels it
  instead and gives its code back. A job that was down catches up within the window too.
- The offer is the settings' (`PROMOBOT_ANNIVERSARY_OFFER`, `PROMOBOT_BIRTHDAY_OFFER`, "0"
  = none), its validity counted from delivery, weighed with the customer's tier under the
  margin guardrail (`Headroom.allows`): a customer whose tier leaves no room gets nothing
  (counted `no_room`); an offer above the ceiling for anyone stops that kind's run, with
  the numbers.
- The global holdout gets them too: like the rewards for reviews, invitations and the
  loyalty levels, the moments are in the published terms (`bot.texts.terms`) — a promise
  kept, not a campaign to measure; withholding them would break the terms, not measure
  the program (`global_holdout`).

The job runs under the built-in campaign `auto:moments` (pausing it stops them). It reads
only customers whose day (as UTC sees it, widened by the spread of time zones and the
window) could be today, outside any write transaction, then decides each exactly in their
own zone and rewards them in batches, one write transaction each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Select, extract, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.db.dialect import insert_ignoring_conflict
from bot.db.models import CodeSource, Customer, MomentReward, Order, OrderStatus
from bot.delivery.outbox import Reason, enqueue
from bot.i18n import zone
from bot.promo.campaigns.audience import audience, none_where, reachable
from bot.promo.campaigns.builtin import active_builtin
from bot.promo.campaigns.context import Context, RunResult
from bot.promo.codes.issuing import Headroom, headroom, issue_code, refusal
from bot.promo.codes.offers import Offer, rung_offer

rewards_table = MomentReward.__table__
# Orders that do not count as "with us": never paid for, or all sent back.
_NOT_KEPT = (OrderStatus.CANCELLED, OrderStatus.RETURNED)
# A claim this recent means this year's moment is done: such customers are not read again.
_DONE_WITHIN = timedelta(days=60)
# Local dates lie within this many days of the UTC date (UTC-12 … UTC+14), and so do the
# database's and the customer's view of one moment's date.
_ZONE_SPREAD = 2


class Moment(StrEnum):
    ANNIVERSARY = "anniversary"
    BIRTHDAY = "birthday"


@dataclass(frozen=True, slots=True)
class Due:
    """A moment a customer has now: its day, and for an anniversary the years."""

    day: date
    years: int = 0


def moment_offers(settings: Settings) -> dict[Moment, Offer]:
    """The moments the shop rewards, with their offers; none with the offer "0"."""
    moments, currency = settings.moments, settings.shop.currency
    found = {}
    for moment, rung, days in (
        (Moment.ANNIVERSARY, moments.anniversary_offer, moments.anniversary_valid_days),
        (Moment.BIRTHDAY, moments.birthday_offer, moments.birthday_valid_days),
    ):
        if rung.percent or rung.free_shipping:
            found[moment] = rung_offer(rung, min_order=moments.min_order, valid_days=days,
                                       currency=currency)
    return found


def observed(origin: date, year: int) -> date:
    """The day `origin`'s moment falls on in `year`: 29 February on the 28th in other
    years."""
    if (origin.month, origin.day) == (2, 29):
        try:
            return date(year, 2, 29)
        except ValueError:
            return date(year, 2, 28)
    return origin.replace(year=year)


def due_day(origin: date, today: date, window: int) -> date | None:
    """The latest day of `origin`'s moment within the `window` days ending `today`."""
    for year in (today.year, today.year - 1):
        day = observed(origin, year)
        if day <= today < day + timedelta(days=window):
            return day
    return None


def _month_days(now: datetime, window: int) -> list[int]:
    """month × 100 + day of every date a moment due somewhere on Earth now can be stored
    on, as the database reads it (29 February included near the end of February)."""
    today = now.astimezone(UTC).date()
    days = [today + timedelta(days=offset)
            for offset in range(-window - _ZONE_SPREAD, _ZONE_SPREAD + 2)]
    found = {day.month * 100 + day.day for day in days}
    if any(date(day.year, 2, 27) <= day <= date(day.year, 3, 2) for day in days):
        found.add(229)
    return sorted(found)


def _month_day(column: Any) -> Any:
    return extract("month", column) * 100 + extract("day", column)


def _first_kept_order() -> Any:
    """When the customer's first order they kept was placed (a correlated subquery: one
    probe of `ix_orders_customer_placed` per customer read)."""
    return (select(Order.placed_at)
            .where(Order.customer_id == Customer.id, Order.status.not_in(_NOT_KEPT))
            .order_by(Order.placed_at).limit(1)
            .correlate(Customer).scalar_subquery())


def _candidates(ctx: Context, moment: Moment) -> Select[Any]:
    """Customers whose moment may be due now (decided exactly by `_due`), without those
    rewarded for it lately."""
    not_done = none_where(rewards_table.c.id, rewards_table.c.customer_id == Customer.id,
                          rewards_table.c.kind == moment.value,
                          rewards_table.c.created_at > ctx.now - _DONE_WITHIN)
    month_days = _month_days(ctx.now, ctx.settings.moments.window_days)
    if moment is Moment.BIRTHDAY:
        origin = Customer.birthday
        query = select(Customer.id).where(origin.is_not(None))
    else:
        origin = _first_kept_order()
        # A year of orders at least (`first_order_at` counts returned ones too: earlier).
        query = select(Customer.id).where(
            Customer.orders_count > 0,
            Customer.first_order_at <= ctx.now - timedelta(days=365 - _ZONE_SPREAD))
    query = query.where(not_done, _month_day(origin).in_(month_days))
    return audience(query, Customer.timezone, origin.label("origin"))


def _due(ctx: Context, moment: Moment, row: Any) -> Due | None:
    """The customer's moment if it is due now in their zone, else None."""
    tz = zone(row.timezone, ctx.settings.shop.timezone)
    today = ctx.now.astimezone(tz).date()
    origin = row.origin if moment is Moment.BIRTHDAY else row.origin.astimezone(tz).date()
    day = due_day(origin, today, ctx.settings.moments.window_days)
    if day is None:
        return None
    years = day.year - origin.year
    if moment is Moment.ANNIVERSARY and years < 1:
        return None  # the first full year is not over yet
    if moment is Moment.BIRTHDAY and origin > today:
        return None  # a birthday in the future is the shop's typo
    return Due(day, years)


def send_window(settings: Settings, tz_name: str | None, day: date) -> tuple[datetime, datetime]:
    """When a moment's message is due (`PROMOBOT_MOMENTS_TIME` on its day, in the
    customer's zone) and when it expires (the local midnight that ends the window)."""
    tz = zone(tz_name, settings.shop.timezone)
    moments = settings.moments
    due = datetime.combine(day, moments.send_at, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=moments.window_days), time(0), tzinfo=tz)
    return due.astimezone(UTC), end.astimezone(UTC)


async def run_moments(ctx: Context) -> RunResult:
    """Reward every moment due now: a claim, a code and a message each, or why not."""
    result = RunResult(kind="moments")
    offers = moment_offers(ctx.settings)
    if not offers:
        return result
    campaign_id = await active_builtin(ctx, "moments", result)
    if campaign_id is None:
        return result
    async with ctx.db.read_session() as session:
        room = await headroom(session, ctx.settings, now=ctx.now)
    for moment, offer in offers.items():
        check = room.check(offer)
        if not check.allowed:
            result.status = "refused"
            result.message = f"{moment}: {refusal(check).message}"
            continue
        due = await _due_now(ctx, moment)
        rows = reachable([row for row, _day in due.values()], result)
        for start in range(0, len(rows), ctx.batch_size):
            async with ctx.db.session() as session:
                for row in rows[start:start + ctx.batch_size]:
                    await _reward(session, ctx, row, moment, offer, due[row.id][1], room,
                                  campaign_id=campaign_id, result=result)
                await session.commit()
    return result


async def _due_now(ctx: Context, moment: Moment) -> dict[int, tuple[Any, Due]]:
    """The customers whose moment is due now: their row and the moment, by id. Read
    outside any write transaction: the day is no index's key, so the read walks the
    customers, and on SQLite a write transaction would hold every checkout back
    meanwhile; what it finds is a few days' worth of customers, a few hundredths."""
    async with ctx.db.read_session() as session:
        connection = await session.connection()
        rows = (await connection.execute(_candidates(ctx, moment).order_by(Customer.id))).all()
    return {row.id: (row, found) for row in rows
            if (found := _due(ctx, moment, row)) is not None}


async def _reward(
    session: AsyncSession, ctx: Context, row: Any, moment: Moment, offer: Offer, due: Due,
    room: Headroom, *, campaign_id: int, result: RunResult,
) -> None:
    """Claim this year's moment, then issue its code and queue its message (not
    committed); a claim another run won, or a tier without room, gives nothing."""
    if not room.allows(offer, row):
        result.no_room += 1
        return
    claimed = await session.execute(insert_ignoring_conflict(
        session, rewards_table, customer_id=row.id, kind=moment.value, year=due.day.year,
        created_at=ctx.now))
    if claimed.rowcount != 1:
        result.taken += 1
        return
    code = await issue_code(session, offer, source=CodeSource(moment.value), now=ctx.now,
                            customer_id=row.id, campaign_id=campaign_id,
                            length=ctx.settings.shop.code_length, expires_on_delivery=True)
    await session.execute(update(rewards_table).where(
        rewards_table.c.customer_id == row.id, rewards_table.c.kind == moment.value,
        rewards_table.c.year == due.day.year).values(code_id=code.id))
    result.issued += 1
    due_at, expires_at = send_window(ctx.settings, row.timezone, due.day)
    payload: dict[str, Any] = ({"years": due.years} if moment is Moment.ANNIVERSARY
                               else {"name": row.name})
    queued = await enqueue(
        session, dedupe_key=f"{moment}:{row.id}:{due.day.year}", customer_id=row.id,
        reason=Reason(moment.value), promotional=True, code_id=code.id,
        campaign_id=campaign_id, due_at=max(ctx.now, due_at), expires_at=expires_at,
        payload=payload)
    result.queued += queued is not None
