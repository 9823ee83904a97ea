#!/usr/bin/env bash
# The embeddings benchmark (issue 14). Builds eddy and the stream generator in release mode,
# installs numpy and pyarrow into target/embeddings-venv (benchmark dependencies, never the
# product's), then:
#
#   quality     eddy (default parameters) against most-popular and a plain BPR-SGD in numpy
#               (learning rate tuned on another seed) on two seeded streams with a drift (2,000
#               users, 500 items in 12 groups, 100,000 events, half the users change taste at
#               event 50,000): prequential HR@10 over the whole stream, before the drift, the
#               10,000 events after it and the last 10,000;
#   speed       events/s of `eddy run` over 100,000 events ranking each against 1,000 items
#               (topK 10, predictions and embeddings written), per wall-clock second and per
#               CPU second, and in the same run the native bench (cargo bench -p eddy-embeddings
#               --bench throughput -- quick); with EDDY_BEFORE=<an older eddy binary> the same
#               job through it too, interleaved, and the ratios per round and their median
#               (EDDY_SPEED_ROUNDS rounds, default 5);
#   --sweep     the grid behind the defaults (operator/embeddings/examples/sweep.rs).
#
# Usage: benchmarks/embeddings/run.sh [quality] [speed] [--sweep]   (default: quality speed)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/benchmarks/embeddings"
work="$root/target/embeddings-bench"
venv="$root/target/embeddings-venv"
mkdir -p "$work"
what=("$@")
[ ${#what[@]} -eq 0 ] && what=(quality speed)

if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import numpy, pyarrow" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q numpy pyarrow
fi
(cd "$root" && cargo build -q --release -p eddy -p eddy-embeddings-gen)
eddy="$root/target/release/eddy"
gen="$root/target/release/eddy-interactions"

stream() { # seed items drift_at -> $work/s<seed>-<items>.{jsonl,replay}
  local base="$work/s$1-$2"
  if [ ! -f "$base.replay" ]; then
    "$gen" generate --seed "$1" --events 100000 --users 2000 --items "$2" --groups 12 --drift-at "$3" --drift-share 0.5 --out "$base.jsonl"
    "$eddy" topic import --jsonl "$base.jsonl" --topic interactions --out "$base.replay" --timestamp ts >/dev/null
  fi
}

job() { # replay out-dir [overrides...]: eddy run with default parameters; prints events per
       # wall-clock second and per CPU second (timed.py)
  local replay=$1 out=$2
  shift 2
  mkdir -p "$out"
  cat > "$out/job.toml" <<TOML
[source]
replay = "$replay"
[operator]
component = "embeddings"
[operator.config]
timestampCol = "ts"
[sinks]
predictions = "$out/predictions.replay"
embeddings = "$out/embeddings.replay"
TOML
  "$venv/bin/python" "$here/timed.py" "${EDDY:-$eddy}" "$out/job.toml" "$@" 2>/dev/null
}

for w in "${what[@]}"; do
  case $w in
    quality)
      stream 100 500 50000; stream 1 500 50000; stream 2 500 50000
      for s in 1 2; do job "$work/s$s-500.replay" "$work/quality-s$s" >/dev/null; done
      echo "## HR@10, prequential (benchmarks/embeddings/run.sh quality)"
      (cd "$here" && "$venv/bin/python" compare.py --tune "$work/s100-500.jsonl" --drift-at 50000 \
        --stream "seed 1" "$work/s1-500.jsonl" "$work/quality-s1/predictions.replay" \
        --stream "seed 2" "$work/s2-500.jsonl" "$work/quality-s2/predictions.replay")
      ;;
    speed)
      stream 3 1000 50000
      echo "## Speed, 100,000 events, ranking against 1,000 items, dim 32, 8 negatives (benchmarks/embeddings/run.sh speed)"
      (cd "$root" && cargo bench -q -p eddy-embeddings --bench throughput -- quick 2>/dev/null | grep events/s) | sed 's/^ */native bench: /'
      # One untimed run of each binary first: a component's first run compiles it into the
      # cache (~/.cache/eddy/components), which is not what this measures.
      job "$work/s3-1000.replay" "$work/speed" --set operator.config.topK=10 >/dev/null
      [ -n "${EDDY_BEFORE:-}" ] && EDDY=$EDDY_BEFORE job "$work/s3-1000.replay" "$work/speed-before" --set operator.config.topK=10 >/dev/null
      walls=() cpus=()
      for n in $(seq "${EDDY_SPEED_ROUNDS:-5}"); do
        read -r now now_cpu < <(job "$work/s3-1000.replay" "$work/speed" --set operator.config.topK=10)
        echo "eddy run (topK 10), run $n: $now events/s, $now_cpu events per CPU-second"
        if [ -n "${EDDY_BEFORE:-}" ]; then
          read -r before before_cpu < <(EDDY=$EDDY_BEFORE job "$work/s3-1000.replay" "$work/speed-before" --set operator.config.topK=10)
          walls+=("$now/$before") cpus+=("$now_cpu/$before_cpu")
          echo "  $EDDY_BEFORE, same job: $before events/s, $before_cpu events per CPU-second; ratios $("$venv/bin/python" -c "print(f'{$now / $before:.2f}x wall, {$now_cpu / $before_cpu:.2f}x CPU')")"
        fi
      done
      if [ ${#walls[@]} -gt 0 ]; then
        echo "median of the paired ratios over ${#walls[@]} rounds: $("$venv/bin/python" -c "import statistics as s; print(f'{s.median([$(IFS=,; echo "${walls[*]}")]):.2f}x wall, {s.median([$(IFS=,; echo "${cpus[*]}")]):.2f}x CPU')")"
      fi
      read -r learn learn_cpu < <(job "$work/s3-1000.replay" "$work/speed" --set operator.config.evaluate=false)
      echo "eddy run, learning only (evaluate false, topK 0): $learn events/s, $learn_cpu events per CPU-second"
      echo "(load average during the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores)"
      ;;
    --sweep)
      echo "## Sweep (operator/embeddings/examples/sweep.rs)"
      (cd "$root" && cargo run -q --release -p eddy-embeddings --example sweep)
      ;;
    *) echo "unknown part $w (quality, speed, --sweep)" >&2; exit 2 ;;
  esac
done
