#!/usr/bin/env bash
# The phishing example through a real Kafka broker, end to end:
#   1. start a local one-node broker (tests/kafka/broker; needs Java 17 and, once, Maven),
#   2. produce examples/phishing/phishing.replay into the `phishing` topic,
#   3. run examples/kafka/job.toml until it has caught up (stop_at_end),
#   4. record the predictions topic back into a replay file and check it: one prediction per
#      input record, and the same accuracy as the job run on the replay file.
#
#   examples/kafka/run.sh
#
# BOOTSTRAP=host:port uses a running broker instead; PREFIX=x- prefixes topic and group names;
# EDDY=/path/to/eddy uses a built binary instead of `cargo run`.
set -euo pipefail
cd "$(dirname "$0")/../.."
if [[ -n "${EDDY:-}" ]]; then eddy() { "$EDDY" "$@"; }; else eddy() { cargo run -q -p eddy -- "$@"; }; fi
P="${PREFIX:-}"
OUT="$(mktemp -d)"
cleanup() { rm -rf "$OUT"; }
if [[ -z "${BOOTSTRAP:-}" ]]; then
  BOOTSTRAP="$(tests/kafka/broker start "$OUT/broker")"
  cleanup() { tests/kafka/broker stop "$OUT/broker" >/dev/null 2>&1 || true; rm -rf "$OUT"; }
fi
trap cleanup EXIT

eddy topic produce examples/phishing/phishing.replay --brokers "$BOOTSTRAP" --topic "${P}phishing"
eddy run examples/kafka/job.toml --json \
  --set source.kafka.brokers="\"$BOOTSTRAP\"" --set source.kafka.topic="\"${P}phishing\"" \
  --set source.kafka.group="\"${P}eddy-phishing\"" --set sinks.kafka.predictions="\"${P}phishing-predictions\"" \
  --set sinks.kafka.models="\"${P}phishing-models\"" --set sinks.kafka.dead_letters="\"${P}phishing-dead-letters\"" \
  --set sinks.kafka.checkpoints="\"${P}phishing-checkpoints\"" >"$OUT/live.json"
eddy topic record --brokers "$BOOTSTRAP" --topic "${P}phishing-predictions" --until-end --out "$OUT/predictions.replay"
eddy run examples/phishing/job.toml --json --set sinks.predictions="\"$OUT/p.replay\"" \
  --set sinks.models="\"$OUT/m.replay\"" --set sinks.dead_letters="\"$OUT/d.replay\"" >"$OUT/replay.json"

n="$(eddy topic cat "$OUT/predictions.replay" | wc -l)"
accuracy() { grep -o '"accuracy":[0-9.]*' "$1" | cut -d: -f2; }
echo "predictions on ${P}phishing-predictions: $n; accuracy live $(accuracy "$OUT/live.json"), on the replay file $(accuracy "$OUT/replay.json")"
[[ "$n" == 1250 ]] || { echo "expected 1250 predictions" >&2; exit 1; }
[[ "$(accuracy "$OUT/live.json")" == "$(accuracy "$OUT/replay.json")" ]] || { echo "live and replay accuracy differ" >&2; exit 1; }
echo "ok"
