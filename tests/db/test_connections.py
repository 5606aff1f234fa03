"""The hot path's own connection pool (`bot.db.connections`): bounded, never lending a
connection in an unknown state, never losing a place. Over stand-in connections, so the
mechanics run on both databases; `test_hot_reads.py` runs the hot path over the server's
real ones."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from bot.db.connections import Connections


class Conn:
    """What `Connections` asks of an asyncpg connection."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.in_transaction = False
        self.goodbye: str | None = None

    def is_closed(self) -> bool:
        return self.goodbye is not None

    def is_in_transaction(self) -> bool:
        return self.in_transaction

    def terminate(self) -> None:
        self.goodbye = self.goodbye or "terminated"

    async def close(self, **_: Any) -> None:
        self.goodbye = self.goodbye or "closed"


class Server:
    """Makes the connections; can refuse the next ones."""

    def __init__(self) -> None:
        self.made: list[Conn] = []
        self.refusing = 0

    async def connect(self) -> Any:
        await asyncio.sleep(0)
        if self.refusing:
            self.refusing -= 1
            raise ConnectionRefusedError("the server is starting")
        self.made.append(Conn(len(self.made)))
        return self.made[-1]


async def _one_lent_one_waiting() -> tuple[Server, Connections, Any, asyncio.Task[Any]]:
    """A pool of one connection, lent, and a job waiting for it."""
    server = Server()
    connections = Connections(server.connect, size=1)
    lent = await connections.acquire()
    waiting = asyncio.create_task(connections.acquire())
    await asyncio.sleep(0)
    return server, connections, lent, waiting


async def _job(connections: Connections, hold: float = 0.005) -> int:
    conn = await connections.acquire()
    await asyncio.sleep(hold)
    connections.release(conn)
    return conn.number  # type: ignore[no-any-return]


async def test_a_burst_of_jobs_shares_at_most_size_connections() -> None:
    server = Server()
    connections = Connections(server.connect, size=3)
    used = await asyncio.gather(*(_job(connections) for _ in range(30)))
    assert len(server.made) == 3 and set(used) == {0, 1, 2}
    # Once quiet, one job after another keeps to one connection, the most recently used.
    assert len({await _job(connections, 0) for _ in range(5)}) == 1
    assert not any(conn.is_closed() for conn in server.made)


@pytest.mark.parametrize("error", [
    asyncpg.InterfaceError("cannot perform operation: another operation is in progress"),
    ConnectionResetError("the socket is gone"),
    asyncio.CancelledError(),
])
async def test_a_connection_left_in_an_unknown_state_is_never_lent_again(
    error: BaseException,
) -> None:
    server = Server()
    connections = Connections(server.connect, size=1)
    conn = await connections.acquire()
    connections.release(conn, error)
    assert server.made[0].goodbye == "terminated"
    again = await connections.acquire()
    assert again is server.made[1]


async def test_a_connection_left_in_a_transaction_is_closed() -> None:
    server = Server()
    connections = Connections(server.connect, size=1)
    conn = await connections.acquire()
    conn.in_transaction = True  # a rollback that did not happen
    connections.release(conn)
    assert server.made[0].goodbye == "terminated"
    assert await connections.acquire() is server.made[1]


async def test_an_error_of_the_server_or_the_job_keeps_the_connection() -> None:
    server = Server()
    connections = Connections(server.connect, size=1)
    for error in (asyncpg.UniqueViolationError("duplicate key"), LookupError("no such code")):
        conn = await connections.acquire()
        connections.release(conn, error)
    assert await connections.acquire() is server.made[0] and len(server.made) == 1


async def test_a_refused_connect_frees_its_place_for_a_job_waiting() -> None:
    server = Server()
    connections = Connections(server.connect, size=1)
    server.refusing = 1
    first = asyncio.create_task(connections.acquire())
    second = asyncio.create_task(connections.acquire())  # waits: the one place is taken
    with pytest.raises(ConnectionRefusedError):
        await first
    assert await asyncio.wait_for(second, 1) is server.made[0]


async def test_a_job_cancelled_as_it_is_handed_a_connection_passes_it_on() -> None:
    server = Server()
    connections = Connections(server.connect, size=1)
    held = await connections.acquire()
    cancelled = asyncio.create_task(connections.acquire())
    after = asyncio.create_task(connections.acquire())
    await asyncio.sleep(0)  # both wait
    connections.release(held)  # handed to `cancelled`, which has not run yet
    cancelled.cancel()
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    assert await asyncio.wait_for(after, 1) is held


async def test_a_job_cancelled_while_waiting_takes_nothing() -> None:
    _, connections, held, gone = await _one_lent_one_waiting()
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    connections.release(held)
    assert await connections.acquire() is held


async def test_connections_idle_for_long_are_closed() -> None:
    server = Server()
    connections = Connections(server.connect, size=3, idle_for=0.2)
    await asyncio.gather(*(_job(connections, 0) for _ in range(3)))
    await asyncio.sleep(0.1)
    again = await _job(connections, 0)  # used again: its idle time starts anew
    await asyncio.sleep(0.15)
    # The two left idle since the burst were closed politely; the third is still open.
    assert sorted(conn.number for conn in server.made if conn.goodbye == "closed") == \
        sorted({0, 1, 2} - {again})
    assert server.made[again].goodbye is None
    await asyncio.sleep(0.2)
    assert server.made[again].goodbye == "closed"
    assert await _job(connections, 0) == 3  # a new one, in a place freed up


async def test_closing_closes_idle_connections_and_those_lent_as_they_come_back() -> None:
    server = Server()
    connections = Connections(server.connect, size=2)
    idle, lent = await connections.acquire(), await connections.acquire()
    connections.release(idle)
    await connections.close()
    assert idle.goodbye == "closed" and lent.goodbye is None
    connections.release(lent)
    assert lent.goodbye == "terminated"
    with pytest.raises(asyncpg.InterfaceError):
        await connections.acquire()


async def test_closing_fails_the_jobs_waiting() -> None:
    _, connections, _, waiting = await _one_lent_one_waiting()
    await connections.close()
    with pytest.raises(asyncpg.InterfaceError):
        await waiting


async def test_a_job_cancelled_as_the_close_fails_it_ends_cancelled() -> None:
    """Whoever cancelled it (a timeout, a task group) sees its cancellation, not the
    close's error."""
    _, connections, _, waiting = await _one_lent_one_waiting()
    await connections.close()  # fails `waiting`, which has not run yet
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting


async def test_a_place_handed_over_just_before_the_close_makes_no_connection() -> None:
    server, connections, conn, waiting = await _one_lent_one_waiting()
    connections.release(conn, ConnectionResetError())  # its place goes to `waiting`
    await connections.close()
    with pytest.raises(asyncpg.InterfaceError):
        await waiting
    assert len(server.made) == 1
