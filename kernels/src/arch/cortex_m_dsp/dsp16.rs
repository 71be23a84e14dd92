//! Inner loops of the 16x8 DSP kernels ([`crate::ops::dsp16`]): `SMLAD` on pairs of int16
//! taps and `SMLABB`/`SMLATT` on pairs of int16 channels, with 32-bit accumulators (the
//! converter proves the sums fit).
//!
//! Both functions are safe: they check the slice lengths they rely on, once per call, and
//! fall back to the portable definition when a check fails (which the kernels never let
//! happen).

use crate::ops::dsp16::{portable_dot4, portable_dot4x2, portable_dot_pair, BLOCK};
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

/// The four pixels' sums of an interleaved block against a pair of channels' interleaved
/// rows `pair` (per pair of taps the even channel's word, then the odd channel's), as
/// [`portable_dot4x2`]: sixteen multiply-accumulates per six loaded words.
#[inline(always)]
pub fn dot4x2(wide: &[u32], pair: &[u32]) -> [[i32; 4]; 2] {
    let k2 = pair.len() / 2;
    if k2 < 2 || !k2.is_multiple_of(2) || pair.len() != 2 * k2 || wide.len() < k2 * BLOCK {
        return portable_dot4x2(wide, pair);
    }
    let Some(wide) = wide.get(..k2 * BLOCK) else {
        return portable_dot4x2(wide, pair);
    };
    let (a0, a1, a2, a3, a4, a5, a6, a7): (i32, i32, i32, i32, i32, i32, i32, i32);
    // SAFETY: `pair` holds `2 * k2` words and `wide` `4 * k2`, `k2` even and at least 2; the
    // loop reads six words of them per pair of taps and stops at `wide`'s end (kept on the
    // stack, popped before the end). The block saves and restores r6/r7 and writes only the
    // registers it declares.
    unsafe {
        asm!(
            "push {{r6, r7}}",
            "push {{r12}}",
            "movs r0, #0",
            "movs r1, #0",
            "movs r2, #0",
            "movs r3, #0",
            "movs r4, #0",
            "movs r5, #0",
            "movs r6, #0",
            "movs r7, #0",
            dot4x2_taps!(),
            "ldr r12, [sp]",
            "cmp lr, r12",
            "bne 3b",
            "mov r8, r6",
            "mov r9, r7",
            "add sp, sp, #4",
            "pop {{r6, r7}}",
            out("r0") a0, out("r1") a1, out("r2") a2, out("r3") a3,
            out("r4") a4, out("r5") a5, out("r8") a6, out("r9") a7,
            inout("lr") wide.as_ptr() => _,
            inout("r11") pair.as_ptr() => _,
            inout("r12") wide.as_ptr_range().end => _,
            out("r10") _,
            options(readonly),
        );
    }
    [[a0, a1, a2, a3], [a4, a5, a6, a7]]
}

/// Arguments of [`gemm4x2_smmulr`], read by the assembly from memory (there are not enough
/// registers to pass them). The first eight words are copied to the assembly's stack frame
/// in this order, so keep the order and the offsets the assembly uses.
#[repr(C)]
pub struct Gemm4x2I16Args {
    /// The interleaved block (`k2` groups of four words: the four pixels' words of a pair of
    /// taps).
    pub wide: *const u32,
    /// One past the block's last word.
    pub wide_end: *const u32,
    /// The channels' stages ([`crate::ops::dsp16::Stage::WORDS`] words each): the bias in word
    /// 0, the fast multiplier in word 4.
    pub stages: *const u32,
    /// Output of pixel 0, channel 0; pixel `p`'s channels `2j` and `2j + 1` go to the word at
    /// `out + p * stride + 4 * j` (bytes).
    pub out: *mut i16,
    /// Bytes between two pixels' outputs.
    pub stride: usize,
    /// `out` advanced by one word per pair of channels: where the loop over pairs stops.
    pub out_end: *mut i16,
    /// The fused activation's low bound in both halves of the word.
    pub lo2: u32,
    /// The fused activation's high bound in both halves of the word.
    pub hi2: u32,
    /// Weights: per pair of channels, `k2` pairs of words (the even channel's word of a pair
    /// of taps, then the odd channel's).
    pub weights: *const u32,
}

/// The loop over pairs of channels, the same for every clamp: `$sat` brings the eight
/// results r0-r7 to int16, `$clamp` clamps the four packed words r0-r3 (r8, r9 and r12
/// free). Leaves r0 with bit 27 (Q) set if a sum left the 32-bit range.
///
/// Registers: r0-r3 the even channel's four pixels' sums, r4-r7 the odd channel's, r8/r9 the
/// two channels' weight words, r10/r12 two pixels' words, lr the block, r11 the weights. The
/// stack frame: [sp] block, [sp+4] its end, [sp+8] the next pair's stages, [sp+12] the next
/// pair's output, [sp+16] stride, [sp+20] output end, [sp+24] lo2, [sp+28] hi2.
macro_rules! gemm4x2_smmulr_body {
    ($sat:expr, $clamp:expr) => {
        concat!(
            "push {{r6, r7}}\n",
            "ldm r0, {{r1, r2, r3, r4, r5, r8, r9, r10, r11}}\n",
            "push {{r1, r2, r3, r4, r5, r8, r9, r10}}\n",
            // Clear Q: SMLAD sets it when a sum leaves the 32-bit range.
            "movs r1, #0\n",
            "msr APSR_nzcvq, r1\n",
            // Per pair of output channels: the sums start at the biases.
            "2:\n",
            "ldr r12, [sp, #8]\n",
            "ldr lr, [sp]\n",
            "ldr r0, [r12]\n",
            "ldr r4, [r12, #24]\n",
            "mov r1, r0\n",
            "mov r2, r0\n",
            "mov r3, r0\n",
            "mov r5, r4\n",
            "mov r6, r4\n",
            "mov r7, r4\n",
            dot4x2_taps!(),
            "ldr r12, [sp, #4]\n",
            "cmp lr, r12\n",
            "bne 3b\n",
            // A sum left the 32-bit range: stop, r10 (Q set) says so. The stage's saturation
            // sets Q too (often: a ReLU6 layer's outputs above 6 are beyond int16), so Q is
            // tested here and cleared again before the next pair.
            "mrs r10, apsr\n",
            "tst r10, #0x08000000\n",
            "bne 8f\n",
            // The fast form: SMMULR by each channel's multiplier.
            "ldr r12, [sp, #8]\n",
            "ldr r8, [r12, #16]\n",
            "ldr r9, [r12, #40]\n",
            "add r12, r12, #48\n",
            "str r12, [sp, #8]\n",
            "smmulr r0, r0, r8\n",
            "smmulr r1, r1, r8\n",
            "smmulr r2, r2, r8\n",
            "smmulr r3, r3, r8\n",
            "smmulr r4, r4, r9\n",
            "smmulr r5, r5, r9\n",
            "smmulr r6, r6, r9\n",
            "smmulr r7, r7, r9\n",
            // To int16 (`$sat`), and each pixel's two channels packed in one word (even
            // channel low).
            $sat,
            "pkhbt r0, r0, r4, lsl #16\n",
            "pkhbt r1, r1, r5, lsl #16\n",
            "pkhbt r2, r2, r6, lsl #16\n",
            "pkhbt r3, r3, r7, lsl #16\n",
            $clamp,
            // Pixel p's word at out + p * stride.
            "ldr r12, [sp, #12]\n",
            "ldr r9, [sp, #16]\n",
            "str r0, [r12]\n",
            "str r1, [r12, r9]\n",
            "add r8, r12, r9, lsl #1\n",
            "str r2, [r8]\n",
            "str r3, [r8, r9]\n",
            "add r12, r12, #4\n",
            "str r12, [sp, #12]\n",
            "ldr r9, [sp, #20]\n",
            // Q clear again (r10: the flags before the stage, Q clear).
            "msr APSR_nzcvq, r10\n",
            "cmp r12, r9\n",
            "bne 2b\n",
            "movs r10, #0\n",
            "8:\n",
            "add sp, sp, #32\n",
            "mov r0, r10\n",
            "pop {{r6, r7}}\n",
        )
    };
}

/// [`gemm4x2_smmulr`]'s clamps: the whole int16 range.
pub const CLAMP_NONE: u8 = 0;
/// [`gemm4x2_smmulr`]'s clamps: a low bound of 0 (ReLU, ReLU6), which `USAT` gives.
pub const CLAMP_LOW_ZERO: u8 = 1;
/// [`gemm4x2_smmulr`]'s clamps: any bounds.
pub const CLAMP_ANY: u8 = 2;

/// `SSAT` of r0-r7 to int16.
macro_rules! ssat8 {
    () => {
        concat!(
            "ssat r0, #16, r0\n",
            "ssat r1, #16, r1\n",
            "ssat r2, #16, r2\n",
            "ssat r3, #16, r3\n",
            "ssat r4, #16, r4\n",
            "ssat r5, #16, r5\n",
            "ssat r6, #16, r6\n",
            "ssat r7, #16, r7\n",
        )
    };
}

/// The high bound (r9) of the packed words r0-r3: per word `SSUB16` sets each halfword's GE
/// flags where the value is at least the bound, and `SEL` takes the bound there.
macro_rules! clamp_high4 {
    () => {
        concat!(
            "ldr r9, [sp, #28]\n",
            "ssub16 r12, r0, r9\n",
            "sel r0, r9, r0\n",
            "ssub16 r12, r1, r9\n",
            "sel r1, r9, r1\n",
            "ssub16 r12, r2, r9\n",
            "sel r2, r9, r2\n",
            "ssub16 r12, r3, r9\n",
            "sel r3, r9, r3\n",
        )
    };
}

/// One full block of four pixels against every pair of channels of a 16x8 layer whose
/// stages all have the fast form without a post shift: per pair of channels the eight sums
/// (four pixels, two channels) start at the biases and take `SMLAD`s over the block, both
/// channels' weight words of a pair of taps loaded together and each pixel word used twice;
/// then `SMMULR` by the multipliers, saturation to int16 (`SSAT`, or with
/// [`CLAMP_LOW_ZERO`] `USAT` to `0..=32767`), each pixel's two outputs packed into one word
/// and clamped both at once (`SSUB16` sets the per-halfword GE flags, `SEL` picks by them;
/// none with [`CLAMP_NONE`]), and one `STR` per pixel.
///
/// Returns `false` when a sum left the 32-bit range (`SMLAD` sets the Q flag then, tested
/// after each pair's sums): the outputs written are then wrong, and the caller computes the
/// block again with the int64 form.
///
/// # Safety
/// `wide..wide_end` holds `k2` groups of four words with `k2` even and at least 2;
/// `weights` `(out_end - out) / 4` pairs of channels' `2 * k2` words; `stages` two stages per
/// pair whose bias fits 32 bits (word 0) and whose fast form has no post shift (word 4 the
/// multiplier); for each of the four pixels `p` the bytes `out + p * stride` up to
/// `out_end + p * stride` writable (stores may be unaligned); `out_end > out`; `lo2`/`hi2`
/// both halves the int16 bounds, `lo <= hi`, with [`CLAMP_NONE`] `-32768..=32767` and with
/// [`CLAMP_LOW_ZERO`] `lo = 0`.
pub unsafe fn gemm4x2_smmulr<const CLAMP: u8>(args: &Gemm4x2I16Args) -> bool {
    let status: u32;
    // SAFETY: the caller guarantees every pointer range above; the block saves and restores
    // r6/r7 and its stack frame, declares every other register it writes, and stores only to
    // the outputs.
    unsafe {
        match CLAMP {
            CLAMP_NONE => asm!(
                gemm4x2_smmulr_body!(ssat8!(), ""),
                inout("r0") args as *const Gemm4x2I16Args => status,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _,
                out("lr") _,
            ),
            CLAMP_LOW_ZERO => asm!(
                gemm4x2_smmulr_body!(
                    concat!(
                        "usat r0, #15, r0\n",
                        "usat r1, #15, r1\n",
                        "usat r2, #15, r2\n",
                        "usat r3, #15, r3\n",
                        "usat r4, #15, r4\n",
                        "usat r5, #15, r5\n",
                        "usat r6, #15, r6\n",
                        "usat r7, #15, r7\n",
                    ),
                    clamp_high4!()
                ),
                inout("r0") args as *const Gemm4x2I16Args => status,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _,
                out("lr") _,
            ),
            _ => asm!(
                gemm4x2_smmulr_body!(
                    ssat8!(),
                    concat!(
                        // The low bound (r8): the GE flags set where the value is at least
                        // the bound keep the value.
                        "ldr r8, [sp, #24]\n",
                        "ssub16 r12, r0, r8\n",
                        "sel r0, r0, r8\n",
                        "ssub16 r12, r1, r8\n",
                        "sel r1, r1, r8\n",
                        "ssub16 r12, r2, r8\n",
                        "sel r2, r2, r8\n",
                        "ssub16 r12, r3, r8\n",
                        "sel r3, r3, r8\n",
                        clamp_high4!(),
                    )
                ),
                inout("r0") args as *const Gemm4x2I16Args => status,
                out("r1") _, out("r2") _, out("r3") _, out("r4") _, out("r5") _,
                out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _,
                out("lr") _,
            ),
        }
    }
    status & (1 << 27) == 0
}
