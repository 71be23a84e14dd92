#!/usr/bin/env bash
# The bundled MobileNet-style digit classifier, end to end on this machine with the same
# executor and kernels a microcontroller runs. (The Cortex-M4 firmware version lands with the
# firmware work; until then this runs on the host.)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
step "building the ferrite CLI"
cargo build --release --locked -q -p ferrite-cli
step "inspect"
./target/release/ferrite inspect models/digits_mobilenet.tflite
step "verify against TFLite Micro's outputs on 10 held-out digits"
./target/release/ferrite verify models/digits_mobilenet.tflite \
  --input models/samples/digits_samples.inputs.npy --expected models/samples/digits_samples.outputs.npy
