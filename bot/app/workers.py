"""Several processes serving the shop API on one port, for the cores one process cannot use.

One Python process answers one request at a time, and checkout traffic can use every
core. With `PROMOBOT_API_WORKERS=N` (N > 1), `promobot api` and `promobot run` start N
worker processes. Each one is a whole `serve`, with its own event loop and database pool,
and all of them listen on `api_host:api_port` with SO_REUSEPORT: the kernel spreads
connections across them. No answer depends on which worker gives it: redemption is an
atomic conditional update and idempotency records live in the database. The brute-force
brake counts in memory, so each worker holds 1/N of the limit and the total stays
within it.

When a worker dies, the whole service stops with a non-zero exit so that the process
manager (systemd, Docker) restarts it: half a service quietly serving is worse. When
the supervising process dies, its workers stop too.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Awaitable, Callable
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Protocol

from bot.app.process import stop_on_signals
from bot.config import Settings
from bot.db.migrate import SchemaNotCurrentError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0


class WorkerFailed(Exception):
    """A worker could not start (the port is taken, the schema is not current...)."""


class Serve(Protocol):
    """What each worker runs: `bot.app.api.serve`, passed in by whoever starts the
    workers (this module does not import the API, which starts workers itself). It
    reaches the spawned process pickled, so it is a module-level function."""

    def __call__(
        self, settings: Settings, stop: asyncio.Event, *, reuse_port: bool,
        ready: Callable[[], None],
    ) -> Awaitable[None]: ...


def _worker_main(serve: Serve, settings: Settings, ready: Connection) -> None:
    """A worker process's entry point (spawned: it imports the app afresh)."""
    raise SystemExit(asyncio.run(_serve_worker(serve, settings, ready)))


async def _serve_worker(serve: Serve, settings: Settings, ready: Connection) -> int:
    stop = stop_on_signals()
    # A worker outlives no supervisor, even one killed with SIGKILL.
    parent = multiprocessing.parent_process()
    if parent is not None:
        asyncio.get_running_loop().add_reader(parent.sentinel, stop.set)
    try:
        await serve(settings, stop, reuse_port=True, ready=lambda: ready.send(None))
    except (OSError, SchemaNotCurrentError) as error:
        ready.send(f"cannot serve on {settings.api.host}:{settings.api.port}: {error}")
        return 1
    return 0


def _first_word(pipe: Connection, timeout: float) -> str | None:
    """None once the worker listens; else why it could not."""
    try:
        if pipe.poll(timeout):
            message: str | None = pipe.recv()
            return message
    except EOFError:
        return "a worker exited while starting"
    return f"a worker did not start listening within {timeout:g} s"


class ApiWorkers:
    """The worker processes: started together, watched, stopped together."""

    def __init__(self, settings: Settings, serve: Serve) -> None:
        self.settings = settings
        self._serve = serve
        self._context = multiprocessing.get_context("spawn")
        self._processes: list[BaseProcess] = []

    async def start(self) -> None:
        """Start every worker and return once all of them listen; else stop them and
        raise `WorkerFailed`."""
        pipes: list[Connection] = []
        try:
            for index in range(self.settings.api.workers):
                receive, send = self._context.Pipe(duplex=False)
                process = self._context.Process(
                    target=_worker_main, args=(self._serve, self.settings, send),
                    name=f"promobot-api-{index + 1}",
                )
                process.start()
                send.close()
                self._processes.append(process)
                pipes.append(receive)
            for pipe in pipes:
                problem = await asyncio.to_thread(_first_word, pipe, START_TIMEOUT_S)
                if problem is not None:
                    raise WorkerFailed(problem)
        except BaseException:
            await self.stop()
            raise
        finally:
            for pipe in pipes:
                pipe.close()
        log.info("shop API: %d workers on http://%s:%s/api/v1", len(self._processes),
                 self.settings.api.host, self.settings.api.port)

    async def ended(self) -> str | None:
        """Wait for the first worker to exit: None when a signal of its own stopped it
        (Ctrl-C reaches the whole process group), else what went wrong."""
        loop = asyncio.get_running_loop()
        ended: asyncio.Future[BaseProcess] = loop.create_future()

        def on_exit(process: BaseProcess) -> None:
            if not ended.done():
                ended.set_result(process)

        for process in self._processes:
            loop.add_reader(process.sentinel, on_exit, process)
        try:
            dead = await ended
        finally:
            for process in self._processes:
                loop.remove_reader(process.sentinel)
        if dead.exitcode == 0:
            return None
        log.error("%s exited with %s: stopping the shop API", dead.name, dead.exitcode)
        return f"{dead.name} exited with {dead.exitcode}"

    async def stop(self) -> None:
        """SIGTERM every worker (each finishes its requests), then wait; kill stragglers."""
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        await asyncio.to_thread(self._join)

    def _join(self) -> None:
        for process in self._processes:
            process.join(STOP_TIMEOUT_S)
            if process.is_alive():
                log.warning("%s did not stop within %g s: killed", process.name,
                            STOP_TIMEOUT_S)
                process.kill()
                process.join()

    async def serve_until(self, stop: asyncio.Event) -> int:
        """Run until `stop` is set (0) or a worker dies (1), then stop the rest."""
        waiter = asyncio.ensure_future(stop.wait())
        watcher = asyncio.ensure_future(self.ended())
        try:
            await asyncio.wait({waiter, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
            watcher.cancel()
        failed = watcher.done() and not watcher.cancelled() and watcher.result() is not None
        await self.stop()
        return 1 if failed and not stop.is_set() else 0
