#!/usr/bin/env bash
# Builds the Rust side the Flink module needs and runs the Java tests:
#   1. cargo build -p eddy-jni -p eddy      (debug: target/debug/libeddy_jni.so and target/debug/eddy)
#   2. host/java-core: mvn install           (the Java core both adapters use: JNI facade, output
#                                             records; its JNI tests; installs eddy-core and its
#                                             test-jar of test helpers in ~/.m2)
#   3. host/flink: mvn test + install        (unit, JNI, conformance and MiniCluster equivalence tests;
#                                             installs eddy-flink and its test-jar in ~/.m2)
#   4. examples/flink: mvn package           (the Kafka example against tests/kafka/broker, then its
#                                             shaded jar, checked to hold eddy and the connector
#                                             and not Flink itself)
# Needs cargo, Java 17 and Maven; downloads what it needs from crates.io and Maven Central.
#
#   host/flink/build-and-test.sh [--no-example] [--release]
#
# --release builds and uses target/release instead. Prints "flink: N passed, N failed, N skipped"
# last (from the Surefire reports) and exits non-zero if anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
# Where cargo puts what it builds (CARGO_TARGET_DIR when set, as cargo itself reads it).
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

rm -rf host/java-core/target/surefire-reports host/flink/target/surefire-reports examples/flink/target/surefire-reports
status=0
echo "== host/java-core: mvn install (tests included)" >&2
"${MVN[@]}" -f host/java-core/pom.xml install || status=$?
if [[ "$status" == 0 ]]; then
  echo "== host/flink: mvn install (tests included)" >&2
  "${MVN[@]}" -f host/flink/pom.xml install || status=$?
fi
if [[ "$EXAMPLE" == 1 && "$status" == 0 ]]; then
  echo "== examples/flink: mvn package (tests included)" >&2
  "${MVN[@]}" -f examples/flink/pom.xml package || status=$?
  if [[ "$status" == 0 ]]; then
    jar="examples/flink/target/eddy-flink-example-0.1.0-SNAPSHOT.jar"
    listing="$(jar tf "$jar")"
    for c in dev/eddy/core/NativeOperator.class dev/eddy/flink/EddyOperator.class \
        dev/eddy/examples/flink/KafkaScoringJob.class org/apache/flink/connector/kafka/source/KafkaSource.class \
        org/apache/kafka/clients/producer/KafkaProducer.class; do
      grep -qx "$c" <<<"$listing" || { echo "shaded jar $jar lacks $c" >&2; status=1; }
    done
    if grep -qx "org/apache/flink/streaming/api/datastream/DataStream.class" <<<"$listing"; then
      echo "shaded jar $jar holds Flink itself (it is provided by the cluster)" >&2; status=1
    fi
  fi
fi

# One closing line for whoever reads this log: the Surefire counts of both modules.
read -r tests failures errors skipped < <(
  cat host/java-core/target/surefire-reports/TEST-*.xml host/flink/target/surefire-reports/TEST-*.xml \
    examples/flink/target/surefire-reports/TEST-*.xml 2>/dev/null \
    | sed -n 's/.*<testsuite [^>]*tests="\([0-9]*\)"[^>]*errors="\([0-9]*\)"[^>]*skipped="\([0-9]*\)"[^>]*failures="\([0-9]*\)".*/\1 \4 \2 \3/p' \
    | awk '{t+=$1; f+=$2; e+=$3; s+=$4} END {print t+0, f+0, e+0, s+0}')
failed=$((failures + errors))
echo "flink: $((tests - failed - skipped)) passed, $failed failed, $skipped skipped"
if [[ "$status" != 0 || "$failed" != 0 ]]; then
  exit 1
fi
