#!/usr/bin/env bash
# The per-row overhead of the Flink operator against `eddy run` on the same data (not a test).
# Release builds of eddy-jni and eddy, then dev.eddy.flink.OverheadBenchmark (src/test) on a
# local MiniCluster with the JIT at full strength:
#
#   host/flink/bench.sh [ROWS] [REPEATS]      (default 100000 rows, best of 3)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
# Where cargo puts what it builds (CARGO_TARGET_DIR when set, as cargo itself reads it).
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
cd "$ROOT"
cargo build --release -p eddy-jni -p eddy >&2
mvn -B -q -f host/java-core/pom.xml install -DskipTests >&2
cd host/flink
mvn -B -q test-compile dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/bench.classpath >&2
exec java -Xmx2g -XX:+UseParallelGC \
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED \
  --add-opens=java.base/java.nio=ALL-UNNAMED \
  -Dlog4j.configurationFile=src/test/resources/log4j2-test.properties \
  -Deddy.test.repo="$ROOT" \
  -Deddy.test.native.lib="$TARGET/release/libeddy_jni.so" \
  -Deddy.test.bin="$TARGET/release/eddy" \
  -Deddy.test.native.required=true \
  -cp "target/classes:target/test-classes:$(cat target/bench.classpath)" \
  dev.eddy.flink.OverheadBenchmark "$@"
