"""The `promobot` command line: one registry of subcommands.

A subcommand is a handler registered with `@command(...)`; handlers import what they
need inside, so `promobot migrate` never pays for aiogram or aiohttp. To add one:

    @command("demo", "seed a realistic demo shop", arguments=_demo_arguments)
    async def _demo(args: argparse.Namespace, settings: Settings) -> int:
        from bot.commands.demo import seed
        ...
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from pydantic import ValidationError

from bot.commands import safe_url
from bot.config import Settings, describe_error
from bot.promo.errors import DomainError

Handler = Callable[[argparse.Namespace, Settings], int | Awaitable[int]]
Arguments = Callable[[argparse.ArgumentParser], None]


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    help: str
    handler: Handler
    arguments: Arguments | None = None


COMMANDS: dict[str, Command] = {}


def command(
    name: str, help: str, *, arguments: Arguments | None = None
) -> Callable[[Handler], Handler]:
    """Register a subcommand; `arguments` adds its own options to its parser."""

    def register(handler: Handler) -> Handler:
        if name in COMMANDS:
            raise ValueError(f"subcommand {name!r} registered twice")
        COMMANDS[name] = Command(name, help, handler, arguments)
        return handler

    return register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="promobot", description="Personal promo codes that bring shoppers back."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS.values():
        cmd_parser = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        if cmd.arguments is not None:
            cmd.arguments(cmd_parser)
        cmd_parser.set_defaults(handler=cmd.handler)
    return parser


def run_cli(argv: list[str]) -> int:
    """Parse `argv`, run the chosen subcommand and return the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        print(f"promobot: bad settings:\n{describe_error(error)}", file=sys.stderr)
        return 2
    try:
        result = args.handler(args, settings)
        if inspect.isawaitable(result):
            result = asyncio.run(_await(result))
    except DomainError as error:
        print(f"promobot: {refusal(error, settings)}", file=sys.stderr)
        return 1
    return int(result)


def refusal(error: DomainError, settings: Settings) -> str:
    """A refusal that reached the command line, worded as the managers read it (in English)
    rather than as a traceback."""
    from bot.texts.errors import Reader, refusal_text

    return refusal_text(error, Reader(locale="en", currency=settings.shop.currency))


async def _await(result: Awaitable[int]) -> int:
    return await result


def _migrate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--revision", default="head", help="target revision (default: %(default)s)")


@command(
    "migrate", "upgrade the configured database to the newest schema", arguments=_migrate_arguments
)
async def _migrate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.db import migrate

    url = settings.db.url
    before = await migrate.current(url)
    await migrate.upgrade(url, args.revision)
    after = await migrate.current(url)
    where, old, new = safe_url(url), ", ".join(before) or "empty", ", ".join(after) or "empty"
    if before == after:
        print(f"{where}: already at {new}, nothing to do")
    else:
        print(f"{where}: upgraded from {old} to {new}")
    return 0


@command("api", "run the shop API alone (for deployments that split it out)")
async def _api(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app.api import run

    return await run(settings)


def _import_orders_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE.csv", help="the shop's order export (see README)")


@command(
    "import-orders", "import customers and orders from a shop export (CSV)",
    arguments=_import_orders_arguments,
)
async def _import_orders(args: argparse.Namespace, settings: Settings) -> int:
    from bot.commands.import_orders import run

    return await run(args.file, settings)


def _demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=int, default=3000, help="default: %(default)s")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default: %(default)s)")
    parser.add_argument(
        "--force", action="store_true", help="seed even if the database has real customers"
    )


@command("demo", "seed a realistic demo shop (customers, 18 months of orders, codes)",
         arguments=_demo_arguments)
async def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from bot.commands.demo import run

    return await run(settings, customers=args.customers, seed=args.seed, force=args.force)


@command("run", "run the bot, the shop API and the background jobs in one process")
async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app.run import run

    return await run(settings)


def _analyze_arguments(parser: argparse.ArgumentParser) -> None:
    from bot.commands.analyze import arguments

    arguments(parser)


@command("analyze", "analyse the customer base (repeat share, days between orders, "
         "categories bought again, returns, average order) and print the settings it suggests",
         arguments=_analyze_arguments)
async def _analyze(args: argparse.Namespace, settings: Settings) -> int:
    from bot.commands.analyze import run

    return await run(args, settings)


def _campaign_arguments(parser: argparse.ArgumentParser) -> None:
    from bot.commands.campaign import arguments

    arguments(parser)


@command("campaign", "list campaigns, run one (or a kind) now, show delivery progress "
         "and results",
         arguments=_campaign_arguments)
async def _campaign(args: argparse.Namespace, settings: Settings) -> int:
    from bot.commands.campaign import run

    return await run(args, settings)
