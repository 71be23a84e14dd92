#!/usr/bin/env bash
# Fuzz smoke test: builds the `convert` cargo-fuzz target (nightly, AddressSanitizer) and fuzzes
# the TFLite reader, converter and kernels for a bounded time, starting from a corpus seeded with
# every model the repository sees. Installs the nightly toolchain and cargo-fuzz when missing.
#
# FERRITE_FUZZ_SECONDS sets the fuzzing time (default 45, capped at 60); the build before it is
# not counted. A crash fails the script and leaves its input in fuzz/artifacts/convert/.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

seconds=${FERRITE_FUZZ_SECONDS:-45}
if ((seconds > 60)); then seconds=60; fi

if ! rustup toolchain list | grep -q '^nightly'; then
  echo "installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# The fuzz build has its own flags (sanitizer, coverage): keep it apart from the host build.
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
fuzz/seed-corpus.sh
cargo +nightly fuzz build convert --target-dir "$target_dir"
# Fixed seed: the same inputs are tried in the same order on every run (time permitting).
# libFuzzer's progress lines are dropped; crashes, their stack traces and the stats stay.
cargo +nightly fuzz run convert --target-dir "$target_dir" fuzz/corpus/convert -- \
  -max_total_time="$seconds" -seed=1 -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
  -print_final_stats=1 2>&1 | awk '!/^#[0-9]+\t(NEW|REDUCE|pulse|INITED)/'
