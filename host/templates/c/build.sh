#!/usr/bin/env sh
# Builds {{name}}.wasm with clang and runs the cases in fixtures/ with their budgets.
# Needs clang with the wasm32-wasi target (Debian: clang lld wasi-libc libclang-rt-dev-wasm32);
# CC names another such compiler. BATON names the baton binary (default: baton on PATH).
set -e
cd "$(dirname "$0")"
BATON="${BATON:-baton}"
rm -rf gen && mkdir gen
"$BATON" plugin bindings c {{world}} --out gen
"${CC:-clang}" --target=wasm32-wasi -mexec-model=reactor -O2 -Wall -Wextra -I gen -I . \
    plugin.c minijson.c gen/{{stem}}.c gen/{{stem}}_component_type.o -o gen/core.wasm
"$BATON" plugin componentize gen/core.wasm -o {{name}}.wasm
"$BATON" plugin test {{name}}.wasm --fixtures fixtures
