"""`promobot campaign run moments` does now what the scheduled job does."""

from __future__ import annotations

import argparse
from datetime import date

import tests.support.factories as factories
import tests.support.shop as shop
from bot.commands.campaign import run as cli


async def test_run_moments_from_the_command_line(db, settings, clock) -> None:
    today = clock().date()
    await factories.linked_customer(db, "anna", now=clock(),
                                    birthday=date(1990, today.month, today.day))
    lines: list[str] = []
    args = argparse.Namespace(action="run", target="moments")
    assert await cli(args, settings, db=db, clock=clock, out=lines.append) == 0
    assert lines[-1].endswith("audience 1, issued 1, queued 1")
    assert [d.reason for d in await shop.deliveries(db)] == ["birthday"]
    # Again: this year's birthday is done.
    assert await cli(args, settings, db=db, clock=clock, out=lines.append) == 0
    assert lines[-1].endswith("nothing to do")
