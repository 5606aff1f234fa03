"""A domain refusal that reaches the command line is worded from the table of meanings,
with exit code 1, instead of a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from bot import cli
from bot.config import Settings
from bot.promo.errors import DomainError, ErrorCode


def _refuse(args: argparse.Namespace, settings: Settings) -> int:
    raise DomainError(ErrorCode.CODE_SPACE_EXHAUSTED, "could not draw unique codes")


def test_a_refusal_is_worded_for_the_operator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROMOBOT_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'x.sqlite3'}")
    monkeypatch.setitem(cli.COMMANDS, "migrate", cli.Command("migrate", "refuses", _refuse))
    assert cli.run_cli(["migrate"]) == 1
    assert capsys.readouterr().err == (
        "promobot: Could not generate that many unique codes: try fewer.\n")
