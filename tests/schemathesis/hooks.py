"""Schemathesis hooks for Baton's API (loaded through SCHEMATHESIS_HOOKS by the suite's
`api_schema` test).

Two request bodies are not JSON, and schemathesis cannot make them from a schema alone:

* `application/wasm` (POST /v1/plugins): a WebAssembly component. The suite passes the paths of
  components it built from source in BATON_COMPONENTS; bodies are drawn from those, so a
  schema-valid install is a real component (random bytes are refused, as they should be).
* `application/x-ndjson` (events, profile imports): one JSON object per line.
"""

import json
import os

import schemathesis
from hypothesis import strategies as st

COMPONENTS = [
    open(path, "rb").read() for path in os.environ.get("BATON_COMPONENTS", "").split(os.pathsep) if path
]
if COMPONENTS:
    schemathesis.openapi.media_type("application/wasm", st.sampled_from(COMPONENTS))

SCALARS = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)
ROWS = st.lists(st.dictionaries(st.text(max_size=12), VALUES, max_size=6), min_size=1, max_size=5)
schemathesis.openapi.media_type(
    "application/x-ndjson", ROWS.map(lambda rows: "".join(json.dumps(row) + "\n" for row in rows).encode())
)
