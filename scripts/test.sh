#!/usr/bin/env bash
# Runs every Ferrite test: formatting, lints, unit/property/conformance tests, and the
# no_std cross-build for Cortex-M. Installs the Rust targets it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

step "toolchain"
ensure_rust_targets thumbv7em-none-eabihf thumbv7m-none-eabi thumbv6m-none-eabi thumbv8m.main-none-eabihf

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "no_std core and kernels build for Cortex-M4 (thumbv7em-none-eabihf) and Cortex-M0 (thumbv6m-none-eabi)"
cargo build --locked -p ferrite-core -p ferrite-kernels --target thumbv7em-none-eabihf
cargo build --locked -p ferrite-core -p ferrite-kernels --target thumbv6m-none-eabi

step "cargo test (unit, property, conformance against ${FERRITE_SHARED_MODELS:-../shared/models})"
cargo test --workspace --locked

step "all tests passed"
