//! Byte copies and fills as tail-predicated low-overhead loops (`DLSTP`/`LETP`): 16 bytes per
//! load/store pair, the last partial vector predicated, 3 instructions per 16 bytes.

use core::arch::asm;

/// Copies `src` to the start of `dst` (at most `dst.len()` bytes).
#[inline]
pub fn copy(dst: &mut [i8], src: &[i8]) {
    let n = src.len().min(dst.len());
    if n == 0 {
        return;
    }
    // SAFETY: `n` bytes are readable from `src` and writable at `dst` (both slices hold at
    // least `n`); the tail-predicated loop touches exactly `n` bytes. `LETP` leaves the loop
    // with FPSCR.LTPSIZE back at 4 (no predication), as compiled code expects.
    unsafe {
        asm!(
            "dlstp.8 lr, {n}",
            "2:",
            "vldrb.8 q0, [{s}], #16",
            "vstrb.8 q0, [{d}], #16",
            "letp lr, 2b",
            n = in(reg) n,
            s = inout(reg) src.as_ptr() => _,
            d = inout(reg) dst.as_mut_ptr() => _,
            out("lr") _,
            out("s0") _, out("s1") _, out("s2") _, out("s3") _,
            options(nostack),
        );
    }
}

/// Sets every byte of `dst` to `value`.
#[inline]
pub fn fill(dst: &mut [i8], value: i8) {
    let n = dst.len();
    if n == 0 {
        return;
    }
    // SAFETY: the tail-predicated loop writes exactly the `n` bytes of `dst`; see `copy`.
    unsafe {
        asm!(
            "vdup.8 q0, {v}",
            "dlstp.8 lr, {n}",
            "2:",
            "vstrb.8 q0, [{d}], #16",
            "letp lr, 2b",
            v = in(reg) value as i32,
            n = in(reg) n,
            d = inout(reg) dst.as_mut_ptr() => _,
            out("lr") _,
            out("s0") _, out("s1") _, out("s2") _, out("s3") _,
            options(nostack),
        );
    }
}

/// Copies `span` bytes at `offset` of each of the `rows.len()` source rows to consecutive
/// places in `dst`: `dst[k * span..(k + 1) * span] = rows[k][offset..offset + span]`, for the
/// taps of one output pixel (its window rows, already padded). About 10 instructions per row
/// of up to 16 bytes.
///
/// # Safety
/// For every `k`, `rows[k] + offset` has `span` readable bytes; `dst` has `rows.len() * span`
/// writable bytes that do not overlap them; `span >= 1`.
#[inline]
pub unsafe fn gather(dst: *mut i8, rows: &[*const i8], offset: usize, span: usize) {
    if rows.is_empty() {
        return;
    }
    // SAFETY: the caller guarantees the ranges; each tail-predicated loop copies exactly
    // `span` bytes (`dst` then moves on by `span`, not by the vector stores' 16).
    unsafe {
        asm!(
            "2:",
            "ldr {s}, [{srcs}], #4",
            "add {s}, {s}, {off}",
            "add {next}, {d}, {span}",
            "dlstp.8 lr, {span}",
            "3:",
            "vldrb.8 q0, [{s}], #16",
            "vstrb.8 q0, [{d}], #16",
            "letp lr, 3b",
            "mov {d}, {next}",
            "subs {n}, {n}, #1",
            "bne 2b",
            srcs = inout(reg) rows.as_ptr() => _,
            n = inout(reg) rows.len() => _,
            d = inout(reg) dst => _,
            off = in(reg) offset,
            span = in(reg) span,
            s = out(reg) _,
            next = out(reg) _,
            out("lr") _,
            out("s0") _, out("s1") _, out("s2") _, out("s3") _,
            options(nostack),
        );
    }
}
