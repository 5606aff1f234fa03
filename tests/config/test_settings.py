"""Settings: the README's variables are the contract, values are parsed at load, a bad
one stops start-up naming it, `.env` is read and the environment wins over it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import time, timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from bot import cli
from bot.config import Cap, QuietHours, Rung, Settings, describe_error

ROOT = Path(__file__).resolve().parents[2]
VARIABLE = re.compile(r"`PROMOBOT_([A-Z_]+)`")


def readme_table() -> list[tuple[list[str], list[str]]]:
    """The README's Configuration table: each row's variables (without the prefix, lower
    case) and the defaults it shows in backticks, in the same order."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("|") and len(cells) == 3 and VARIABLE.search(cells[0]):
            names = [name.lower() for name in VARIABLE.findall(cells[0])]
            rows.append((names, re.findall(r"`([^`]*)`", cells[2])))
    return rows


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No `PROMOBOT_*` of the developer's, and no `.env` but the test's own."""
    for name in [n for n in os.environ if n.upper().startswith("PROMOBOT_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_the_readme_table_is_read() -> None:
    names = [name for row, _defaults in readme_table() for name in row]
    assert len(names) >= 60 and len(set(names)) == len(names)
    assert {"bot_token", "comeback_time", "tiers", "caps"} <= set(names)


def test_every_readme_variable_is_a_setting() -> None:
    unknown = [name for row, _defaults in readme_table() for name in row
               if name not in Settings.VARIABLES]
    assert not unknown, f"README variables no settings group reads: {unknown}"


def test_every_readme_default_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each variable, set to the default the README shows, is read and changes nothing."""
    shown = {name: default for names, defaults in readme_table() if len(names) == len(defaults)
             for name, default in zip(names, defaults, strict=True)}
    assert len(shown) >= 55
    defaults = Settings()
    for name, default in shown.items():
        monkeypatch.setenv(f"PROMOBOT_{name.upper()}", default)
    assert Settings() == defaults


def _shows(value: object, typed: str) -> bool:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    return value == typed if isinstance(value, str) else typed in list(value)  # type: ignore[call-overload]


def test_every_variable_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set to text no parser takes (a control character), every variable is either
    refused, naming it, or (free text: URLs, names, keys) arrives as it was typed."""
    typed = "\x01"
    for name in Settings.VARIABLES:
        monkeypatch.setenv(f"PROMOBOT_{name.upper()}", typed)
    with pytest.raises(ValidationError) as caught:
        Settings()
    refused = {line.split(":", 1)[0].removeprefix("PROMOBOT_").lower()
               for line in describe_error(caught.value).splitlines()}
    assert refused <= set(Settings.VARIABLES)
    for name in refused:
        monkeypatch.delenv(f"PROMOBOT_{name.upper()}")
    settings = Settings()
    for name in set(Settings.VARIABLES) - refused:
        group = getattr(settings, Settings.VARIABLES[name][0])
        field = next(key for key, info in type(group).model_fields.items() if info.alias == name)
        assert _shows(getattr(group, field), typed), name
    assert {"comeback_time", "tiers", "caps", "send_rate", "timezone"} <= refused


def test_values_are_parsed_at_load() -> None:
    settings = Settings(
        _env_file=None, caps="2/1d, 5/1w", min_gaps="comeback:14d", quiet_hours="23:30-07:00",
        comeback_time="09:15", comeback_ladder="90:12+fs,60:10", comeback_new_silent_offer="7+fs",
        tiers="1000:2,5000:4+fs", tier_basis="orders", tier_order_ladder="2:3", owner_ids="1, 2",
        api_keys="shop:k1,k2", timezone="Asia/Tokyo", cap_exempt_reasons="manual,welcome",
    )
    assert settings.policy.caps == (Cap(2, timedelta(days=1)), Cap(5, timedelta(weeks=1)))
    assert settings.policy.min_gaps == {"comeback": timedelta(days=14)}
    assert settings.policy.quiet_hours == QuietHours(time(23, 30), time(7))
    assert settings.policy.exempt_reasons == {"manual", "welcome"}
    assert settings.comeback.daily_at == time(9, 15)
    assert settings.comeback.ladder == (Rung(60, 10), Rung(90, 12, True))
    assert settings.comeback.new_silent_offer == Rung(0, 7, True)
    assert settings.loyalty.spend == (Rung(100_000, 2), Rung(500_000, 4, True))
    assert settings.loyalty.ladder == settings.loyalty.order_ladder == (Rung(2, 3),)
    assert settings.telegram.owner_ids == (1, 2)
    assert settings.api.keys == {"k1": "shop", "k2": "key2"}
    assert (settings.shop.timezone, str(settings.shop.zone)) == ("Asia/Tokyo", "Asia/Tokyo")
    off = Settings(_env_file=None, comeback_time="", quiet_hours="", comeback_new_silent_days=0)
    assert (off.comeback.daily_at, off.policy.quiet_hours) == (None, None)


@pytest.mark.parametrize(("variable", "value", "message"), [
    ("COMEBACK_TIME", "25:99", "bad time of day '25:99': use HH:MM"),
    ("TIERS", "abc", "'abc': expected 'threshold:percent'"),
    ("CAPS", "3/7x", "bad window '7x'"),
    ("TIER_BASIS", "visits", "'spend' or 'orders'"),
    ("TIMEZONE", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ("COMEBACK_NEW_SILENT_DAYS", "75", None),
])
def test_a_bad_value_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    variable: str, value: str, message: str | None,
) -> None:
    started = cli.Command("run", "must not start", lambda args, settings: 0)
    monkeypatch.setitem(cli.COMMANDS, "run", started)  # had it started, it would say 0
    monkeypatch.setenv(f"PROMOBOT_{variable}", value)
    assert cli.run_cli(["run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("promobot: bad settings:\n")
    if message is None:  # the ladder after it is what breaks: it is named
        assert "PROMOBOT_COMEBACK_LADDER: 'new but silent' must come before" in err
    else:
        assert f"PROMOBOT_{variable}: " in err and message in err


def test_promobot_run_exits_2_on_a_bad_setting(tmp_path: Path) -> None:
    """The real command, as a process: nothing starts, exit status 2."""
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT),
           "PROMOBOT_COMEBACK_TIME": "25:99"}
    done = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        "promobot: bad settings:\nPROMOBOT_COMEBACK_TIME: bad time of day '25:99': use HH:MM\n")


def test_dotenv_is_read_and_the_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text(
        "PROMOBOT_SEND_RATE=7\nPROMOBOT_CAPS=2/1d\npromobot_currency=EUR\nOTHER=1\n",
        encoding="utf-8")
    from_file = Settings()
    assert (from_file.send.rate, from_file.shop.currency) == (7, "EUR")
    assert from_file.policy.caps == (Cap(2, timedelta(days=1)),)
    monkeypatch.setenv("PROMOBOT_SEND_RATE", "9")
    assert Settings().send.rate == 9
    assert Settings().policy.caps == (Cap(2, timedelta(days=1)),)
    assert Settings(_env_file=None).send.rate == 9
    assert Settings(_env_file=None).policy.caps == Settings(_env_file=None).replace().policy.caps
    assert Settings(_env_file=None, send_rate=3).send.rate == 3  # arguments win over both


def test_replace_is_a_validated_copy() -> None:
    settings = Settings(_env_file=None, send_rate=5)
    copy = settings.replace(caps="1/1h", comeback_time="")
    assert copy.policy.caps == (Cap(1, timedelta(hours=1)),)
    assert copy.comeback.daily_at is None
    assert copy.send.rate == 5
    assert settings.policy.caps != copy.policy.caps  # the original is untouched
    assert settings.replace() == settings
    with pytest.raises(ValidationError):
        settings.replace(caps="3/7x")
    with pytest.raises(TypeError, match="sned_rate"):
        settings.replace(sned_rate=1)
    with pytest.raises(TypeError, match="tiers"):
        settings.replace(currency="JPY")
    assert settings.replace(currency="RUB") == settings
    assert settings.replace(currency="JPY", tiers="1000:2").loyalty.spend == (Rung(1000, 2),)
    with pytest.raises(ValidationError):
        settings.send.rate = 1  # type: ignore[misc]


def test_describe_error_names_each_variable_once() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(_env_file=None, currency="RUBLES", send_rate=0, caps="x")
    assert describe_error(caught.value).splitlines() == [
        "PROMOBOT_CURRENCY: String should have at most 3 characters",
        "PROMOBOT_SEND_RATE: Input should be greater than 0",
        "PROMOBOT_CAPS: bad cap 'x': use count/window, e.g. 3/7d",
    ]
