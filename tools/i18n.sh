#!/usr/bin/env bash
# Extract texts from the code, merge them into the ru/en catalogs and compile them.
# Usage: tools/i18n.sh [update|compile]  (default: both)
set -euo pipefail
exec 9>/tmp/promobot-i18n.lock; flock 9
cd "$(dirname "$0")/.."
step="${1:-all}"
if [[ "$step" == all || "$step" == update ]]; then
  pybabel -q extract -F babel.cfg -k _ -k __ -k gettext -k lazy_gettext -k ngettext:1,2 \
    --no-location --sort-output -o locales/messages.pot . >/dev/null
  for locale in ru en; do
    if [[ -f "locales/$locale/LC_MESSAGES/messages.po" ]]; then
      pybabel -q update -i locales/messages.pot -d locales -D messages -l "$locale" \
        --no-fuzzy-matching --ignore-obsolete >/dev/null
    else
      pybabel -q init -i locales/messages.pot -d locales -D messages -l "$locale" >/dev/null
    fi
  done
fi
if [[ "$step" == all || "$step" == compile ]]; then
  pybabel compile -d locales -D messages --statistics
fi
