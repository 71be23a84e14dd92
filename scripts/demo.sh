#!/usr/bin/env bash
# The bundled MobileNet-style digit classifier on an emulated Cortex-M4 (QEMU mps2-an386):
# converts the model, builds the firmware, runs it on ten held-out digits and prints the
# predictions against the labels, instructions per inference and per layer, RAM and flash.
# Installs the Cortex-M Rust target and QEMU when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
ensure_rust_targets thumbv7em-none-eabihf
ensure_qemu
step "building the ferrite CLI"
cargo build --release --locked -q -p ferrite-mcu-cli
step "ferrite sim models/digits_mobilenet.tflite --board qemu-m4"
./target/release/ferrite sim models/digits_mobilenet.tflite --board qemu-m4 \
  --input models/samples/digits_samples.inputs.npy \
  --labels models/samples/digits_samples.labels.npy
