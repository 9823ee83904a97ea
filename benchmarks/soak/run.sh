#!/usr/bin/env bash
# The soak test: an exactly-once `eddy run` on a real Kafka broker at a steady half of its
# measured maximum, 10 minutes by default, sampling eddy's RSS and the record-to-commit
# latency, then checking that every record was answered exactly once. Not part of `make test`.
#
#   benchmarks/soak/run.sh [--minutes M] [--warmup-secs S] [--sample-secs S] [--interval-ms MS]
#                          [--partitions P] [--rate RECORDS_PER_S] [--max-records N]
#
# See host/kafka/benches/soak.rs for what it measures. Needs Java 17 and Maven (the broker).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release -q -p eddy
exec cargo bench -q -p eddy-kafka --bench soak -- "$@"
