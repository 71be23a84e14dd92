#!/usr/bin/env bash
# Seeds fuzz/corpus/convert with every model the repository can see: the shared real models
# (../shared/models or $FERRITE_SHARED_MODELS), the bundled models and the single-op and
# family test models. Copies are made at run time and never committed (see .gitignore).
set -euo pipefail
cd "$(dirname "$0")"
root=..
shared=${FERRITE_SHARED_MODELS:-$root/../shared/models}
corpus=corpus/convert
mkdir -p "$corpus"
n=0
while IFS= read -r -d '' f; do
  # Name seeds by content so that reseeding never duplicates them.
  cp "$f" "$corpus/seed-$(sha1sum "$f" | cut -c1-16)"
  n=$((n + 1))
done < <(find "$root/models" "$root/tests/data" "$shared" -name '*.tflite' -print0 2>/dev/null)
echo "seeded $corpus with $n models"
