#!/usr/bin/env bash
# Installs vowpalwabbit 9.11.x and numpy into target/vw-venv (benchmark dependencies, never the
# product's), builds eddy in release mode, and runs bench.py: eddy's FTRL against Vowpal Wabbit.
#   benchmarks/vw/run.sh [--rows N] [--seed S] [--scale-check]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
venv="$root/target/vw-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import vowpalwabbit, numpy' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'vowpalwabbit==9.11.*' numpy
fi
(cd "$root" && cargo build -q --release -p eddy)
export EDDY_BIN="${EDDY_BIN:-${CARGO_TARGET_DIR:-$root/target}/release/eddy}"
exec "$venv/bin/python" "$root/benchmarks/vw/bench.py" "$@"
