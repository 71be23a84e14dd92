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
