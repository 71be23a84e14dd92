//! Inner loops of the 16x8 DSP kernels ([`crate::ops::dsp16`]): `SMLAD` on pairs of int16
//! taps and `SMLABB`/`SMLATT` on pairs of int16 channels, with 32-bit accumulators (the
//! converter proves the sums fit).
//!
//! Both functions are safe: they check the slice lengths they rely on, once per call, and
//! fall back to the portable definition when a check fails (which the kernels never let
//! happen).

use crate::ops::dsp16::{portable_dot4, portable_dot_pair, BLOCK};
use core::arch::asm;

/// Four pixels' sums of an interleaved block (`wide`: per pair of taps, the four pixels'
/// words) against one channel's weight words `w` (one per pair of taps): `SMLAD`, eight
/// multiply-accumulates in seven instructions.
#[inline(always)]
pub fn dot4(wide: &[u32], w: &[u32]) -> [i32; 4] {
    let pairs = w.len();
    if pairs < 2 || !pairs.is_multiple_of(2) || wide.len() < pairs * BLOCK {
        return portable_dot4(wide, w);
    }
    let (mut a0, mut a1, mut a2, mut a3) = (0i32, 0i32, 0i32, 0i32);
    // SAFETY: `w` holds an even number `pairs >= 2` of words, read up to its end (`lr`), and
    // `wide` at least `4 * pairs` words, read four per weight word. The block writes only the
    // registers it declares and touches no stack.
    unsafe {
        asm!(
            "2:",
            "ldr r12, [r11], #4",
            "ldm r10!, {{r4, r5, r8, r9}}",
            "smlad r0, r4, r12, r0",
            "smlad r1, r5, r12, r1",
            "smlad r2, r8, r12, r2",
            "smlad r3, r9, r12, r3",
            "ldr r12, [r11], #4",
            "ldm r10!, {{r4, r5, r8, r9}}",
            "smlad r0, r4, r12, r0",
            "smlad r1, r5, r12, r1",
            "smlad r2, r8, r12, r2",
            "smlad r3, r9, r12, r3",
            "cmp r11, lr",
            "bne 2b",
            inout("r0") a0,
            inout("r1") a1,
            inout("r2") a2,
            inout("r3") a3,
            inout("r10") wide.as_ptr() => _,
            inout("r11") w.as_ptr() => _,
            in("lr") w.as_ptr_range().end,
            out("r4") _, out("r5") _, out("r8") _, out("r9") _, out("r12") _,
            options(nostack, readonly),
        );
    }
    [a0, a1, a2, a3]
}

/// Channel pair `c2`'s two sums over the taps of `list` (pairs of word offsets: the input
/// pixel's first channel pair, the filter position's first channel pair): per tap one word of
/// input and one of weights, `SMLABB` for the even channel and `SMLATT` for the odd one.
///
/// `checked` is the caller's word (checked once per pixel, not per channel pair) that every
/// listed `input offset + c2` and `weight offset + c2` lies inside the slices; without it the
/// portable loop runs.
#[inline(always)]
pub fn dot_pair(
    list: &[u32],
    input: &[u32],
    weights: &[u32],
    c2: usize,
    checked: bool,
) -> (i32, i32) {
    if !checked || list.len() < 2 || !list.len().is_multiple_of(2) {
        return portable_dot_pair(list, input, weights, c2);
    }
    let (mut a0, mut a1) = (0i32, 0i32);
    // SAFETY: `checked` says the caller verified, for every listed tap, that `x + c2` is inside
    // `input` and `w + c2` inside `weights`; `list` holds a whole, non-zero number of taps
    // and is read up to its end. The block writes only the registers it declares.
    unsafe {
        asm!(
            "2:",
            "ldm {list}!, {{r4, r5}}",
            "ldr r4, [{x}, r4, lsl #2]",
            "ldr r5, [{w}, r5, lsl #2]",
            "smlabb {a0}, r4, r5, {a0}",
            "smlatt {a1}, r4, r5, {a1}",
            "cmp {list}, {end}",
            "bne 2b",
            list = inout(reg) list.as_ptr() => _,
            end = in(reg) list.as_ptr_range().end,
            x = in(reg) input.as_ptr().wrapping_add(c2),
            w = in(reg) weights.as_ptr().wrapping_add(c2),
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            out("r4") _, out("r5") _,
            options(nostack, readonly),
        );
    }
    (a0, a1)
}

/// Channel pairs `c2` and `c2 + 1`'s four sums over the taps of `list` (as [`dot_pair`]): per
/// tap one `LDRD` of input and one of weights feed four multiply-accumulates, eleven
/// instructions where two [`dot_pair`] taps take fourteen.
///
/// `checked` is the caller's word that every listed `input offset + c2 + 1` and
/// `weight offset + c2 + 1` lies inside the slices.
#[inline(always)]
pub fn dot_quad(
    list: &[u32],
    input: &[u32],
    weights: &[u32],
    c2: usize,
    checked: bool,
) -> [i32; 4] {
    if !checked || list.len() < 2 || !list.len().is_multiple_of(2) {
        let (a0, a1) = portable_dot_pair(list, input, weights, c2);
        let (a2, a3) = portable_dot_pair(list, input, weights, c2 + 1);
        return [a0, a1, a2, a3];
    }
    let (mut a0, mut a1, mut a2, mut a3) = (0i32, 0i32, 0i32, 0i32);
    // SAFETY: `checked` says the caller verified, for every listed tap, that `x + c2 + 1` is
    // inside `input` and `w + c2 + 1` inside `weights` (each `LDRD` reads words `c2` and
    // `c2 + 1` from the tap's offsets); `list` holds a whole, non-zero number of taps and is
    // read up to its end. The block writes only the registers it declares.
    unsafe {
        asm!(
            "2:",
            "ldm {list}!, {{r4, r5}}",
            "add r4, {x}, r4, lsl #2",
            "add r5, {w}, r5, lsl #2",
            "ldrd r4, r9, [r4]",
            "ldrd r5, r8, [r5]",
            "smlabb {a0}, r4, r5, {a0}",
            "smlatt {a1}, r4, r5, {a1}",
            "smlabb {a2}, r9, r8, {a2}",
            "smlatt {a3}, r9, r8, {a3}",
            "cmp {list}, {end}",
            "bne 2b",
            list = inout(reg) list.as_ptr() => _,
            end = in(reg) list.as_ptr_range().end,
            x = in(reg) input.as_ptr().wrapping_add(c2),
            w = in(reg) weights.as_ptr().wrapping_add(c2),
            a0 = inout(reg) a0,
            a1 = inout(reg) a1,
            a2 = inout(reg) a2,
            a3 = inout(reg) a3,
            out("r4") _, out("r5") _, out("r8") _, out("r9") _,
            options(nostack, readonly),
        );
    }
    [a0, a1, a2, a3]
}

/// Arguments of [`gemm4_smmulr`], read by the assembly from memory (there are not enough
/// registers to pass them).
#[repr(C)]
pub struct Gemm4I16Args {
    /// The interleaved block (`k2` groups of four words: the four pixels' words of a pair of
    /// taps).
    pub wide: *const u32,
    /// One past the block's last word.
    pub wide_end: *const u32,
    /// Weights: `channels` rows of `k2` words.
    pub weights: *const u32,
    /// The channels' stages ([`crate::ops::dsp16::Stage::WORDS`] words each): the bias in word
    /// 0, the fast multiplier in word 4.
    pub stages: *const u32,
    /// Output of pixel 0, channel 0; pixel `p` of channel `c` goes to
    /// `out + p * stride + 2 * c` (bytes).
    pub out: *mut i16,
    /// Bytes between two pixels' outputs.
    pub stride: usize,
    /// Output channels (at least one).
    pub channels: usize,
    /// The fused activation's clamp, low bound.
    pub lo: i32,
    /// The fused activation's clamp, high bound.
    pub hi: i32,
}

/// The block's loop over channels, the same for both clamps; `$clamp` clamps r0-r3.
macro_rules! gemm4_smmulr_body {
    ($clamp:expr) => {
        concat!(
            "push {{r6, r7}}\n",
            "mov r6, r0\n",
            // Clear Q: SMLAD sets it when a sum leaves the 32-bit range.
            "movs r1, #0\n",
            "msr APSR_nzcvq, r1\n",
            // Locals: [sp] the next channel's stage, [sp+4] channels left.
            "sub sp, sp, #8\n",
            "ldr r1, [r6, #12]\n",
            "str r1, [sp]\n",
            "ldr r1, [r6, #24]\n",
            "str r1, [sp, #4]\n",
            "ldr r7, [r6, #16]\n",
            "ldr r11, [r6, #8]\n",
            "ldr lr, [r6, #4]\n",
            // Per output channel: the sums start at the bias.
            "2:\n",
            "ldr r12, [sp]\n",
            "ldr r10, [r6]\n",
            "ldr r0, [r12]\n",
            "mov r1, r0\n",
            "mov r2, r0\n",
            "mov r3, r0\n",
            // Two pairs of taps of the four pixels per iteration (k2 is even).
            "3:\n",
            "ldr r12, [r11], #4\n",
            "ldm r10!, {{r4, r5, r8, r9}}\n",
            "smlad r0, r4, r12, r0\n",
            "smlad r1, r5, r12, r1\n",
            "smlad r2, r8, r12, r2\n",
            "smlad r3, r9, r12, r3\n",
            "ldr r12, [r11], #4\n",
            "ldm r10!, {{r4, r5, r8, r9}}\n",
            "smlad r0, r4, r12, r0\n",
            "smlad r1, r5, r12, r1\n",
            "smlad r2, r8, r12, r2\n",
            "smlad r3, r9, r12, r3\n",
            "cmp r10, lr\n",
            "bne 3b\n",
            // The fast form: SMMULR by the stage's multiplier.
            "ldr r12, [sp]\n",
            "ldr r5, [r12, #16]\n",
            "add r12, r12, #24\n",
            "str r12, [sp]\n",
            "smmulr r0, r0, r5\n",
            "smmulr r1, r1, r5\n",
            "smmulr r2, r2, r5\n",
            "smmulr r3, r3, r5\n",
            $clamp,
            // Pixel p's output at out + p * stride.
            "ldr r9, [r6, #20]\n",
            "strh r0, [r7]\n",
            "strh r1, [r7, r9]\n",
            "add r8, r7, r9, lsl #1\n",
            "strh r2, [r8]\n",
            "strh r3, [r8, r9]\n",
            "adds r7, r7, #2\n",
            "ldr r12, [sp, #4]\n",
            "subs r12, r12, #1\n",
            "str r12, [sp, #4]\n",
            "bne 2b\n",
            "add sp, sp, #8\n",
            "mrs r0, apsr\n",
            "pop {{r6, r7}}\n",
        )
    };
}

/// One full block of four pixels against every channel of a 16x8 layer whose stages all
/// have the fast form without a post shift: per channel the four sums start at the bias and
/// take `SMLAD`s over the block (as [`dot4`]), then `SMMULR` by the fast multiplier, the
/// clamp (`FULL`: the whole int16 range, one `SSAT`), and four `STRH`. Returns `false` when a
/// sum left the 32-bit range (the Q flag, which `SMLAD` sets then): the outputs written are
/// then wrong, and the caller computes the block again with the int64 form.
///
/// # Safety
/// `wide..wide_end` holds `k2` groups of four words with `k2` even and at least 2;
/// `weights` `channels` rows of `k2` words; `stages` `channels` stages whose bias fits 32 bits
/// (word 0) and whose fast form has no post shift (word 4 the multiplier); `out` the four
/// pixels' rows (`stride` bytes apart) of `channels` int16 values; `channels >= 1`; with
/// `FULL`, `lo = -32768` and `hi = 32767`.
pub unsafe fn gemm4_smmulr<const FULL: bool>(args: &Gemm4I16Args) -> bool {
    let apsr: u32;
    // SAFETY: the caller guarantees every pointer range above; the block saves and restores
    // r6/r7 and its stack frame, declares every other register it writes, and stores only to
    // the outputs.
    unsafe {
        if FULL {
            asm!(
                gemm4_smmulr_body!(concat!(
                    "ssat r0, #16, r0\n",
                    "ssat r1, #16, r1\n",
                    "ssat r2, #16, r2\n",
                    "ssat r3, #16, r3\n",
                )),
                inout("r0") args as *const Gemm4I16Args => apsr,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _,
                out("lr") _,
            );
        } else {
            asm!(
                gemm4_smmulr_body!(concat!(
                    "ldr r4, [r6, #28]\n",
                    "ldr r5, [r6, #32]\n",
                    "cmp r0, r4\n",
                    "it lt\n",
                    "movlt r0, r4\n",
                    "cmp r0, r5\n",
                    "it gt\n",
                    "movgt r0, r5\n",
                    "cmp r1, r4\n",
                    "it lt\n",
                    "movlt r1, r4\n",
                    "cmp r1, r5\n",
                    "it gt\n",
                    "movgt r1, r5\n",
                    "cmp r2, r4\n",
                    "it lt\n",
                    "movlt r2, r4\n",
                    "cmp r2, r5\n",
                    "it gt\n",
                    "movgt r2, r5\n",
                    "cmp r3, r4\n",
                    "it lt\n",
                    "movlt r3, r4\n",
                    "cmp r3, r5\n",
                    "it gt\n",
                    "movgt r3, r5\n",
                )),
                inout("r0") args as *const Gemm4I16Args => apsr,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _,
                out("lr") _,
            );
        }
    }
    apsr & (1 << 27) == 0
}
