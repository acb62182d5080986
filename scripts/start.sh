#!/usr/bin/env bash
# Start Chacra all-in-one on SQLite with the demo data: needs only Python 3.11+.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Install only when pyproject.toml changed since the last install, so a restart needs no network.
stamp=.venv/.chacra-installed
wanted=$(cat pyproject.toml | cksum)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e .
  echo "$wanted" > "$stamp"
fi
exec .venv/bin/chacra serve --demo "$@"
