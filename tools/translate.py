"""Fill catalog entries from a JSON file: `{"msgid": {"ru": "...", "en": "..."}}`.

A language left out of an entry keeps its text. Plural entries take lists:
`{"msgid": {"plural": "...", "ru": [one, few, many], "en": [one, other]}}`.
Run `tools/i18n.sh update` first so that the entries exist; this compiles afterwards.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent


def main(path: str) -> None:
    entries = json.loads(Path(path).read_text(encoding="utf-8"))
    with open("/tmp/promobot-i18n.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for locale in ("ru", "en"):
            po_path = ROOT / "locales" / locale / "LC_MESSAGES" / "messages.po"
            with po_path.open("rb") as f:
                catalog = read_po(f, locale=locale)
            catalog.fuzzy = False
            for msgid, texts in entries.items():
                if locale not in texts:  # a read-through may mend one language only
                    continue
                key = (msgid, texts["plural"]) if "plural" in texts else msgid
                message = catalog.get(msgid)
                if message is None:
                    catalog.add(key, texts[locale])
                else:
                    message.string = tuple(texts[locale]) if "plural" in texts else texts[locale]
                    message.flags.discard("fuzzy")
            with po_path.open("wb") as f:
                write_po(f, catalog, sort_output=True, no_location=True)
    # pybabel sits beside this interpreter (a virtualenv's bin), whatever PATH says.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    subprocess.run([str(ROOT / "tools" / "i18n.sh"), "compile"], check=True,
                   env={**os.environ, "PATH": path})


if __name__ == "__main__":
    main(sys.argv[1])
