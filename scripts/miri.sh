#!/usr/bin/env bash
# Runs the ferrite-core and ferrite-kernels unit tests under Miri (nightly), looking for
# undefined behaviour in the arithmetic, the executor and the `unsafe` SIMD fast paths:
#   1. every unit test of both crates, for the baseline x86-64 target;
#   2. the x86 fast-path tests again with SSE4.1, AVX2 and FMA enabled, so that Miri runs the
#      SIMD code (it cannot run AVX-512).
# Property tests run PROPTEST_CASES cases (default 2: Miri is ~1000x slower than native).
# Takes about 7 minutes on 2 cores; scripts/test.sh runs it when FERRITE_MIRI=1.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

if ! cargo +nightly miri --version >/dev/null 2>&1; then
  echo "installing miri"
  rustup +nightly component add miri rust-src
fi
export PROPTEST_CASES=${PROPTEST_CASES:-2}
export MIRIFLAGS="-Zmiri-env-forward=PROPTEST_CASES -Zmiri-disable-isolation ${MIRIFLAGS:-}"
target="${CARGO_TARGET_DIR:-$PWD/target}"

step "miri: ferrite-core and ferrite-kernels unit tests"
CARGO_TARGET_DIR="$target/miri-base" timeout 20m \
  cargo +nightly miri test -p ferrite-mcu-core -p ferrite-mcu-kernels

step "miri: x86 fast paths with SSE4.1, AVX2 and FMA"
CARGO_TARGET_DIR="$target/miri-avx2" RUSTFLAGS="-C target-feature=+sse4.1,+avx2,+fma" \
  timeout 20m cargo +nightly miri test -p ferrite-mcu-kernels arch::
