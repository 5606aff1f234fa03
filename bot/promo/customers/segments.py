"""Segments (recency, frequency, monetary, favourite category) as SQL over customer aggregates.

Each builder returns a `Select` of customer ids, so callers can count it with one query,
page through it by id (`iter_ids`) or join it; nothing loads customers into memory.
The filters use the indexed aggregates on `customers` (`last_order_at`, `net_spend`,
`(orders_count, last_order_at)`), kept by `bot.promo.shop.orders`.

"N days silent" counts calendar days in the shop's time zone: a customer whose last
order was on 2 April (local) has been silent 60 days on 1 June, all day long, so a job
picks the same people whenever it runs that day and picks each one on one day only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Customer, SurveyAnswer

NEW_SILENT_DAYS = 30
REGULAR_MIN_ORDERS = 3
ALMOST_LOST_DAYS = 90
EVERYONE = "all"


def day_cutoff(now: datetime, days: int, tz: tzinfo) -> datetime:
    """The earliest moment (UTC) of the local day `days - 1` days before today.

    A last order before this moment is at least `days` calendar days old.
    """
    today = now.astimezone(tz).date()
    start = datetime.combine(today - timedelta(days=days - 1), time(0), tzinfo=tz)
    return start.astimezone(ZoneInfo("UTC"))


def _ids() -> Select[tuple[int]]:
    return select(Customer.id)


def new_but_silent(days: int = NEW_SILENT_DAYS, *, now: datetime, tz: tzinfo) -> Select[Any]:
    """One order, then nothing for at least `days` days."""
    return _ids().where(
        Customer.orders_count == 1, Customer.last_order_at < day_cutoff(now, days, tz)
    )


def regulars(min_orders: int = REGULAR_MIN_ORDERS) -> Select[Any]:
    """Repeat buyers: at least `min_orders` orders that were not cancelled."""
    return _ids().where(Customer.orders_count >= min_orders)


def almost_lost(days: int = ALMOST_LOST_DAYS, *, now: datetime, tz: tzinfo) -> Select[Any]:
    """Bought before, but not for `days` days or more."""
    # A last order time exists only for customers with a counted order.
    return _ids().where(Customer.last_order_at < day_cutoff(now, days, tz))


def silent_between(
    min_days: int, max_days: int | None, *, now: datetime, tz: tzinfo
) -> Select[Any]:
    """Silent at least `min_days` and fewer than `max_days` days (no upper bound if None).

    A comeback step: whoever ordered in between has a recent last order and drops out.
    """
    query = _ids().where(Customer.last_order_at < day_cutoff(now, min_days, tz))
    if max_days is not None:
        if max_days <= min_days:
            raise ValueError("max_days must be greater than min_days")
        query = query.where(Customer.last_order_at >= day_cutoff(now, max_days, tz))
    return query


def everyone() -> Select[Any]:
    return _ids()


def big_spenders(min_net_spend: int) -> Select[Any]:
    """Net spend (returns subtracted, minor units) at least this much."""
    return _ids().where(Customer.net_spend >= min_net_spend)


def with_category(query: Select[Any], category: str | None) -> Select[Any]:
    """Only customers whose favourite category is this one (None: no filter)."""
    return query if not category else query.where(Customer.favourite_category == category)


def with_answer(query: Select[Any], answer: Sequence[int] | None) -> Select[Any]:
    """Only customers who chose this option (`[survey id, option index]`) of a survey
    (None: no filter). Read from the answers' side: a survey's answers are few next to
    the customers a segment may hold."""
    if not answer:
        return query
    survey_id, option = (int(value) for value in answer)
    chose = select(SurveyAnswer.customer_id).where(SurveyAnswer.survey_id == survey_id,
                                                   SurveyAnswer.option == option)
    return query.where(Customer.id.in_(chose))


def opted_in(query: Select[Any]) -> Select[Any]:
    """Only customers who accept promotional messages."""
    return query.where(Customer.marketing_opt_in.is_(True))


async def count(session: AsyncSession, query: Select[Any]) -> int:
    return await session.scalar(select(func.count()).select_from(query.subquery())) or 0


async def iter_ids(
    session: AsyncSession, query: Select[Any], *, batch_size: int = 1000
) -> AsyncIterator[list[int]]:
    """The segment's customer ids in batches, by keyset on the primary key (no OFFSET)."""
    last = 0
    while True:
        batch = list(await session.scalars(
            query.where(Customer.id > last).order_by(Customer.id).limit(batch_size)
        ))
        if not batch:
            return
        yield batch
        last = batch[-1]


@dataclass(frozen=True, slots=True)
class Segment:
    """A named segment a manager can pick; `params` are the defaults a campaign may override."""

    name: str
    # Key of the description text (translated by the caller); `summary` is for logs and CLI.
    description_key: str
    summary: str
    build: Callable[..., Select[Any]]
    params: Mapping[str, int] = field(default_factory=dict)

    def select(
        self,
        *,
        now: datetime,
        tz: tzinfo,
        category: str | None = None,
        only_opted_in: bool = False,
        **params: int,
    ) -> Select[Any]:
        unknown = set(params) - set(self.params)
        if unknown:
            raise ValueError(f"segment {self.name!r} has no parameter(s) {sorted(unknown)}")
        query = self.build(now=now, tz=tz, **{**self.params, **params})
        query = with_category(query, category)
        return opted_in(query) if only_opted_in else query

    def of_campaign(self, params: Mapping[str, Any], *, now: datetime, tz: tzinfo
                    ) -> Select[Any]:
        """The segment as a campaign's `params` narrow it: its own parameters, a
        favourite category, an answer to a survey (`survey_answer`)."""
        own = {key: int(value) for key, value in params.items() if key in self.params}
        query = self.select(now=now, tz=tz, category=params.get("category"), **own)
        return with_answer(query, params.get("survey_answer"))


def _segment(
    name: str, summary: str, build: Callable[..., Select[Any]], **params: int
) -> Segment:
    return Segment(name, f"segment.{name}", summary, build, params)


SEGMENTS: dict[str, Segment] = {
    segment.name: segment
    for segment in (
        _segment(EVERYONE, "every customer", lambda *, now, tz: everyone()),
        _segment(
            "new_silent", "one order, then silent for {days}+ days",
            lambda *, now, tz, days: new_but_silent(days, now=now, tz=tz),
            days=NEW_SILENT_DAYS,
        ),
        _segment(
            "regulars", "{min_orders}+ orders",
            lambda *, now, tz, min_orders: regulars(min_orders), min_orders=REGULAR_MIN_ORDERS,
        ),
        _segment(
            "almost_lost", "no order for {days}+ days",
            lambda *, now, tz, days: almost_lost(days, now=now, tz=tz), days=ALMOST_LOST_DAYS,
        ),
        _segment(
            "comeback_60", "silent {min_days}-{max_days} days",
            lambda *, now, tz, min_days, max_days: silent_between(
                min_days, max_days, now=now, tz=tz
            ),
            min_days=60, max_days=90,
        ),
        _segment(
            "comeback_90", "silent {min_days}-{max_days} days",
            lambda *, now, tz, min_days, max_days: silent_between(
                min_days, max_days, now=now, tz=tz
            ),
            min_days=90, max_days=180,
        ),
        _segment(
            "big_spenders", "net spend at least {min_net_spend} (minor units)",
            lambda *, now, tz, min_net_spend: big_spenders(min_net_spend),
            min_net_spend=5_000_000,
        ),
    )
}


def get_segment(name: str) -> Segment:
    try:
        return SEGMENTS[name]
    except KeyError:
        raise KeyError(f"unknown segment {name!r}; known: {', '.join(SEGMENTS)}") from None
