"""What the processes of one deployment share when there is no Redis and the database is
PostgreSQL (`bot.cluster`): the updates already handled, failure counters, and the
Telegram send clock. Times in the send clock are the database server's epoch seconds,
so that every process reads one clock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Double, Integer, String
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
