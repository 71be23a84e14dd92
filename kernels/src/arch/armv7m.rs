//! ARMv7-M without the DSP extension (Cortex-M3) inner loops in Thumb-2 assembly.
//!
//! The GEMM's plain-Rust 2x2 block (two pixels against a pair of channels) is the most
//! LLVM keeps in ARMv7-M's registers: 34 instructions per 16 multiply-accumulates, and every
//! call reloads its weights for only two pixels. Here four pixels share each loaded pair of
//! weights: eight accumulators in r6-r12 and lr (r6 and r7, which LLVM reserves, saved on
//! the stack), one `LDRSB` per value with immediate offsets and one pre-indexed write-back
//! per stream and step, so 8 taps (64 multiply-accumulates) take 114 instructions.

use core::arch::asm;

/// Four pixels (`x[4t + px]`, the block interleaved tap by tap) against a pair of channels
/// (`w[2t + ch]`, the paired layout): accumulators `[ch * 4 + px]` with wrapping sums, without
/// the bias, over the first `steps = min(x.len() / 32, w.len() / 16)` groups of eight taps.
/// `None`, computing nothing, when there is no group.
pub fn block_4x2(x: &[i8], w: &[i8]) -> Option<[i32; 8]> {
    let steps = (x.len() / 32).min(w.len() / 16);
    if steps == 0 {
        return None;
    }
    // The loop's first loads pre-index with write-back (`[r0, #32]!`), so the pointers start
    // one step before the data and the loop ends when r0 reaches the last step's start.
    let x_before = x.as_ptr().wrapping_sub(32);
    let w_before = w.as_ptr().wrapping_sub(16);
    let last = x.as_ptr().wrapping_add((steps - 1) * 32);
    // Tap `t` of a step: the pair of weights into r4 (channel 0) and r5 (channel 1), then
    // each pixel's value into r3 and its two products into the channels' accumulators
    // (channel 0: r6, r7, r8, r9; channel 1: r10, r11, r12, lr).
    macro_rules! tap {
        ($w0:literal, $w1:literal, $x0:literal, $x1:literal, $x2:literal, $x3:literal) => {
            concat!(
                "ldrsb.w r4, [r1, #",
                $w0,
                "]\n",
                "ldrsb.w r5, [r1, #",
                $w1,
                "]\n",
                "ldrsb.w r3, [r0, #",
                $x0,
                "]\n",
                "mla r6, r3, r4, r6\n",
                "mla r10, r3, r5, r10\n",
                "ldrsb.w r3, [r0, #",
                $x1,
                "]\n",
                "mla r7, r3, r4, r7\n",
                "mla r11, r3, r5, r11\n",
                "ldrsb.w r3, [r0, #",
                $x2,
                "]\n",
                "mla r8, r3, r4, r8\n",
                "mla r12, r3, r5, r12\n",
                "ldrsb.w r3, [r0, #",
                $x3,
                "]\n",
                "mla r9, r3, r4, r9\n",
                "mla lr, r3, r5, lr\n",
            )
        };
    }
    let (a0, a1, a2, a3, a4, a5, a6, a7): (i32, i32, i32, i32, i32, i32, i32, i32);
    // SAFETY: `x` holds at least `steps * 32` bytes and `w` `steps * 16` (`steps >= 1`); the
    // loop reads step `s` at `x[32 s..32 s + 32]` and `w[16 s..16 s + 16]` for `s` in
    // `0..steps` (r0 advances 32 bytes per step and stops at `last`, the start of step
    // `steps - 1`). Byte loads need no alignment. The block saves and restores r6/r7 (reserved
    // by LLVM) on the stack, declares every other register it writes, and stores nothing.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            "movs r6, #0",
            "movs r7, #0",
            "mov.w r8, #0",
            "mov.w r9, #0",
            "mov.w r10, #0",
            "mov.w r11, #0",
            "mov.w r12, #0",
            "mov.w lr, #0",
            "2:",
            // Tap 0 advances both pointers to this step.
            "ldrsb.w r3, [r0, #32]!",
            "ldrsb.w r4, [r1, #16]!",
            "ldrsb.w r5, [r1, #1]",
            "mla r6, r3, r4, r6",
            "mla r10, r3, r5, r10",
            "ldrsb.w r3, [r0, #1]",
            "mla r7, r3, r4, r7",
            "mla r11, r3, r5, r11",
            "ldrsb.w r3, [r0, #2]",
            "mla r8, r3, r4, r8",
            "mla r12, r3, r5, r12",
            "ldrsb.w r3, [r0, #3]",
            "mla r9, r3, r4, r9",
            "mla lr, r3, r5, lr",
            tap!("2", "3", "4", "5", "6", "7"),
            tap!("4", "5", "8", "9", "10", "11"),
            tap!("6", "7", "12", "13", "14", "15"),
            tap!("8", "9", "16", "17", "18", "19"),
            tap!("10", "11", "20", "21", "22", "23"),
            tap!("12", "13", "24", "25", "26", "27"),
            tap!("14", "15", "28", "29", "30", "31"),
            "cmp r0, r2",
            "bne 2b",
            "mov r0, r6",
            "mov r1, r7",
            "pop {{r6, r7}}",
            inout("r0") x_before => a0,
            inout("r1") w_before => a1,
            in("r2") last,
            out("r3") _,
            out("r4") _,
            out("r5") _,
            out("r8") a2,
            out("r9") a3,
            out("r10") a4,
            out("r11") a5,
            out("r12") a6,
            out("lr") a7,
            options(readonly),
        );
    }
    Some([a0, a1, a2, a3, a4, a5, a6, a7])
}
