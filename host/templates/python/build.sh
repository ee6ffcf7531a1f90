#!/usr/bin/env sh
# Builds {{name}}.wasm with componentize-py and runs the cases in fixtures/ with their budgets.
# COMPONENTIZE_PY names a componentize-py binary to use instead of this project's (installed into
# .venv on first build); BATON names the baton binary (default: baton on PATH).
set -e
cd "$(dirname "$0")"
if [ -z "$COMPONENTIZE_PY" ]; then
    [ -x .venv/bin/componentize-py ] || { python3 -m venv .venv && .venv/bin/pip install -q -r requirements.txt; }
    COMPONENTIZE_PY=.venv/bin/componentize-py
fi
PYTHONDONTWRITEBYTECODE=1 "$COMPONENTIZE_PY" -d wit -w {{world}} componentize app -o {{name}}.wasm
"${BATON:-baton}" plugin test {{name}}.wasm --fixtures fixtures
