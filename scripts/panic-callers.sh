#!/usr/bin/env bash
# Lists where a Cortex-M ELF calls into `core::panicking` (and the slice-index and
# `copy_from_slice` failure paths): for each call site, the innermost line of this repository
# in its inlining chain (what to fix), the panic it calls and the function it was inlined into.
#   scripts/panic-callers.sh targets/target/thumbv7em-none-eabihf/release/panic-free-check
# Build targets/panic-free-check with `--features diagnose` (it links then), or any firmware.
# Needs `llvm-addr2line` (Debian's `llvm` package) for the inlining chains.
set -euo pipefail
elf=$1
root="$(cd "$(dirname "$0")/.." && pwd)"
sysroot="$(cd "$root" && rustc --print sysroot)"
"$sysroot/lib/rustlib/x86_64-unknown-linux-gnu/bin/llvm-objdump" -d --no-show-raw-insn -C "$elf" |
  awk '/^[0-9a-f]+ <.*>:$/ { fn = $0; sub(/^[0-9a-f]+ /, "", fn) }
       /\t(bl|b|b\.w|blx)\t/ {
         t = $0; sub(/^[^<]*</, "", t); sub(/>.*$/, "", t); sub(/\+0x[0-9a-f]+$/, "", t)
         if (t ~ /^core::(panicking|slice::index::slice_index_fail|slice::copy_from_slice_impl|option::(unwrap|expect)_failed|result::unwrap_failed)/ && fn !~ /^<core::(panicking|slice::index::slice_index_fail|slice::copy_from_slice_impl|option::|result::)/) {
           addr = $1; sub(":", "", addr); print addr "\t" t "\t" fn
         }
       }' |
  while IFS=$'\t' read -r addr target fn; do
    line=$(llvm-addr2line -i -e "$elf" "0x$addr" | grep -m1 "^$root/" || true)
    echo "${line#"$root/"}	$target	$fn"
  done | sort | uniq -c
