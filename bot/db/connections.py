"""The hot path's asyncpg connections on PostgreSQL: `Connections`, a pool that costs a
job next to nothing.

Written here rather than taken from asyncpg (`asyncpg.Pool`) because of what the pool
does per job: it hands a connection back in a shielded task of its own, under a
timeout, resets it, and re-arms an inactivity timer for it. Measured on the 2-core
machine, an acquire and release cost 42–50 µs of CPU there and 0.5 µs here; a checkout
validation holds a connection once or twice, so that was 8 % of its CPU. Hot-path jobs
leave no session state behind (no SET, LISTEN, cursor or session advisory lock), so a
connection can go back as it is: handed to the first job waiting, else kept idle.

A connection a job may have left in a state nobody knows (a statement cancelled midway,
the protocol broken, the socket lost, a transaction left open) is closed instead, and its
place goes to whoever needs a connection next, who makes a new one. Connections are made
on demand, up to `size`; the most recently used is handed out first, so in a quiet hour
the others stay idle and are closed once idle for `idle_for` seconds (the server's
connections are not held for nothing).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Awaitable, Callable

import asyncpg

# What leaves a connection whose protocol state is unknown (an error from the server
# itself, asyncpg.PostgresError, leaves it ready for the next statement).
UNSURE = (asyncpg.InterfaceError, asyncpg.exceptions.InternalClientError, OSError)


class Connections:
    """Up to `size` connections made by `connect`, lent one job at a time."""

    def __init__(self, connect: Callable[[], Awaitable[asyncpg.Connection]], *, size: int,
                 idle_for: float = 300.0) -> None:
        self.size, self.idle_for = size, idle_for
        self._connect = connect
        # Idle connections with when each came back, the most recently used at the right.
        self._idle: collections.deque[tuple[asyncpg.Connection, float]] = collections.deque()
        # Jobs waiting: each gets a connection, or None when a place freed up for it to
        # make one.
        self._waiting: collections.deque[asyncio.Future[asyncpg.Connection | None]] = (
            collections.deque())
        self._places = 0  # connections open or being made
        self._closing: asyncio.TimerHandle | None = None
        self._goodbyes: set[asyncio.Task[None]] = set()  # held: the loop keeps tasks weakly
        self._closed = False

    async def acquire(self) -> asyncpg.Connection:
        if self._closed:
            raise _closed()
        while self._idle:
            conn, _ = self._idle.pop()
            if not conn.is_closed():
                return conn
            self._places -= 1  # the server closed it while it was idle
        if self._places < self.size:
            self._places += 1
        else:
            handed = await self._wait()
            if handed is not None:
                return handed
            if self._closed:  # handed a place just before the close
                self._free_place()
                raise _closed()
        try:
            return await self._connect()
        except BaseException:
            self._free_place()
            raise

    async def _wait(self) -> asyncpg.Connection | None:
        future: asyncio.Future[asyncpg.Connection | None] = (
            asyncio.get_running_loop().create_future())
        self._waiting.append(future)
        try:
            return await future
        except asyncio.CancelledError:
            # Cancelled just after being handed a connection or a place: pass it on.
            if future.done() and not future.cancelled() and future.exception() is None:
                if (handed := future.result()) is None:
                    self._free_place()
                else:
                    self.release(handed)
            raise

    def release(self, conn: asyncpg.Connection, error: BaseException | None = None) -> None:
        """`conn` back from a job that ended normally, or raised `error`."""
        unsure = error is not None and (
            not isinstance(error, Exception) or isinstance(error, UNSURE))
        if unsure or self._closed or conn.is_closed() or conn.is_in_transaction():
            conn.terminate()
            self._free_place()
            return
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_result(conn)
                return
        loop = asyncio.get_running_loop()
        self._idle.append((conn, loop.time()))
        if self._closing is None:
            self._closing = loop.call_later(self.idle_for, self._close_idle)

    def _free_place(self) -> None:
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_result(None)  # that job makes a connection in this place
                return
        self._places -= 1

    def _close_idle(self) -> None:
        """Close the connections idle for `idle_for` seconds; look again when the next
        one will have been."""
        self._closing = None
        loop = asyncio.get_running_loop()
        since = loop.time() - self.idle_for
        while self._idle and self._idle[0][1] <= since:
            conn, _ = self._idle.popleft()
            self._places -= 1
            goodbye = loop.create_task(_close(conn))
            self._goodbyes.add(goodbye)
            goodbye.add_done_callback(self._goodbyes.discard)
        if self._idle:
            self._closing = loop.call_at(self._idle[0][1] + self.idle_for, self._close_idle)

    async def close(self) -> None:
        """Close the idle connections; those still lent are closed as they come back."""
        self._closed = True
        if self._closing is not None:
            self._closing.cancel()
            self._closing = None
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(_closed())
        idle, self._idle = [conn for conn, _ in self._idle], collections.deque()
        self._places -= len(idle)
        await asyncio.gather(*(_close(conn) for conn in idle), *self._goodbyes)


def _closed() -> asyncpg.InterfaceError:
    return asyncpg.InterfaceError("the hot path's connections are closed")


async def _close(conn: asyncpg.Connection) -> None:
    """A polite goodbye to the server, or an abrupt one when the socket is gone."""
    try:
        await conn.close(timeout=5)
    except (asyncpg.PostgresError, *UNSURE):  # TimeoutError is an OSError
        conn.terminate()
