"""`promobot analyze`: the report in the chosen language, the suggested settings as lines
to copy, and the chart saved where asked."""

from __future__ import annotations

import argparse
from datetime import timedelta

from bot.commands.analyze import run
from tests.support import factories
from tests.support.shop import order


async def test_analyze_prints_the_report_and_saves_the_chart(db, settings, clock,
                                                             tmp_path) -> None:
    for n in range(3):
        customer = (await factories.customer(db, f"c{n}", now=clock())).id
        for k in range(n + 1):
            await order(db, settings, f"o{n}-{k}", customer, now=clock(),
                        placed_at=clock() - timedelta(days=90 - 40 * k))
    printed: list[str] = []
    chart = tmp_path / "days.png"
    code = await run(argparse.Namespace(locale="ru", chart=chart), settings, db=db,
                     clock=clock, out=printed.append)
    assert code == 0
    assert printed[:2] == ["Покупателей с заказами: 3",
                           "Вернулись за вторым заказом: 2 (66,7\u00a0%)"]
    assert "PROMOBOT_COMEBACK_LADDER=40:10,45:12+fs" in printed
    assert printed[-1] == f"chart: {chart}" and chart.read_bytes().startswith(b"\x89PNG")
