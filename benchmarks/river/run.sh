#!/usr/bin/env bash
# Installs river 0.26.1 into target/river-venv (a benchmark dependency, never the product's),
# builds eddy in release mode, and runs compare.py.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/target/river-venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q river==0.26.1
fi
(cd "$root" && cargo build -q --release -p eddy)
exec "$venv/bin/python" "$root/benchmarks/river/compare.py" "$@"
