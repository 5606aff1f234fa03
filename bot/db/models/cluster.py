"""What the processes of one deployment share when there is no Redis and the database is
PostgreSQL (`bot.cluster`): the updates already handled, failure counters, and the
Telegram send clock. Times in the send clock are epoch seconds of the processes' wall
clocks (`bot.cluster.send_budget` says why).

The counters and the clocks are written on every checkout call and every send, and are
worth nothing after a crash (a minute of braking, a second of spacing), so PostgreSQL
keeps them out of its write-ahead log (UNLOGGED: emptied by crash recovery). The updates
seen are kept: Telegram sends again what a crashed process had not answered."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, BigInteger, Double, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models.base import Base


class SeenUpdate(Base):
    """A Telegram update some process has taken; a second copy is dropped."""

    __tablename__ = "seen_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seen_at: Mapped[datetime] = mapped_column(index=True)


class RateCounter(Base):
    """A counter of a fixed window (failed code checks of a customer, say)."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class SendClock(Base):
    """The bot's one send clock: the next free slot, and a 429's pause."""

    __tablename__ = "send_clock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    next_at: Mapped[float] = mapped_column(Double, default=0.0)
    paused_until: Mapped[float] = mapped_column(Double, default=0.0)


class ChatClock(Base):
    """When a chat may get its next message (one per chat per second)."""

    __tablename__ = "chat_clock"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    next_at: Mapped[float] = mapped_column(Double, index=True)


# `bot.cluster.send_budget.book` as one PostgreSQL function: a booking is one round trip,
# and the clock's row is locked only while the function runs. Answers: 0 booked (the
# slot is `wait` seconds from `now`), 1 the chat is busy, 2 the clock is booked ahead.
BOOK_SEND_FUNCTION = """
CREATE OR REPLACE FUNCTION promobot_book_send(
    now double precision, step double precision, chat_step double precision,
    lookahead double precision, reply boolean, chat bigint, forgone double precision
) RETURNS TABLE (answer integer, wait double precision) LANGUAGE plpgsql AS $$
DECLARE
    clock_next double precision;
    paused double precision;
    chat_next double precision;
    start double precision;
    slot double precision;
BEGIN
    SELECT c.next_at, c.paused_until INTO clock_next, paused
        FROM send_clock AS c WHERE c.id = 1 FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO send_clock (id, next_at, paused_until) VALUES (1, 0, 0)
            ON CONFLICT (id) DO NOTHING;
        SELECT c.next_at, c.paused_until INTO clock_next, paused
            FROM send_clock AS c WHERE c.id = 1 FOR UPDATE;
    END IF;
    start := greatest(now, paused);
    IF chat IS NOT NULL THEN
        SELECT t.next_at INTO chat_next FROM chat_clock AS t WHERE t.chat_id = chat;
        IF chat_next > start
                AND NOT (forgone > 0 AND abs(chat_next - (forgone + chat_step)) < 0.001) THEN
            RETURN QUERY SELECT 1, chat_next - now;
            RETURN;
        END IF;
    END IF;
    slot := greatest(start, clock_next);
    IF NOT reply AND slot > now + lookahead THEN
        RETURN QUERY SELECT 2, slot - lookahead - now;
        RETURN;
    END IF;
    UPDATE send_clock SET next_at = slot + step WHERE id = 1;
    IF chat IS NOT NULL THEN
        INSERT INTO chat_clock (chat_id, next_at) VALUES (chat, slot + chat_step)
            ON CONFLICT (chat_id) DO UPDATE SET next_at = EXCLUDED.next_at;
    END IF;
    RETURN QUERY SELECT 0, slot - now;
END
$$
"""

# With the tables, where they are made from the models (tests, `promobot demo`).
event.listen(SendClock.__table__, "after_create",
             DDL(BOOK_SEND_FUNCTION).execute_if(dialect="postgresql"))


UNLOGGED_TABLES = tuple(model.__tablename__ for model in (RateCounter, SendClock, ChatClock))
for _name in UNLOGGED_TABLES:
    event.listen(Base.metadata.tables[_name], "after_create",
                 DDL("ALTER TABLE %(table)s SET UNLOGGED").execute_if(dialect="postgresql"))
