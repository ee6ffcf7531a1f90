#!/usr/bin/env sh
# Builds {{name}} as a component and runs the cases in fixtures/ with their budgets.
# BATON names the baton binary (default: baton on PATH); CARGO_TARGET_DIR is honoured.
set -e
cd "$(dirname "$0")"
cargo build --release --target wasm32-wasip2
wasm="${CARGO_TARGET_DIR:-target}/wasm32-wasip2/release/{{crate}}.wasm"
echo "built $wasm"
"${BATON:-baton}" plugin test "$wasm" --fixtures fixtures
