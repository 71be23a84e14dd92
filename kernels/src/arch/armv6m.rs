//! ARMv6-M (Cortex-M0/M0+) inner loops in Thumb-1 assembly.
//!
//! ARMv6-M's `LDRSB` takes only a register offset and `MULS` only low registers, so LLVM
//! compiles the portable register-blocked loops into constant loads and stack spills (the
//! GEMM's 2x2 block: 111 instructions per 16 multiply-accumulates). Here the four
//! accumulators live in high registers (`ADD` reaches them), the taps come as words and their
//! bytes are sign-extended with `SXTB` and shifts: 66 instructions per 16.

use core::arch::asm;

/// [`crate::ops::gemm`]'s `block_2x2` (two pixels `x[2t + px]` against a pair of channels
/// `w[2t + ch]`, accumulators `[ch * 2 + px]`, wrapping sums) over the first `steps` groups
/// of four taps, `steps = min(x.len(), w.len()) / 8`. `None`, computing nothing, when there
/// is no group or a slice is not 4-byte aligned (ARMv6-M faults on unaligned words).
pub fn block_2x2(x: &[i8], w: &[i8]) -> Option<[i32; 4]> {
    let steps = x.len().min(w.len()) / 8;
    if steps == 0
        || !(x.as_ptr() as usize).is_multiple_of(4)
        || !(w.as_ptr() as usize).is_multiple_of(4)
    {
        return None;
    }
    let end = x.as_ptr().wrapping_add(steps * 8);
    let (a0, a1, a2, a3): (i32, i32, i32, i32);
    // Per pair of taps: the words X (x0, x1 of tap t, then of tap t+1, little-endian) and U
    // (u0, u1 likewise); eight products into r8 (x0 u0), r9 (x1 u0), r10 (x0 u1), r11 (x1 u1).
    macro_rules! taps2 {
        () => {
            concat!(
                "ldm r0!, {{r2}}\n",
                "ldm r1!, {{r3}}\n",
                // Tap t: bytes 0 and 1.
                "sxtb r4, r2\n",
                "sxtb r5, r3\n",
                "lsls r6, r3, #16\n",
                "asrs r6, r6, #24\n",
                "mov r7, r5\n",
                "muls r7, r4, r7\n",
                "add r8, r7\n",
                "muls r4, r6, r4\n",
                "add r10, r4\n",
                "lsls r4, r2, #16\n",
                "asrs r4, r4, #24\n",
                "muls r5, r4, r5\n",
                "add r9, r5\n",
                "muls r6, r4, r6\n",
                "add r11, r6\n",
                // Tap t+1: bytes 2 and 3.
                "lsls r4, r2, #8\n",
                "asrs r4, r4, #24\n",
                "lsls r5, r3, #8\n",
                "asrs r5, r5, #24\n",
                "asrs r6, r3, #24\n",
                "mov r7, r5\n",
                "muls r7, r4, r7\n",
                "add r8, r7\n",
                "muls r4, r6, r4\n",
                "add r10, r4\n",
                "asrs r4, r2, #24\n",
                "muls r5, r4, r5\n",
                "add r9, r5\n",
                "muls r6, r4, r6\n",
                "add r11, r6\n",
            )
        };
    }
    // SAFETY: `x` and `w` are 4-byte aligned and hold at least `steps * 8` bytes each; the loop
    // reads exactly `steps >= 1` groups of two words from each (r0 stops at `end`). The block
    // saves and restores r6/r7 (reserved by LLVM) on the stack and declares every other
    // register it writes; it stores nothing to memory.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            // Thumb-1 takes high registers only as clobbers: the end comes in r2, the
            // accumulators start at zero here and leave in r2-r5.
            "mov r12, r2",
            "movs r2, #0",
            "mov r8, r2",
            "mov r9, r2",
            "mov r10, r2",
            "mov r11, r2",
            "2:",
            taps2!(),
            taps2!(),
            "cmp r0, r12",
            "bne 2b",
            "mov r2, r8",
            "mov r3, r9",
            "mov r4, r10",
            "mov r5, r11",
            "pop {{r6, r7}}",
            inout("r0") x.as_ptr() => _,
            inout("r1") w.as_ptr() => _,
            inout("r2") end => a0,
            out("r3") a1,
            out("r4") a2,
            out("r5") a3,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _,
            options(readonly),
        );
    }
    Some([a0, a1, a2, a3])
}
