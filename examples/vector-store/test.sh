#!/usr/bin/env bash
# The vector-store example's test (a step of `make test`): installs LanceDB and pyarrow into
# target/vector-store-venv (a test dependency, never the product's) on first use, then runs the
# Rust test that drives eddy and examples/vector-store/follow.py against the real store.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/target/vector-store-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import lancedb, pyarrow" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/examples/vector-store/requirements.txt"
fi
cd "$root"
EDDY_VECTOR_STORE_PYTHON="$venv/bin/python" cargo test -p eddy-tests --test all embeddings::vector_store -- --ignored
