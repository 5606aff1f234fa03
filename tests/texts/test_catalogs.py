"""The gettext catalogs: every entry translated in ru and en, nothing fuzzy, and the
committed .mo files exactly what the .po files compile to (a fresh clone needs no step)."""

from __future__ import annotations

from io import BytesIO

import pytest
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LOCALES, LOCALES_DIR


def _po(locale: str):
    with (LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as f:
        return read_po(f, locale=locale)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_entry_is_translated_and_not_fuzzy(locale: str) -> None:
    catalog = _po(locale)
    untranslated = [m.id for m in catalog if m.id and not (
        all(m.string) if isinstance(m.string, tuple) else m.string)]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not untranslated, f"{locale}: untranslated {untranslated}"
    assert not fuzzy, f"{locale}: fuzzy {fuzzy}"


@pytest.mark.parametrize("locale", LOCALES)
def test_catalogs_match_the_template(locale: str) -> None:
    with (LOCALES_DIR / f"{DOMAIN}.pot").open("rb") as f:
        template = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(f) if m.id}
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in _po(locale) if m.id}
    assert template <= ids, f"{locale}: missing {sorted(template - ids)}"


def _key(value: object) -> object:
    return tuple(value) if isinstance(value, list | tuple) else value


def _entries(catalog) -> dict[object, object]:
    return {_key(m.id): _key(m.string) for m in catalog if m.id}


@pytest.mark.parametrize("locale", LOCALES)
def test_compiled_catalog_is_not_stale(locale: str) -> None:
    compiled = BytesIO()
    write_mo(compiled, _po(locale))
    compiled.seek(0)
    expected = _entries(read_mo(compiled))
    with (LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.mo").open("rb") as f:
        committed = _entries(read_mo(f))
    assert committed == expected, "run `tools/i18n.sh compile` and commit the .mo files"
