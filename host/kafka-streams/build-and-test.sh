#!/usr/bin/env bash
# Builds the Rust side the Kafka Streams adapter needs and runs its tests:
#   1. cargo build -p eddy-jni -p eddy        (debug: target/debug/libeddy_jni.so and target/debug/eddy)
#   2. host/java-core: mvn install -DskipTests (the Java core; host/flink/build-and-test.sh runs its tests)
#   3. host/kafka-streams: mvn install         (TopologyTestDriver tests: byte-equal to eddy run, dead
#                                               letters, snapshots per commit)
#   4. examples/kafka-streams: mvn test        (the example application against tests/kafka/broker,
#                                               SIGKILLed and restarted, two instances)
# Needs cargo, Java 17 and Maven; downloads what it needs from crates.io and Maven Central.
#
#   host/kafka-streams/build-and-test.sh [--no-example] [--release]
#
# Prints "kafka-streams: N passed, N failed, N skipped" last and exits non-zero if anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
PROFILE=debug
EXAMPLE=1
for arg in "$@"; do
  case "$arg" in
    --no-example) EXAMPLE=0 ;;
    --release) PROFILE=release ;;
    *) echo "usage: $0 [--no-example] [--release]" >&2; exit 2 ;;
  esac
done

cd "$ROOT"
echo "== cargo build -p eddy-jni -p eddy ($PROFILE)" >&2
if [[ "$PROFILE" == release ]]; then
  cargo build --release -p eddy-jni -p eddy
else
  cargo build -p eddy-jni -p eddy
fi

MVN=(mvn -B -q
  "-Deddy.native.lib=$TARGET/$PROFILE/libeddy_jni.so"
  "-Deddy.bin=$TARGET/$PROFILE/eddy"
  -Deddy.native.required=true)

rm -rf host/kafka-streams/target/surefire-reports examples/kafka-streams/target/surefire-reports
status=0
echo "== host/java-core: mvn install -DskipTests" >&2
"${MVN[@]}" -f host/java-core/pom.xml install -DskipTests || status=$?
if [[ "$status" == 0 ]]; then
  echo "== host/kafka-streams: mvn install (tests included)" >&2
  "${MVN[@]}" -f host/kafka-streams/pom.xml install || status=$?
fi
if [[ "$EXAMPLE" == 1 && "$status" == 0 ]]; then
  echo "== examples/kafka-streams: mvn test" >&2
  "${MVN[@]}" -f examples/kafka-streams/pom.xml test || status=$?
fi

read -r tests failures errors skipped < <(
  cat host/kafka-streams/target/surefire-reports/TEST-*.xml examples/kafka-streams/target/surefire-reports/TEST-*.xml 2>/dev/null \
    | sed -n 's/.*<testsuite [^>]*tests="\([0-9]*\)"[^>]*errors="\([0-9]*\)"[^>]*skipped="\([0-9]*\)"[^>]*failures="\([0-9]*\)".*/\1 \4 \2 \3/p' \
    | awk '{t+=$1; f+=$2; e+=$3; s+=$4} END {print t+0, f+0, e+0, s+0}')
failed=$((failures + errors))
echo "kafka-streams: $((tests - failed - skipped)) passed, $failed failed, $skipped skipped"
if [[ "$status" != 0 || "$failed" != 0 ]]; then
  exit 1
fi
