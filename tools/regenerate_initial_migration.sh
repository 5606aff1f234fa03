#!/usr/bin/env bash
# Rebuild migrations/versions/0001_initial.py from bot/db/models.py.
# Only while 0001 is the sole revision and no deployed database depends on it.
# Usage: tools/regenerate_initial_migration.sh   (PYTHON=/path/to/python to pick a venv)
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
others=$(find migrations/versions -name '*.py' ! -name '__init__.py' ! -name '0001_initial.py')
if [[ -n "$others" ]]; then
  echo "refusing: other revisions exist, write a new revision instead:" >&2
  echo "$others" >&2
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f migrations/versions/0001_initial.py
export PROMOBOT_DATABASE_URL="sqlite+aiosqlite:///$tmp/empty.sqlite3"
"$python" -m alembic -c alembic.ini revision --autogenerate --rev-id 0001 -m initial
"$python" -m ruff check --fix -q migrations/versions/0001_initial.py
"$python" -m ruff format -q migrations/versions/0001_initial.py
# The new revision must apply to an empty database and match the models.
"$python" -m alembic -c alembic.ini upgrade head
"$python" -m alembic -c alembic.ini check
echo "regenerated migrations/versions/0001_initial.py"
