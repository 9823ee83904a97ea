#!/usr/bin/env bash
# The per-row overhead of the Kafka Streams processor against `eddy run` on the same data, and the
# snapshot cost per commit (not a test). Release builds of eddy-jni and eddy, then
# dev.eddy.kafkastreams.OverheadBenchmark (src/test) with the JIT at full strength:
#
#   host/kafka-streams/bench.sh [ROWS] [REPEATS]      (default 100000 rows, best of 3)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"
cargo build --release -p eddy-jni -p eddy >&2
mvn -B -q -f host/java-core/pom.xml install -DskipTests >&2
cd host/kafka-streams
mvn -B -q test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath >&2
exec java -Xmx2g -XX:+UseParallelGC --add-opens=java.base/java.nio=ALL-UNNAMED \
  -Deddy.test.repo="$ROOT" \
  -Deddy.test.native.lib="$TARGET/release/libeddy_jni.so" \
  -Deddy.test.bin="$TARGET/release/eddy" \
  -Deddy.test.native.required=true \
  -cp "target/classes:target/test-classes:$(cat target/bench.classpath)" \
  dev.eddy.kafkastreams.OverheadBenchmark "$@"
