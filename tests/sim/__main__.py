"""The shop simulator by hand: what the issue's promises rest on, over many seeds.

    python -m tests.sim coverage  --seeds 100   # a true uplift: does the interval hold it?
    python -m tests.sim aa        --seeds 100   # no effect, read daily for 30 days
    python -m tests.sim optimise  --seeds 10    # 5 / 10 / 15 %, where 10 % pays best
    python -m tests.sim ... --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/sim

Each seed is one campaign's life in a fresh database (SQLite in a temporary folder by
default), driven through the campaign run, the outbox, the sender and the shop API
(`tests.sim.shop`); each prints the true effects next to the reported ones, and the
command ends with the counts the issue asks for.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from tests.sim.shop import (
    Curve,
    Scenario,
    covered,
    describe,
    ever_significant,
    fixed_interval_called,
    later_share,
    margin_against_oracle,
    simulate,
)

# A 10 % code brings 20 % of the silent back within a week, against 10 % without one.
COVERAGE = Scenario(Curve(0.10, {10: 0.20}), days=30, per_day=20)
# The code changes nothing; the report is read every day for 30 days.
NO_EFFECT = Scenario(Curve(0.15, {10: 0.15}), days=30, per_day=20, looks=30)
# Returns grow with the offer but saturate at 10 %: 10 % earns the most per recipient
# (margin per recipient 0.30 × 20 % = 6.0 % of an order, against 3.25 % and 4.65 %).
OPTIMISE = Scenario(Curve(0.10, {5: 0.13, 10: 0.30, 15: 0.31}), offers=(5, 10, 15),
                    days=30, per_day=120, holdout_percent=10, optimise=True)
# The optimiser's later recipients: those who entered in the last half of the month.
LATER_AFTER_DAY = 15


async def main(args: argparse.Namespace) -> None:
    scenario = {"coverage": COVERAGE, "aa": NO_EFFECT, "optimise": OPTIMISE}[args.what]
    held = called = fixed = 0
    shares, margins = [], []
    for seed in range(args.first, args.first + args.seeds):
        started = time.perf_counter()
        result = await simulate(scenario, seed, database_url=args.database_url)
        print(f"seed {seed} ({time.perf_counter() - started:.1f} s)")
        for line in describe(result):
            print("   ", line)
        if args.what == "coverage":
            held += all(covered(result).values())
        elif args.what == "aa":
            called += ever_significant(result)
            fixed += fixed_interval_called(result)
        else:
            shares.append(later_share(result, 10, after_day=LATER_AFTER_DAY))
            margins.append(margin_against_oracle(result))
            print(f"    later recipients on 10 %: {shares[-1]:.0%}; margin {margins[-1]:.1%} "
                  "of the oracle's")
    if args.what == "coverage":
        print(f"the 95 % interval held the true uplift in {held} of {args.seeds} campaigns")
    elif args.what == "aa":
        print(f"{called} of {args.seeds} campaigns with no effect were ever called significant "
              f"on a daily look ({fixed} with a fixed-sample 95 % interval read the same way)")
    else:
        print(f"later recipients on 10 %: {min(shares):.0%}–{max(shares):.0%} "
              f"(mean {sum(shares) / len(shares):.0%}); margin against the oracle "
              f"{min(margins):.1%}–{max(margins):.1%} (mean {sum(margins) / len(margins):.1%})")


def cli() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.sim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("coverage", "aa", "optimise"))
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--first", type=int, default=1, help="the first seed")
    parser.add_argument("--database-url", default=None)
    asyncio.run(main(parser.parse_args()))


if __name__ == "__main__":
    cli()
