#!/usr/bin/env bash
# Keyword spotting on the emulated Cortex-M4 (targets/qemu-m4-keyword): streams recorded speech
# (16 kHz mono 16-bit .wav files, or int16 .npy arrays) through TFLite Micro's micro_speech
# audio preprocessor and classifier, converted by Ferrite, and prints each recording's label,
# scores and the instructions it took.
#   scripts/keyword-demo.sh                 # the example's four recordings (../shared/models)
#   scripts/keyword-demo.sh my_word.wav ... # your own
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -gt 0 ]; then
  audio=""
  for f in "$@"; do
    audio="${audio:+$audio:}$(realpath "$f")"
  done
  export FERRITE_KWS_AUDIO="$audio"
fi
cd targets/qemu-m4-keyword
exec cargo run --release --locked -q
