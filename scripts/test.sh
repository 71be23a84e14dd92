#!/usr/bin/env bash
# Runs every Ferrite test: formatting, lints, unit/property/conformance tests, and the
# no_std cross-build for Cortex-M. Installs the Rust targets it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

step "toolchain and QEMU"
ensure_rust_targets thumbv7em-none-eabihf thumbv7m-none-eabi thumbv6m-none-eabi thumbv8m.main-none-eabihf aarch64-unknown-linux-gnu
ensure_qemu

step "cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --all --manifest-path targets/Cargo.toml -- --check

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "aarch64 (NEON) fast paths compile (cargo check --target aarch64-unknown-linux-gnu)"
cargo check --locked -p ferrite-mcu-core -p ferrite-mcu-kernels --target aarch64-unknown-linux-gnu

step "real-board firmware cross-compiles (nRF52840-DK, STM32F746G-DISCO, Raspberry Pi Pico)"
for board in nrf52840-dk stm32f746g-disco rp-pico; do
  (cd "targets/$board" && cargo build --release --locked -q)
done
(cd targets/qemu-mps2-an386 && cargo clippy --release --locked -q -- -D warnings)
(cd targets/qemu-mps2-an385 && cargo clippy --release --locked -q -- -D warnings)
# The keyword spotter converts two models of ../shared/models in its build.rs.
if [ -d "${FERRITE_SHARED_MODELS:-../shared/models}/micro_speech_e2e" ] || [ "${CI:-}" = true ]; then
  (cd targets/qemu-m4-keyword && cargo clippy --release --locked -q -- -D warnings)
fi

step "no_std build and no panic path on the device: Model::run and every kernel, for thumbv7em+DSP, thumbv8m.main+Helium, thumbv7m and thumbv6m, link with a panic handler that does not exist (targets/panic-free-check)"
for set in "thumbv7em-none-eabihf --features dsp" "thumbv8m.main-none-eabihf --features dsp,helium" \
  "thumbv7m-none-eabi" "thumbv6m-none-eabi"; do
  # shellcheck disable=SC2086 # the target and its features are two words
  (cd targets/panic-free-check && cargo build --release --locked -q --target $set)
done

step "DSP kernels equal the reference on random layers, in QEMU (Cortex-M4)"
(cd targets/qemu-kernel-check && timeout 600 cargo run --release --locked -q)

step "Helium and DSP kernels equal the reference on random layers, in QEMU (Cortex-M55)"
(cd targets/qemu-kernel-check-m55 && timeout 600 cargo run --release --locked -q)

step "no-DSP kernels built for ARMv6-M equal the reference on random layers, in QEMU (mps2-an385)"
(cd targets/qemu-kernel-check-m0 && timeout 600 cargo run --release --locked -q)

step "no-DSP kernels built for ARMv7-M (Cortex-M3) equal the reference on random layers, in QEMU (mps2-an385)"
(cd targets/qemu-kernel-check-m3 && timeout 600 cargo run --release --locked -q)

step "cargo test (unit, property, conformance against ${FERRITE_SHARED_MODELS:-../shared/models}, QEMU firmware runs)"
cargo test --workspace --locked

step "the qemu-m4 firmware, its serial runner and the keyword spotter, as the tests above built them, link no core::panicking symbol (llvm-nm)"
rustup component add llvm-tools >/dev/null 2>&1 || true
llvm_nm=$(ls "$(rustc --print sysroot)"/lib/rustlib/*/bin/llvm-nm | head -1)
for elf in qemu-mps2-an386 ferrite-runner qemu-m4-keyword; do
  # The keyword spotter is built only where ../shared/models is (always under CI).
  if [ "$elf" = qemu-m4-keyword ] && [ "${CI:-}" != true ] &&
    [ ! -f "targets/target/thumbv7em-none-eabihf/release/$elf" ]; then
    continue
  fi
  symbols=$("$llvm_nm" -C "targets/target/thumbv7em-none-eabihf/release/$elf")
  if grep -E 'core::panicking|_fail$' <<<"$symbols"; then
    echo "$elf links a panic path (above)" >&2
    exit 1
  fi
done

crates=(-p ferrite-mcu-core -p ferrite-mcu-kernels -p ferrite-mcu-convert -p ferrite-mcu-link -p ferrite-mcu-cli)
# Building every crate again from its .crate file takes about 2 minutes of a CI budget that is
# nearly spent: it is opt-in (FERRITE_PACKAGE_VERIFY=1); by default the crates are packaged
# (manifests, file lists, the local registry of each other's .crate files) without that build.
if [ "${FERRITE_PACKAGE_VERIFY:-0}" = 1 ]; then
  step "crates package as they would publish (cargo package: each crate built from its .crate file)"
  # Cargo verifies each crate against the others' fresh .crate files through a temporary local
  # registry, but it extracts them into $CARGO_HOME/registry/src and reuses an extraction of the
  # same name and version left by an earlier run, and its build of them in target/debug is
  # fingerprinted by name and version only: the kernels then build against a stale core. Remove
  # both.
  rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/ferrite-mcu-* target/debug/.fingerprint/ferrite-mcu-*
  cargo package --locked --allow-dirty "${crates[@]}"
else
  step "crates package as they would publish (cargo package --no-verify; FERRITE_PACKAGE_VERIFY=1 builds each from its .crate file)"
  cargo package --no-verify --locked --allow-dirty "${crates[@]}"
fi

# The gesture example (about 3 minutes: its own build of the converter and the nRF52840 HAL) is
# opt-in to keep CI within its budget: FERRITE_EXAMPLES=1 lints it for the nRF52840-DK and runs
# its host tests.
if [ "${FERRITE_EXAMPLES:-0}" = 1 ]; then
  step "the gesture example (examples/gesture): lints for the nRF52840-DK, tests on the host"
  (
    cd examples/gesture
    cargo fmt --check
    cargo clippy --release --locked -q -- -D warnings
    cargo test --release --locked -q --target "$(rustc -vV | sed -n 's/^host: //p')"
  )
fi

step "fuzz smoke: the converter on mutated models for at most 60 s (cargo fuzz, nightly)"
./scripts/fuzz-smoke.sh

# Miri (about 7 minutes) is opt-in to keep CI short; run it when touching `unsafe` code.
if [ "${FERRITE_MIRI:-0}" = 1 ]; then
  ./scripts/miri.sh
fi

step "all tests passed"
