#!/usr/bin/env bash
# One-time set-up on a fresh machine: checks the Rust toolchain and installs the
# wasm32-wasip2 target that operators compile to. Safe to run again.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
  echo "eddy needs Rust (cargo). Install it from https://rustup.rs, then run this again." >&2
  exit 1
fi
if ! rustc --print target-libdir --target wasm32-wasip2 >/dev/null 2>&1 \
   || [ ! -d "$(rustc --print sysroot)/lib/rustlib/wasm32-wasip2/lib" ]; then
  echo "installing the wasm32-wasip2 target (operators compile to it)..." >&2
  if ! rustup target add wasm32-wasip2; then
    # Machines without access to the rustup mirror may carry an offline copy beside the repo.
    offline="$(dirname "$0")/../../shared/toolchain/install-wasm32-wasip2"
    if [ -x "$offline" ]; then
      "$offline"
    else
      echo "could not install wasm32-wasip2: run 'rustup target add wasm32-wasip2' yourself" >&2
      exit 1
    fi
  fi
fi
# librdkafka is built with OpenSSL compiled from source (TLS and SASL/SCRAM for Kafka), which
# needs perl and make.
for tool in perl make; do
  command -v "$tool" >/dev/null 2>&1 || { echo "building eddy needs $tool (OpenSSL is compiled from source): apt-get install $tool" >&2; exit 1; }
done
if [ "${1:-}" = "--tests" ]; then
  # `make test` checks formatting and lints too.
  for component in rustfmt clippy; do
    if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
      rustup component add "$component"
    fi
  done
  for tool in java mvn; do
    command -v "$tool" >/dev/null 2>&1 || { echo "the tests need $tool (Java 17 and Maven) for the Kafka broker and Flink" >&2; exit 1; }
  done
fi
