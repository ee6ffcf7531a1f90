#!/usr/bin/env sh
# Builds {{name}}.wasm with jco and runs the cases in fixtures/ with their budgets.
# JCO names a jco binary to use instead of this project's (installed with npm on first build);
# BATON names the baton binary (default: baton on PATH).
set -e
cd "$(dirname "$0")"
if [ -z "$JCO" ]; then
    [ -x node_modules/.bin/jco ] || npm install --no-audit --no-fund
    JCO=node_modules/.bin/jco
fi
# Plugins have no network: build without jco's HTTP support, which Baton refuses at install.
"$JCO" componentize app.js --wit wit --world-name {{world}} --disable http fetch-event -o {{name}}.wasm
"${BATON:-baton}" plugin test {{name}}.wasm --fixtures fixtures
