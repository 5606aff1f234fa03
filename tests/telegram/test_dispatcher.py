"""How the Dispatcher is put together, beyond what the conversations show."""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.dispatcher.event.handler import CallableObject


def test_no_filter_or_handler_runs_in_a_thread(dp: Dispatcher) -> None:
    """aiogram hands every sync callable (a bare `F` filter too) to `asyncio.to_thread`:
    a thread hand-off per update it sees. Filters are `Filter`s (`handlers.filters.Magic`
    for an `F` expression) and handlers are coroutines."""
    in_threads: list[str] = []
    for router in dp.chain_tail:
        for name, observer in router.observers.items():
            # The router's own filters (`router.message.filter(...)`) sit on `_handler`.
            objects: list[CallableObject] = list(observer._handler.filters or [])
            for handler in observer.handlers:
                objects += [handler, *(handler.filters or [])]
            in_threads += [f"{router.name}.{name}: {obj.callback!r}"
                           for obj in objects if not obj.awaitable]
    assert in_threads == []
