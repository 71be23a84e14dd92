#!/usr/bin/env bash
# Runs every Ferrite test: formatting, lints, unit/property/conformance tests, and the
# no_std cross-build for Cortex-M. Installs the Rust targets it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

step "toolchain"
ensure_rust_targets thumbv7em-none-eabihf thumbv7m-none-eabi thumbv6m-none-eabi thumbv8m.main-none-eabihf aarch64-unknown-linux-gnu

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "no_std core and kernels build for Cortex-M4 (thumbv7em-none-eabihf) and Cortex-M0 (thumbv6m-none-eabi)"
cargo build --locked -p ferrite-core -p ferrite-kernels --target thumbv7em-none-eabihf
cargo build --locked -p ferrite-core -p ferrite-kernels --target thumbv6m-none-eabi

step "aarch64 (NEON) fast paths compile (cargo check --target aarch64-unknown-linux-gnu)"
cargo check --locked -p ferrite-core -p ferrite-kernels --target aarch64-unknown-linux-gnu

step "cargo test (unit, property, conformance against ${FERRITE_SHARED_MODELS:-../shared/models})"
cargo test --workspace --locked

step "fuzz smoke: the converter on mutated models for at most 60 s (cargo fuzz, nightly)"
./scripts/fuzz-smoke.sh

# Miri (about 7 minutes) is opt-in to keep CI short; run it when touching `unsafe` code.
if [ "${FERRITE_MIRI:-0}" = 1 ]; then
  ./scripts/miri.sh
fi

step "all tests passed"
