//! TFLite Micro's signal library (`signal/src/*.cc`, `signal/micro/kernels/*.cc`), bit-exact:
//! the audio front end of micro_speech's preprocessor model.
//!
//! Every function reproduces the C++ integer arithmetic, including where it wraps (C's
//! conversions to narrower types) and TFLM's quirks: `MostSignificantBit32(0)` is 32 (the
//! GCC/Clang build), the FFT's max-abs of -32768 is -32768, PCAN's gain is an int16 widened
//! to uint32. The real FFT is kissfft's fixed-point algorithm (`FIXED_POINT=16`: every
//! butterfly stage divides by its radix with rounding, complex products round to 15
//! fraction bits), written from its definition for the power-of-two lengths the converter
//! accepts; its twiddles are computed by the converter as `kiss_fft_alloc` rounds them.

use crate::util::expect_op;
use ferrite_core::model::cast_out;
use ferrite_core::ops::{Op, SignalOverlapAddType, SignalSpectralSubtraction};
use ferrite_core::{Ctx, Error, Result};

/// `MostSignificantBit32`: the position of the highest set bit counted from 1, and 32 for 0
/// (what TFLM's GCC/Clang build computes with `__builtin_clz`).
pub fn msb32(x: u32) -> u32 {
    if x == 0 {
        32
    } else {
        32 - x.leading_zeros()
    }
}

/// `MostSignificantBit64`: as [`msb32`], 64 for 0.
pub fn msb64(x: u64) -> u32 {
    if x == 0 {
        64
    } else {
        64 - x.leading_zeros()
    }
}

/// `ApplyWindow` on one frame: `(x * w) >> shift` saturated to int16 (`shift` < 32).
pub fn window(input: &[i16], weights: &[i16], shift: u32, output: &mut [i16]) {
    for ((o, &x), &w) in output.iter_mut().zip(input).zip(weights) {
        let raw = (i32::from(x) * i32::from(w)) >> (shift & 31);
        *o = raw.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16;
    }
}

/// `MaxAbs16`, with its int16 negation (-(-32768) stays -32768).
fn max_abs16(input: &[i16]) -> i16 {
    let mut max: i16 = 0;
    for &v in input {
        if v > max {
            max = v;
        } else if -i32::from(v) > i32::from(max) {
            max = (-i32::from(v)) as i16;
        }
    }
    max
}

/// `FftAutoScale`: shifts `input` left by the bits its largest magnitude leaves free and
/// returns that shift (0..=14).
pub fn fft_auto_scale(input: &[i16], output: &mut [i16]) -> i32 {
    let max = max_abs16(input);
    // The int16 max widens to uint32 as C converts it (a negative one has bit 31 set).
    let bits = 16 - msb32(max as i32 as u32) as i32 - 1;
    let bits = bits.max(0);
    for (o, &x) in output.iter_mut().zip(input) {
        *o = (i32::from(x) * (1 << bits)) as i16;
    }
    bits
}

/// A complex int16 value (kissfft's `kiss_fft_cpx` with `FIXED_POINT=16`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cpx {
    r: i16,
    i: i16,
}

/// `sround`: adds half and drops 15 fraction bits, then narrows to int16 as C does.
#[inline(always)]
fn sround(x: i32) -> i16 {
    (x.wrapping_add(1 << 14) >> 15) as i16
}

/// `C_FIXDIV(c, k)`: multiplies by `d = SAMP_MAX / k` in Q15, rounding (`d` is
/// [`DIV2`] or [`DIV4`]).
#[inline(always)]
fn fixdiv(c: Cpx, d: i32) -> Cpx {
    Cpx {
        r: sround(i32::from(c.r) * d),
        i: sround(i32::from(c.i) * d),
    }
}

/// `SAMP_MAX / 2`: kissfft's division by 2.
const DIV2: i32 = i16::MAX as i32 / 2;
/// `SAMP_MAX / 4`: kissfft's division by 4.
const DIV4: i32 = i16::MAX as i32 / 4;

/// `C_MUL`: a complex product rounded to Q15.
#[inline(always)]
fn cmul(a: Cpx, b: Cpx) -> Cpx {
    let (ar, ai, br, bi) = (
        i32::from(a.r),
        i32::from(a.i),
        i32::from(b.r),
        i32::from(b.i),
    );
    Cpx {
        r: sround((ar * br).wrapping_sub(ai * bi)),
        i: sround((ar * bi).wrapping_add(ai * br)),
    }
}

#[inline(always)]
fn cadd(a: Cpx, b: Cpx) -> Cpx {
    Cpx {
        r: a.r.wrapping_add(b.r),
        i: a.i.wrapping_add(b.i),
    }
}

#[inline(always)]
fn csub(a: Cpx, b: Cpx) -> Cpx {
    Cpx {
        r: a.r.wrapping_sub(b.r),
        i: a.i.wrapping_sub(b.i),
    }
}

/// Complex value `k` of interleaved `buf` (zero past its end).
#[inline(always)]
fn ld(buf: &[i16], k: usize) -> Cpx {
    Cpx {
        r: buf.get(2 * k).copied().unwrap_or(0),
        i: buf.get(2 * k + 1).copied().unwrap_or(0),
    }
}

/// Stores complex value `k` of interleaved `buf` (nothing past its end).
#[inline(always)]
fn st(buf: &mut [i16], k: usize, c: Cpx) {
    if let Some(v) = buf.get_mut(2 * k) {
        *v = c.r;
    }
    if let Some(v) = buf.get_mut(2 * k + 1) {
        *v = c.i;
    }
}

/// kissfft's factors of a power of two `n` (radix 4 while it divides, then 2) as
/// `(radix, remaining length)` pairs; `None` if `n` is not a power of two or is 1.
fn factors(mut n: usize) -> Option<([(usize, usize); 32], usize)> {
    if n < 2 || !n.is_power_of_two() {
        return None;
    }
    let mut f = [(0, 0); 32];
    let mut count = 0;
    while n > 1 {
        let p = if n.is_multiple_of(4) { 4 } else { 2 };
        n /= p;
        *f.get_mut(count)? = (p, n);
        count += 1;
    }
    Some((f, count))
}

/// `kf_work`: the decimation-in-time recursion of kissfft's forward (or, with `inverse`,
/// inverse: radix-4 butterflies rotate the other way) FFT into `out`
/// (`p * m` complex values) from complex samples `first, first + fstride, ...` of `input`
/// (interleaved, zero past its end).
fn kf_work(
    out: &mut [i16],
    input: &[i16],
    first: usize,
    fstride: usize,
    factors: &[(usize, usize)],
    twiddles: &[i16],
    inverse: bool,
) {
    let Some((&(p, m), rest)) = factors.split_first() else {
        return;
    };
    if m == 1 {
        for j in 0..p {
            st(out, j, ld(input, first + j * fstride));
        }
    } else {
        for j in 0..p {
            if let Some(part) = out.get_mut(2 * j * m..2 * (j + 1) * m) {
                kf_work(
                    part,
                    input,
                    first + j * fstride,
                    fstride * p,
                    rest,
                    twiddles,
                    inverse,
                );
            }
        }
    }
    let tw = |k: usize| ld(twiddles, k);
    match p {
        2 => {
            for k in 0..m {
                let a = fixdiv(ld(out, k), DIV2);
                let b = fixdiv(ld(out, k + m), DIV2);
                let t = cmul(b, tw(k * fstride));
                st(out, k + m, csub(a, t));
                st(out, k, cadd(a, t));
            }
        }
        _ => {
            for k in 0..m {
                let f0 = fixdiv(ld(out, k), DIV4);
                let f1 = fixdiv(ld(out, k + m), DIV4);
                let f2 = fixdiv(ld(out, k + 2 * m), DIV4);
                let f3 = fixdiv(ld(out, k + 3 * m), DIV4);
                let s0 = cmul(f1, tw(k * fstride));
                let s1 = cmul(f2, tw(2 * k * fstride));
                let s2 = cmul(f3, tw(3 * k * fstride));
                let s5 = csub(f0, s1);
                let f0 = cadd(f0, s1);
                let s3 = cadd(s0, s2);
                let s4 = csub(s0, s2);
                st(out, k + 2 * m, csub(f0, s3));
                st(out, k, cadd(f0, s3));
                // s5 -/+ i s4: the inverse transform rotates the other way.
                let minus_j = Cpx {
                    r: s5.r.wrapping_add(s4.i),
                    i: s5.i.wrapping_sub(s4.r),
                };
                let plus_j = Cpx {
                    r: s5.r.wrapping_sub(s4.i),
                    i: s5.i.wrapping_add(s4.r),
                };
                let (at_m, at_3m) = if inverse {
                    (plus_j, minus_j)
                } else {
                    (minus_j, plus_j)
                };
                st(out, k + m, at_m);
                st(out, k + 3 * m, at_3m);
            }
        }
    }
}

/// `kiss_fftr` with `FIXED_POINT=16` on one frame: `input` (at most `fft_length` samples,
/// zero-padded) into `fft_length / 2 + 1` interleaved complex values in `output`.
/// `twiddles` holds `fft_length / 2` complex values, `super_twiddles` `fft_length / 4`.
/// Returns `false` (writing nothing) for a length that is not a power of two of at least 4
/// or slices of other sizes.
pub fn rfft_i16(
    input: &[i16],
    fft_length: usize,
    twiddles: &[i16],
    super_twiddles: &[i16],
    output: &mut [i16],
) -> bool {
    let ncfft = fft_length / 2;
    let Some((f, count)) = factors(ncfft) else {
        return false;
    };
    if fft_length < 4
        || input.len() > fft_length
        || twiddles.len() != fft_length
        || super_twiddles.len() != ncfft
        || output.len() != 2 * (ncfft + 1)
    {
        return false;
    }
    let Some(f) = f.get(..count) else {
        return false;
    };
    // The complex FFT goes into the output's first `ncfft` values; the real split below
    // reads each pair (k, ncfft - k) before writing it, so it can work in place.
    if let Some(work) = output.get_mut(..2 * ncfft) {
        kf_work(work, input, 0, 1, f, twiddles, false);
    }
    let tdc = fixdiv(ld(output, 0), DIV2);
    st(
        output,
        0,
        Cpx {
            r: tdc.r.wrapping_add(tdc.i),
            i: 0,
        },
    );
    st(
        output,
        ncfft,
        Cpx {
            r: tdc.r.wrapping_sub(tdc.i),
            i: 0,
        },
    );
    for k in 1..=ncfft / 2 {
        let fpk = fixdiv(ld(output, k), DIV2);
        let nk = ld(output, ncfft - k);
        let fpnk = fixdiv(
            Cpx {
                r: nk.r,
                i: (-i32::from(nk.i)) as i16,
            },
            DIV2,
        );
        let f1k = cadd(fpk, fpnk);
        let f2k = csub(fpk, fpnk);
        let tw = cmul(f2k, ld(super_twiddles, k - 1));
        let half = |a: i16, b: i16, sub: bool| -> i16 {
            let s = if sub {
                i32::from(a) - i32::from(b)
            } else {
                i32::from(a) + i32::from(b)
            };
            (s >> 1) as i16
        };
        st(
            output,
            k,
            Cpx {
                r: half(f1k.r, tw.r, false),
                i: half(f1k.i, tw.i, false),
            },
        );
        st(
            output,
            ncfft - k,
            Cpx {
                r: half(f1k.r, tw.r, true),
                i: half(tw.i, f1k.i, true),
            },
        );
    }
    true
}

/// `kiss_fftri` with `FIXED_POINT=16` on one frame: `fft_length / 2 + 1` interleaved
/// complex values of `input` into `fft_length` samples in `output`, through `tmp`
/// (`fft_length` values: kissfft's `tmpbuf`). `twiddles` and `super_twiddles` are the inverse
/// transform's (`fft_length / 2` and `fft_length / 4` complex values). Returns `false`
/// (writing nothing) for a length that is not a power of two of at least 4 or slices of
/// other sizes.
pub fn irfft_i16(
    input: &[i16],
    fft_length: usize,
    twiddles: &[i16],
    super_twiddles: &[i16],
    tmp: &mut [i16],
    output: &mut [i16],
) -> bool {
    let ncfft = fft_length / 2;
    let Some((f, count)) = factors(ncfft) else {
        return false;
    };
    if fft_length < 4
        || input.len() < fft_length + 2
        || twiddles.len() != fft_length
        || super_twiddles.len() != ncfft
        || tmp.len() != fft_length
        || output.len() != fft_length
    {
        return false;
    }
    let Some(f) = f.get(..count) else {
        return false;
    };
    let (first, last) = (ld(input, 0), ld(input, ncfft));
    let dc = Cpx {
        r: first.r.wrapping_add(last.r),
        i: first.r.wrapping_sub(last.r),
    };
    st(tmp, 0, fixdiv(dc, DIV2));
    for k in 1..=ncfft / 2 {
        let fk = fixdiv(ld(input, k), DIV2);
        let nk = ld(input, ncfft - k);
        let fnkc = fixdiv(
            Cpx {
                r: nk.r,
                i: nk.i.wrapping_neg(),
            },
            DIV2,
        );
        let fek = cadd(fk, fnkc);
        let fok = cmul(csub(fk, fnkc), ld(super_twiddles, k - 1));
        st(tmp, k, cadd(fek, fok));
        let low = csub(fek, fok);
        st(
            tmp,
            ncfft - k,
            Cpx {
                r: low.r,
                i: low.i.wrapping_neg(),
            },
        );
    }
    kf_work(output, tmp, 0, 1, f, twiddles, true);
    true
}

/// A complex float32 value (kissfft's float `kiss_fft_cpx`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Cpxf {
    r: f32,
    i: f32,
}

/// Complex value `k` of interleaved `buf` (zero past its end).
#[inline(always)]
fn ldf(buf: &[f32], k: usize) -> Cpxf {
    Cpxf {
        r: buf.get(2 * k).copied().unwrap_or(0.0),
        i: buf.get(2 * k + 1).copied().unwrap_or(0.0),
    }
}

/// Stores complex value `k` of interleaved `buf` (nothing past its end).
#[inline(always)]
fn stf(buf: &mut [f32], k: usize, c: Cpxf) {
    if let Some(v) = buf.get_mut(2 * k) {
        *v = c.r;
    }
    if let Some(v) = buf.get_mut(2 * k + 1) {
        *v = c.i;
    }
}

/// Float `C_MUL`, in kissfft's order of operations.
#[inline(always)]
fn cmulf(a: Cpxf, b: Cpxf) -> Cpxf {
    Cpxf {
        r: a.r * b.r - a.i * b.i,
        i: a.r * b.i + a.i * b.r,
    }
}

#[inline(always)]
fn caddf(a: Cpxf, b: Cpxf) -> Cpxf {
    Cpxf {
        r: a.r + b.r,
        i: a.i + b.i,
    }
}

#[inline(always)]
fn csubf(a: Cpxf, b: Cpxf) -> Cpxf {
    Cpxf {
        r: a.r - b.r,
        i: a.i - b.i,
    }
}

/// [`kf_work`] for kissfft's float build (no division by the radix).
fn kf_work_f32(
    out: &mut [f32],
    input: &[f32],
    first: usize,
    fstride: usize,
    factors: &[(usize, usize)],
    twiddles: &[f32],
    inverse: bool,
) {
    let Some((&(p, m), rest)) = factors.split_first() else {
        return;
    };
    if m == 1 {
        for j in 0..p {
            stf(out, j, ldf(input, first + j * fstride));
        }
    } else {
        for j in 0..p {
            if let Some(part) = out.get_mut(2 * j * m..2 * (j + 1) * m) {
                kf_work_f32(
                    part,
                    input,
                    first + j * fstride,
                    fstride * p,
                    rest,
                    twiddles,
                    inverse,
                );
            }
        }
    }
    let tw = |k: usize| ldf(twiddles, k);
    match p {
        2 => {
            for k in 0..m {
                let t = cmulf(ldf(out, k + m), tw(k * fstride));
                let a = ldf(out, k);
                stf(out, k + m, csubf(a, t));
                stf(out, k, caddf(a, t));
            }
        }
        _ => {
            for k in 0..m {
                let f0 = ldf(out, k);
                let s0 = cmulf(ldf(out, k + m), tw(k * fstride));
                let s1 = cmulf(ldf(out, k + 2 * m), tw(2 * k * fstride));
                let s2 = cmulf(ldf(out, k + 3 * m), tw(3 * k * fstride));
                let s5 = csubf(f0, s1);
                let f0 = caddf(f0, s1);
                let s3 = caddf(s0, s2);
                let s4 = csubf(s0, s2);
                stf(out, k + 2 * m, csubf(f0, s3));
                stf(out, k, caddf(f0, s3));
                let minus_j = Cpxf {
                    r: s5.r + s4.i,
                    i: s5.i - s4.r,
                };
                let plus_j = Cpxf {
                    r: s5.r - s4.i,
                    i: s5.i + s4.r,
                };
                let (at_m, at_3m) = if inverse {
                    (plus_j, minus_j)
                } else {
                    (minus_j, plus_j)
                };
                stf(out, k + m, at_m);
                stf(out, k + 3 * m, at_3m);
            }
        }
    }
}

/// `kiss_fftri` in kissfft's float build (no fixed-point scaling), each output then divided
/// by `fft_length` as TFLM's `IrfftFloatApply` does.
pub fn irfft_f32(
    input: &[f32],
    fft_length: usize,
    twiddles: &[f32],
    super_twiddles: &[f32],
    tmp: &mut [f32],
    output: &mut [f32],
) -> bool {
    let ncfft = fft_length / 2;
    let Some((f, count)) = factors(ncfft) else {
        return false;
    };
    if fft_length < 4
        || input.len() < fft_length + 2
        || twiddles.len() != fft_length
        || super_twiddles.len() != ncfft
        || tmp.len() != fft_length
        || output.len() != fft_length
    {
        return false;
    }
    let Some(f) = f.get(..count) else {
        return false;
    };
    let (first, last) = (ldf(input, 0), ldf(input, ncfft));
    stf(
        tmp,
        0,
        Cpxf {
            r: first.r + last.r,
            i: first.r - last.r,
        },
    );
    for k in 1..=ncfft / 2 {
        let fk = ldf(input, k);
        let nk = ldf(input, ncfft - k);
        let fnkc = Cpxf { r: nk.r, i: -nk.i };
        let fek = caddf(fk, fnkc);
        let fok = cmulf(csubf(fk, fnkc), ldf(super_twiddles, k - 1));
        stf(tmp, k, caddf(fek, fok));
        let low = csubf(fek, fok);
        stf(
            tmp,
            ncfft - k,
            Cpxf {
                r: low.r,
                i: -low.i,
            },
        );
    }
    kf_work_f32(output, tmp, 0, 1, f, twiddles, true);
    // TFLM's `IrfftFloatApply` divides kissfft's unscaled output by the FFT length.
    let n = fft_length as f32;
    for o in output.iter_mut() {
        *o /= n;
    }
    true
}

/// `SpectrumToEnergy`: `re² + im²` of complex bins `start..end` (wrapping as TFLM's int32
/// sum converted to uint32 does); other outputs are set to 0.
pub fn energy(input: &[i16], start: usize, end: usize, output: &mut [u32]) {
    for (k, o) in output.iter_mut().enumerate() {
        *o = if (start..end).contains(&k) {
            let c = ld(input, k);
            let (r, i) = (i32::from(c.r), i32::from(c.i));
            ((r * r) as u32).wrapping_add((i * i) as u32)
        } else {
            0
        };
    }
}

/// The filter bank's tables (TFLM's `FilterbankConfig`), `num_channels + 1` channels each.
#[derive(Debug, Clone, Copy)]
pub struct FilterBankTables<'a> {
    /// Weights.
    pub weights: &'a [i16],
    /// Unweights.
    pub unweights: &'a [i16],
    /// First input bin of each channel.
    pub frequency_starts: &'a [i16],
    /// First weight of each channel.
    pub weight_starts: &'a [i16],
    /// Bins of each channel.
    pub widths: &'a [i16],
}

/// `FilterbankAccumulateChannels` without its scratch channel 0: `output[c]` is TFLM's
/// channel `c + 1`. Returns `false` if a table indexes outside its slice or the input.
pub fn filter_bank(t: &FilterBankTables<'_>, input: &[u32], output: &mut [u64]) -> bool {
    let mut weight_acc: u64 = 0;
    let mut unweight_acc: u64 = 0;
    let channels = output.len() + 1;
    for ch in 0..channels {
        let (Some(&fs), Some(&ws), Some(&w)) = (
            t.frequency_starts.get(ch),
            t.weight_starts.get(ch),
            t.widths.get(ch),
        ) else {
            return false;
        };
        let (Ok(fs), Ok(ws), Ok(w)) =
            (usize::try_from(fs), usize::try_from(ws), usize::try_from(w))
        else {
            return false;
        };
        let (Some(x), Some(wt), Some(uw)) = (
            input.get(fs..fs + w),
            t.weights.get(ws..ws + w),
            t.unweights.get(ws..ws + w),
        ) else {
            return false;
        };
        for ((&x, &wt), &uw) in x.iter().zip(wt).zip(uw) {
            // int16 * uint64: the weight converts to uint64 (sign-extended), the product wraps.
            weight_acc = weight_acc.wrapping_add((i64::from(wt) as u64).wrapping_mul(u64::from(x)));
            unweight_acc =
                unweight_acc.wrapping_add((i64::from(uw) as u64).wrapping_mul(u64::from(x)));
        }
        if let Some(o) = ch.checked_sub(1).and_then(|c| output.get_mut(c)) {
            *o = weight_acc;
        }
        weight_acc = unweight_acc;
        unweight_acc = 0;
    }
    true
}

/// `Sqrt32`: integer square root rounded to nearest (at most 0xFFFF).
pub fn sqrt32(mut num: u32) -> u16 {
    if num == 0 {
        return 0;
    }
    let mut res: u32 = 0;
    let max_bit = (32 - msb32(num)) | 1;
    let mut bit: u32 = 1 << (31 - max_bit);
    let iterations = (31 - max_bit) / 2 + 1;
    for _ in 0..iterations {
        if num >= res + bit {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if num > res && res != 0xFFFF {
        res += 1;
    }
    res as u16
}

/// `Sqrt64`: [`sqrt32`] below 2^32 (TFLM's shortcut), else the 64-bit digit-by-digit root
/// rounded to nearest, truncated to 32 bits.
pub fn sqrt64(mut num: u64) -> u32 {
    if num >> 32 == 0 {
        return u32::from(sqrt32(num as u32));
    }
    let mut res: u64 = 0;
    let max_bit = (64 - msb64(num)) | 1;
    let mut bit: u64 = 1 << (63 - max_bit);
    let iterations = (63 - max_bit) / 2 + 1;
    for _ in 0..iterations {
        if num >= res + bit {
            num -= res + bit;
            res = (res >> 1) + bit;
        } else {
            res >>= 1;
        }
        bit >>= 2;
    }
    if num > res && res != 0xFFFF_FFFF {
        res += 1;
    }
    res as u32
}

/// `FilterbankSqrt`: `Sqrt64(x) >> shift` (a shift outside 0..=31 gives 0).
pub fn filter_bank_sqrt(input: &[u64], shift: i32, output: &mut [u32]) {
    for (o, &x) in output.iter_mut().zip(input) {
        let s = sqrt64(x);
        *o = u32::try_from(shift)
            .ok()
            .and_then(|sh| s.checked_shr(sh))
            .unwrap_or(0);
    }
}

/// `FilterbankSpectralSubtraction` (the noise estimate updated in place).
pub fn spectral_subtraction(
    p: &SignalSpectralSubtraction,
    input: &[u32],
    output: &mut [u32],
    noise: &mut [u32],
) {
    let sb = u32::from(p.smoothing_bits) & 31;
    let ssb = u32::from(p.spectral_subtraction_bits) & 63;
    for (ch, ((&x, o), n)) in input.iter().zip(output.iter_mut()).zip(noise).enumerate() {
        let (smoothing, one_minus) = if ch % 2 == 0 {
            (p.smoothing, p.one_minus_smoothing)
        } else {
            (p.alternate_smoothing, p.alternate_one_minus_smoothing)
        };
        let up = x << sb;
        *n = ((u64::from(up) * u64::from(smoothing))
            .wrapping_add(u64::from(*n) * u64::from(one_minus))
            >> ssb) as u32;
        let mut estimate = *n;
        if estimate > up {
            estimate = up;
            if p.clamping {
                *n = estimate;
            }
        }
        let floor = ((u64::from(x) * u64::from(p.min_signal_remaining)) >> ssb) as u32;
        let subtracted = (up - estimate) >> sb;
        *o = subtracted.max(floor);
    }
}

/// Fraction bits of PCAN's signal-to-noise ratio (`kPcanSnrBits`).
const PCAN_SNR_BITS: u32 = 12;
/// Fraction bits of PCAN's output (`kPcanOutputBits`).
const PCAN_OUTPUT_BITS: u32 = 6;
/// Entries of the gain table any uint32 noise estimate can reach (`4 * 32 - 6 + 3`).
pub const PCAN_LUT_MIN_LEN: usize = 125;

/// `WideDynamicFunction`: the gain for noise estimate `x`, a piecewise quadratic from `lut`
/// (at least [`PCAN_LUT_MIN_LEN`] entries; a shorter one reads zeros past its end).
pub fn wide_dynamic_function(x: u32, lut: &[i16]) -> i16 {
    let at = |k: usize| i32::from(lut.get(k).copied().unwrap_or(0));
    if x <= 2 {
        return at(x as usize) as i16;
    }
    let interval = msb32(x);
    let base = (4 * interval - 6) as usize;
    let frac = if interval < 11 {
        x << (11 - interval)
    } else {
        x >> (interval - 11)
    } & 0x3FF;
    let frac = frac as i32;
    let mut result = at(base + 2).wrapping_mul(frac) >> 5;
    result = result.wrapping_add(((at(base + 1) as u32) << 5) as i32);
    result = result.wrapping_mul(frac);
    result = result.wrapping_add(1 << 14) >> 15;
    result = result.wrapping_add(at(base));
    result as i16
}

/// `PcanShrink`: `x² / 4` below 2, `x - 1` from 2 on (12 fraction bits in, 6 out).
pub fn pcan_shrink(x: u32) -> u32 {
    if x < (2 << PCAN_SNR_BITS) {
        x.wrapping_mul(x) >> (2 + 2 * PCAN_SNR_BITS - PCAN_OUTPUT_BITS)
    } else {
        (x >> (PCAN_SNR_BITS - PCAN_OUTPUT_BITS)).wrapping_sub(1 << PCAN_OUTPUT_BITS)
    }
}

/// `ApplyPcanAutoGainControlFixed` from `input` into `output` (`snr_shift` < 64).
pub fn pcan(input: &[u32], noise: &[u32], lut: &[i16], snr_shift: u32, output: &mut [u32]) {
    for ((o, &x), &n) in output.iter_mut().zip(input).zip(noise) {
        // The int16 gain converts to uint32 as C converts it.
        let gain = wide_dynamic_function(n, lut) as i32 as u32;
        let snr = ((u64::from(x) * u64::from(gain)) >> (snr_shift & 63)) as u32;
        *o = pcan_shrink(snr);
    }
}

/// `kLogLut`: the log2 fraction's correction, 129 segments (and a pad).
const LOG_LUT: [u16; 130] = [
    0, 224, 442, 654, 861, 1063, 1259, 1450, 1636, 1817, 1992, 2163, 2329, 2490, 2646, 2797, 2944,
    3087, 3224, 3358, 3487, 3611, 3732, 3848, 3960, 4068, 4172, 4272, 4368, 4460, 4549, 4633, 4714,
    4791, 4864, 4934, 5001, 5063, 5123, 5178, 5231, 5280, 5326, 5368, 5408, 5444, 5477, 5507, 5533,
    5557, 5578, 5595, 5610, 5622, 5631, 5637, 5640, 5641, 5638, 5633, 5626, 5615, 5602, 5586, 5568,
    5547, 5524, 5498, 5470, 5439, 5406, 5370, 5332, 5291, 5249, 5203, 5156, 5106, 5054, 5000, 4944,
    4885, 4825, 4762, 4697, 4630, 4561, 4490, 4416, 4341, 4264, 4184, 4103, 4020, 3935, 3848, 3759,
    3668, 3575, 3481, 3384, 3286, 3186, 3084, 2981, 2875, 2768, 2659, 2549, 2437, 2323, 2207, 2090,
    1971, 1851, 1729, 1605, 1480, 1353, 1224, 1094, 963, 830, 695, 559, 421, 282, 142, 0, 0,
];

/// `Log2FractionPart32`: the fraction of `log2(x)` in Q16, `log2x` being its integer part.
fn log2_fraction(x: u32, log2x: u32) -> u32 {
    let mut frac = (i64::from(x) - (1i64 << log2x)) as i32;
    if log2x < 16 {
        frac <<= 16 - log2x;
    } else {
        frac >>= log2x - 16;
    }
    let base_seg = (frac >> 9) as u32;
    let at = |k: u32| i32::from(LOG_LUT.get(k as usize).copied().unwrap_or(0));
    let (c0, c1) = (at(base_seg), at(base_seg + 1));
    let seg_base = (512 * base_seg) as i32;
    let rel_pos = (c1 - c0).wrapping_mul(frac.wrapping_sub(seg_base)) >> 16;
    frac.wrapping_add(c0).wrapping_add(rel_pos) as u32
}

/// `Log32`: `ln(x) * out_scale` in fixed point, rounded (`x` > 1).
pub fn log32(x: u32, out_scale: u32) -> u32 {
    let integer = msb32(x).wrapping_sub(1) & 31;
    let fraction = log2_fraction(x, integer);
    let log2 = (integer << 16).wrapping_add(fraction);
    let round: u32 = 1 << 15;
    let loge = ((45426u64 * u64::from(log2) + u64::from(round)) >> 16) as u32;
    out_scale.wrapping_mul(loge).wrapping_add(round) >> 16
}

/// `FilterbankLog`: [`log32`] of each input shifted left by `correction_bits` (< 32),
/// saturated to int16; inputs that scale to 0 or 1 give 0.
pub fn filter_bank_log(input: &[u32], output_scale: u32, correction_bits: u32, out: &mut [i16]) {
    for (o, &x) in out.iter_mut().zip(input) {
        let scaled = x << (correction_bits & 31);
        *o = if scaled > 1 {
            log32(scaled, output_scale).min(i16::MAX as u32) as i16
        } else {
            0
        };
    }
}

/// One `SignalFramer` row: `input` (`n_frames * step` samples) into `n_frames` frames of
/// `frame` samples in `output`, through `buf` (the row's buffered samples, oldest first,
/// `count` of them valid). Returns whether every frame was complete (an incomplete one is
/// written 0).
pub fn framer_row(
    input: &[i16],
    step: usize,
    frame: usize,
    buf: &mut [i16],
    count: &mut u32,
    output: &mut [i16],
) -> bool {
    let mut valid = true;
    let mut n = *count as usize;
    let (mut i, mut o) = (0, 0);
    while let (Some(x), Some(y)) = (input.get(i..i + step), output.get_mut(o..o + frame)) {
        if let Some(dst) = buf.get_mut(n..n + step) {
            copy(dst, x);
            n += step;
        }
        match buf.get(..frame) {
            Some(f) if n >= frame => {
                copy(y, f);
                let drop = step.min(n);
                if let Some(live) = buf.get_mut(..n) {
                    shift_left(live, drop);
                }
                n -= drop;
            }
            _ => {
                y.fill(0);
                valid = false;
            }
        }
        i += step;
        o += frame;
    }
    *count = n as u32;
    valid
}

/// One `SignalStacker` call: `input` (one frame) appended to `buf` (`count` values valid,
/// oldest first; the first frame after a reset repeated `left_context` more times); when
/// `output.len()` values are buffered they are written to `output` and the oldest `step`
/// dropped. Returns whether `output` was written (else it is set to 0).
pub fn stacker(
    input: &[i16],
    left_context: usize,
    step: usize,
    buf: &mut [i16],
    count: &mut u32,
    has_first: &mut u32,
    output: &mut [i16],
) -> bool {
    let nc = input.len();
    let mut n = *count as usize;
    let repeats = if *has_first == 0 { 1 + left_context } else { 1 };
    *has_first = 1;
    for _ in 0..repeats {
        if let Some(dst) = buf.get_mut(n..n + nc) {
            copy(dst, input);
            n += nc;
        }
    }
    let size = output.len();
    let valid = match buf.get(..size) {
        Some(b) if n >= size => {
            copy(output, b);
            let drop = step.min(n);
            if let Some(live) = buf.get_mut(..n) {
                shift_left(live, drop);
            }
            n -= drop;
            true
        }
        _ => {
            output.fill(0);
            false
        }
    };
    *count = n as u32;
    valid
}

/// `OverlapAdd` (int16) of one frame: `input` added into `buf` (saturated), whose first
/// `output.len()` values go out and the rest shift down, zeros behind.
pub fn overlap_add_i16(input: &[i16], buf: &mut [i16], output: &mut [i16]) {
    for (b, &x) in buf.iter_mut().zip(input) {
        *b = b.saturating_add(x);
    }
    overlap_shift(buf, output);
}

/// `OverlapAdd` (float32) of one frame: as [`overlap_add_i16`] with plain float sums.
pub fn overlap_add_f32(input: &[f32], buf: &mut [f32], output: &mut [f32]) {
    for (b, &x) in buf.iter_mut().zip(input) {
        *b += x;
    }
    overlap_shift(buf, output);
}

/// The out, shift and zero-fill of an overlap-add step.
fn overlap_shift<T: Copy + Default>(buf: &mut [T], output: &mut [T]) {
    copy(output, buf);
    let step = output.len().min(buf.len());
    shift_left(buf, step);
    let n = buf.len();
    if let Some(tail) = buf.get_mut(n - step..) {
        tail.fill(T::default());
    }
}

/// Copies `min(dst.len(), src.len())` values.
fn copy<T: Copy>(dst: &mut [T], src: &[T]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s;
    }
}

/// Moves `buf[by..]` to the front (the last `by` values keep their old contents).
fn shift_left<T: Copy>(buf: &mut [T], by: usize) {
    let by = by.min(buf.len());
    buf.copy_within(by.., 0);
}

/// One `SignalDelay` row: `input` delayed by `pending.len()` samples into `output`;
/// `pending` holds the samples still owed from earlier calls, oldest first.
pub fn delay_row(input: &[i16], pending: &mut [i16], output: &mut [i16]) {
    let (n, d) = (input.len(), pending.len());
    if d <= n {
        // Out: the pending samples, then the input's first n - d; pending: its last d.
        copy(output, pending);
        if let Some(tail) = output.get_mut(d..) {
            copy(tail, input);
        }
        if let Some(rest) = input.get(n - d..) {
            copy(pending, rest);
        }
    } else {
        copy(output, pending);
        shift_left(pending, n);
        if let Some(tail) = pending.get_mut(d - n..) {
            copy(tail, input);
        }
    }
}

/// The bytes of state slot `slot` (taken out of `ctx`).
fn state_bytes<'s>(ctx: &mut Ctx<'s>, slot: u16) -> Result<&'s mut [u8]> {
    let layer = ctx.layer;
    let err = |reason| Error::InvalidLayer { layer, reason };
    let slot = ctx
        .model
        .state
        .slots
        .get(slot as usize)
        .ok_or(err("state slot out of range"))?;
    let start = slot.offset as usize;
    let end = start
        .checked_add(slot.bytes as usize)
        .ok_or(err("state slot outside the state region"))?;
    let region = core::mem::take(&mut ctx.state);
    region
        .get_mut(start..end)
        .ok_or(err("state slot outside the state region"))
}

fn ctx_err(layer: u16, reason: &'static str) -> Error {
    Error::InvalidLayer { layer, reason }
}

fn check(layer: u16, ok: bool, reason: &'static str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidLayer { layer, reason })
    }
}

/// Kernel entry for [`Op::SignalWindow`].
pub fn run_signal_window(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalWindow);
    let weights = ctx.consts(p.weights)?;
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    let n = weights.len();
    if n == 0 {
        return Err(ctx_err(layer, "SignalWindow without weights"));
    }
    check(
        layer,
        n > 0 && input.len() == output.len() && input.len().is_multiple_of(n) && p.shift < 32,
        "SignalWindow sizes or shift do not match",
    )?;
    // Frame by frame through checked ranges (zipped chunk iterators keep a division the
    // optimiser cannot prove non-zero, i.e. a panic path).
    let mut start = 0;
    while let (Some(x), Some(o)) = (
        input.get(start..start + n),
        output.get_mut(start..start + n),
    ) {
        window(x, weights, u32::from(p.shift), o);
        start += n;
    }
    Ok(())
}

/// Kernel entry for [`Op::SignalFftAutoScale`].
pub fn run_signal_fft_auto_scale(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalFftAutoScale);
    let layer = ctx.layer;
    let (inputs, [out, scale], _) = ctx.split_outputs([p.output, p.scale_bits], 0, 0)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    let scale: &mut [i32] = cast_out(layer, scale)?;
    check(
        layer,
        input.len() == output.len() && scale.len() == 1,
        "SignalFftAutoScale sizes do not match",
    )?;
    let bits = fft_auto_scale(input, output);
    if let Some(s) = scale.first_mut() {
        *s = bits;
    }
    Ok(())
}

/// Kernel entry for [`Op::SignalRfftI16`].
pub fn run_signal_rfft_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalRfftI16);
    let twiddles = ctx.consts(p.twiddles)?;
    let super_twiddles = ctx.consts(p.super_twiddles)?;
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    let (n_in, n_fft) = (p.input_length as usize, p.fft_length as usize);
    let n_out = n_fft.wrapping_add(2);
    if n_in == 0 || n_out == 0 {
        return Err(ctx_err(layer, "SignalRfft with an empty frame"));
    }
    check(
        layer,
        n_in > 0
            && n_in <= n_fft
            && input.len().is_multiple_of(n_in)
            && output.len() == input.len() / n_in * n_out,
        "SignalRfft sizes do not match",
    )?;
    let (mut i, mut o) = (0, 0);
    while let (Some(x), Some(y)) = (input.get(i..i + n_in), output.get_mut(o..o + n_out)) {
        check(
            layer,
            rfft_i16(x, n_fft, twiddles, super_twiddles, y),
            "SignalRfft length or twiddles invalid",
        )?;
        i += n_in;
        o += n_out;
    }
    Ok(())
}

/// Kernel entry for [`Op::SignalEnergy`].
pub fn run_signal_energy(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalEnergy);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [u32] = cast_out(layer, out)?;
    let (start, end) = (p.start as usize, p.end as usize);
    check(
        layer,
        start <= end && end <= output.len() && 2 * end <= input.len(),
        "SignalEnergy range outside its tensors",
    )?;
    energy(input, start, end, output);
    Ok(())
}

/// Kernel entry for [`Op::SignalFilterBank`].
pub fn run_signal_filter_bank(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalFilterBank);
    let t = FilterBankTables {
        weights: ctx.consts(p.weights)?,
        unweights: ctx.consts(p.unweights)?,
        frequency_starts: ctx.consts(p.channel_frequency_starts)?,
        weight_starts: ctx.consts(p.channel_weight_starts)?,
        widths: ctx.consts(p.channel_widths)?,
    };
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[u32] = inputs.get(p.input)?;
    let output: &mut [u64] = cast_out(layer, out)?;
    check(
        layer,
        output.len() == p.num_channels as usize,
        "SignalFilterBank output does not match its channels",
    )?;
    check(
        layer,
        filter_bank(&t, input, output),
        "SignalFilterBank tables index outside their tensors",
    )
}

/// Kernel entry for [`Op::SignalFilterBankSquareRoot`].
pub fn run_signal_filter_bank_square_root(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalFilterBankSquareRoot);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[u64] = inputs.get(p.input)?;
    let scale: &[i32] = inputs.get(p.scale_bits)?;
    let output: &mut [u32] = cast_out(layer, out)?;
    let shift = scale.first().copied();
    check(
        layer,
        input.len() == output.len() && shift.is_some(),
        "SignalFilterBankSquareRoot sizes do not match",
    )?;
    filter_bank_sqrt(input, shift.unwrap_or(0), output);
    Ok(())
}

/// Kernel entry for [`Op::SignalSpectralSubtraction`].
pub fn run_signal_spectral_subtraction(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalSpectralSubtraction);
    let layer = ctx.layer;
    let err = |reason| Error::InvalidLayer { layer, reason };
    let slot = ctx
        .model
        .state
        .slots
        .get(p.state as usize)
        .ok_or(err("state slot out of range"))?;
    let start = slot.offset as usize;
    let end = start
        .checked_add(slot.bytes as usize)
        .ok_or(err("state slot outside the state region"))?;
    let region = core::mem::take(&mut ctx.state);
    let state = region
        .get_mut(start..end)
        .ok_or(err("state slot outside the state region"))?;
    let (inputs, [out, noise_out], _) = ctx.split_outputs([p.output, p.noise_estimate], 0, 0)?;
    let input: &[u32] = inputs.get(p.input)?;
    let output: &mut [u32] = cast_out(layer, out)?;
    let noise_out: &mut [u32] = cast_out(layer, noise_out)?;
    let noise: &mut [u32] = cast_out(layer, state)?;
    let n = p.num_channels as usize;
    check(
        layer,
        input.len() == n && output.len() == n && noise_out.len() == n && noise.len() == n,
        "SignalFilterBankSpectralSubtraction sizes do not match",
    )?;
    spectral_subtraction(p, input, output, noise);
    for (o, &n) in noise_out.iter_mut().zip(noise.iter()) {
        *o = n;
    }
    Ok(())
}

/// Kernel entry for [`Op::SignalPcan`].
pub fn run_signal_pcan(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalPcan);
    let lut = ctx.consts(p.gain_lut)?;
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[u32] = inputs.get(p.input)?;
    let noise: &[u32] = inputs.get(p.noise_estimate)?;
    let output: &mut [u32] = cast_out(layer, out)?;
    check(
        layer,
        input.len() == output.len()
            && noise.len() == output.len()
            && lut.len() >= PCAN_LUT_MIN_LEN
            && p.snr_shift < 64,
        "SignalPCAN sizes, table or shift do not match",
    )?;
    pcan(input, noise, lut, u32::from(p.snr_shift), output);
    Ok(())
}

/// Kernel entry for [`Op::SignalFilterBankLog`].
pub fn run_signal_filter_bank_log(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalFilterBankLog);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[u32] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    check(
        layer,
        input.len() == output.len() && p.input_correction_bits < 32,
        "SignalFilterBankLog sizes or shift do not match",
    )?;
    filter_bank_log(
        input,
        p.output_scale,
        u32::from(p.input_correction_bits),
        output,
    );
    Ok(())
}

/// Kernel entry for [`Op::SignalIrfftI16`].
pub fn run_signal_irfft_i16(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalIrfftI16);
    let twiddles = ctx.consts(p.twiddles)?;
    let super_twiddles = ctx.consts(p.super_twiddles)?;
    let layer = ctx.layer;
    let (inputs, [out], scratch) =
        ctx.split_outputs([p.output], p.scratch_offset, p.scratch_bytes)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    let tmp: &mut [i16] = cast_out(layer, scratch)?;
    let (n_in, n_out) = (p.input_length as usize, p.fft_length as usize);
    if n_in == 0 || n_out == 0 {
        return Err(ctx_err(layer, "SignalIrfft with an empty frame"));
    }
    check(
        layer,
        n_in >= n_out + 2
            && input.len().is_multiple_of(n_in)
            && output.len() == input.len() / n_in * n_out
            && tmp.len() >= n_out,
        "SignalIrfft sizes do not match",
    )?;
    let tmp = tmp.get_mut(..n_out).unwrap_or_default();
    let (mut i, mut o) = (0, 0);
    while let (Some(x), Some(y)) = (input.get(i..i + n_in), output.get_mut(o..o + n_out)) {
        check(
            layer,
            irfft_i16(x, n_out, twiddles, super_twiddles, tmp, y),
            "SignalIrfft length or twiddles invalid",
        )?;
        i += n_in;
        o += n_out;
    }
    Ok(())
}

/// Kernel entry for [`Op::SignalIrfftF32`].
pub fn run_signal_irfft_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalIrfftF32);
    let twiddles = ctx.consts(p.twiddles)?;
    let super_twiddles = ctx.consts(p.super_twiddles)?;
    let layer = ctx.layer;
    let (inputs, [out], scratch) =
        ctx.split_outputs([p.output], p.scratch_offset, p.scratch_bytes)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    let tmp: &mut [f32] = cast_out(layer, scratch)?;
    let (n_in, n_out) = (p.input_length as usize, p.fft_length as usize);
    if n_in == 0 || n_out == 0 {
        return Err(ctx_err(layer, "SignalIrfft with an empty frame"));
    }
    check(
        layer,
        n_in >= n_out + 2
            && input.len().is_multiple_of(n_in)
            && output.len() == input.len() / n_in * n_out
            && tmp.len() >= n_out,
        "SignalIrfft sizes do not match",
    )?;
    let tmp = tmp.get_mut(..n_out).unwrap_or_default();
    let (mut i, mut o) = (0, 0);
    while let (Some(x), Some(y)) = (input.get(i..i + n_in), output.get_mut(o..o + n_out)) {
        check(
            layer,
            irfft_f32(x, n_out, twiddles, super_twiddles, tmp, y),
            "SignalIrfft length or twiddles invalid",
        )?;
        i += n_in;
        o += n_out;
    }
    Ok(())
}

/// Kernel entry for [`Op::SignalFramer`].
pub fn run_signal_framer(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalFramer);
    let layer = ctx.layer;
    let state = state_bytes(ctx, p.state)?;
    let (inputs, [out, valid], _) = ctx.split_outputs([p.output, p.output_valid], 0, 0)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    let (outer, step, frame, cap, frames) = (
        p.outer_dims as usize,
        p.frame_step as usize,
        p.frame_size as usize,
        p.capacity as usize,
        p.n_frames as usize,
    );
    let (counts, bufs) = state
        .split_at_mut_checked(outer * 4)
        .ok_or(ctx_err(layer, "SignalFramer state too small"))?;
    let counts: &mut [u32] = cast_out(layer, counts)?;
    let bufs: &mut [i16] = cast_out(layer, bufs)?;
    let (row_in, row_out) = (frames * step, frames * frame);
    check(
        layer,
        step > 0
            && frame > 0
            && cap > 0
            && counts.len() == outer
            && bufs.len() == outer * cap
            && input.len() == outer * row_in
            && output.len() == outer * row_out
            && valid.len() == 1,
        "SignalFramer sizes do not match",
    )?;
    let mut all = true;
    for (r, count) in counts.iter_mut().enumerate() {
        if let (Some(x), Some(y), Some(buf)) = (
            input.get(r * row_in..(r + 1) * row_in),
            output.get_mut(r * row_out..(r + 1) * row_out),
            bufs.get_mut(r * cap..(r + 1) * cap),
        ) {
            all &= framer_row(x, step, frame, buf, count, y);
        }
    }
    if let Some(v) = valid.first_mut() {
        *v = u8::from(all);
    }
    Ok(())
}

/// Kernel entry for [`Op::SignalStacker`].
pub fn run_signal_stacker(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalStacker);
    let layer = ctx.layer;
    let state = state_bytes(ctx, p.state)?;
    let (inputs, [out, valid], _) = ctx.split_outputs([p.output, p.output_valid], 0, 0)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    let (head, buf) = state
        .split_at_mut_checked(8)
        .ok_or(ctx_err(layer, "SignalStacker state too small"))?;
    let head: &mut [u32] = cast_out(layer, head)?;
    let buf: &mut [i16] = cast_out(layer, buf)?;
    check(
        layer,
        input.len() == p.num_channels as usize
            && output.len() == p.buffer_size as usize
            && buf.len() == output.len()
            && valid.len() == 1,
        "SignalStacker sizes do not match",
    )?;
    let [count, has_first] = head else {
        return Err(ctx_err(layer, "SignalStacker state too small"));
    };
    let ok = stacker(
        input,
        p.left_context as usize,
        p.step_size as usize,
        buf,
        count,
        has_first,
        output,
    );
    if let Some(v) = valid.first_mut() {
        *v = u8::from(ok);
    }
    Ok(())
}

/// Kernel entry for [`Op::SignalOverlapAdd`].
pub fn run_signal_overlap_add(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalOverlapAdd);
    let layer = ctx.layer;
    let state = state_bytes(ctx, p.state)?;
    let (inputs, out) = ctx.split(p.output)?;
    let (size, step, frames, outer) = (
        p.frame_size as usize,
        p.frame_step as usize,
        p.n_frames as usize,
        p.outer_dims as usize,
    );
    let n_in = outer * frames * size;
    let n_out = outer * frames * step;
    let bad = "SignalOverlapAdd sizes do not match";
    check(layer, size > 0 && step <= size, bad)?;
    macro_rules! run {
        ($t:ty, $f:ident) => {{
            let input: &[$t] = inputs.get(p.input)?;
            let output: &mut [$t] = cast_out(layer, out)?;
            let bufs: &mut [$t] = cast_out(layer, state)?;
            check(
                layer,
                input.len() == n_in && output.len() == n_out && bufs.len() == outer * size,
                bad,
            )?;
            for r in 0..outer {
                let Some(buf) = bufs.get_mut(r * size..(r + 1) * size) else {
                    return Err(ctx_err(layer, bad));
                };
                for f in 0..frames {
                    let k = r * frames + f;
                    if let (Some(x), Some(y)) = (
                        input.get(k * size..(k + 1) * size),
                        output.get_mut(k * step..(k + 1) * step),
                    ) {
                        $f(x, buf, y);
                    }
                }
            }
        }};
    }
    match p.dtype {
        SignalOverlapAddType::I16 => run!(i16, overlap_add_i16),
        SignalOverlapAddType::F32 => run!(f32, overlap_add_f32),
    }
    Ok(())
}

/// Kernel entry for [`Op::SignalDelay`].
pub fn run_signal_delay(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, SignalDelay);
    let layer = ctx.layer;
    let state = state_bytes(ctx, p.state)?;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[i16] = inputs.get(p.input)?;
    let output: &mut [i16] = cast_out(layer, out)?;
    let pending: &mut [i16] = cast_out(layer, state)?;
    let (n, d) = (p.frame_size as usize, p.delay_length as usize);
    if n == 0 {
        return Err(ctx_err(layer, "SignalDelay with an empty frame"));
    }
    let rows = input.len() / n;
    check(
        layer,
        input.len() == output.len() && input.len().is_multiple_of(n) && pending.len() == rows * d,
        "SignalDelay sizes do not match",
    )?;
    for r in 0..rows {
        if let (Some(x), Some(y), Some(q)) = (
            input.get(r * n..(r + 1) * n),
            output.get_mut(r * n..(r + 1) * n),
            pending.get_mut(r * d..(r + 1) * d),
        ) {
            delay_row(x, q, y);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec;
    use std::vec::Vec;

    /// A small deterministic generator.
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 11
    }

    /// `floor(sqrt(x))` rounded up when the remainder exceeds the root (TFLM's rounding).
    fn rounded_isqrt(x: u64) -> u64 {
        let mut r = (x as f64).sqrt() as u64;
        while r * r > x {
            r -= 1;
        }
        while (r + 1) * (r + 1) <= x {
            r += 1;
        }
        r + u64::from(x - r * r > r)
    }

    #[test]
    fn square_roots_round_to_nearest_with_tflms_caps() {
        let mut s = 7;
        for _ in 0..20_000 {
            let x = lcg(&mut s) as u32;
            assert_eq!(
                u64::from(sqrt32(x)),
                rounded_isqrt(u64::from(x)).min(0xFFFF),
                "{x}"
            );
            let y = (lcg(&mut s) << 20) | lcg(&mut s);
            if y >> 32 != 0 {
                assert_eq!(
                    u64::from(sqrt64(y)),
                    rounded_isqrt(y).min(0xFFFF_FFFF),
                    "{y}"
                );
            }
        }
        assert_eq!(sqrt32(0), 0);
        assert_eq!(
            sqrt32(u32::MAX),
            0xFFFF,
            "capped: the true rounding is 65536"
        );
        // Below 2^32 the 64-bit root takes the 32-bit shortcut and its cap ("a slight off by
        // one issue for numbers close to 2^32").
        assert_eq!(sqrt64((1 << 32) - 1), 0xFFFF);
        assert_eq!(sqrt64(1 << 32), 65536);
        assert_eq!(sqrt64(u64::MAX), 0xFFFF_FFFF);
        let mut out = [0u32; 3];
        filter_bank_sqrt(&[1 << 40, 1 << 40, 1 << 40], 3, &mut out);
        assert_eq!(out, [1 << 17; 3]);
        filter_bank_sqrt(&[1 << 40], 32, &mut out[..1]);
        assert_eq!(out[0], 0, "a shift past 31 leaves nothing");
    }

    #[test]
    fn fixed_point_log_tracks_ln_and_saturates() {
        // ln 2 in Q16 is 45426.09: the coefficient itself.
        assert_eq!(log32(2, 65536), 45426);
        let mut s = 3;
        for _ in 0..20_000 {
            let x = (lcg(&mut s) as u32).max(2) >> (lcg(&mut s) % 31);
            let x = x.max(2);
            let want = (f64::from(x)).ln() * 64.0;
            let got = f64::from(log32(x, 64));
            assert!((got - want).abs() <= 1.0, "ln({x}) * 64: {got} vs {want}");
        }
        let mut out = [7i16; 5];
        filter_bank_log(&[0, 1, 2, u32::MAX, 1 << 20], 30000, 3, &mut out);
        assert_eq!(out[0], 0);
        assert_eq!(
            out[1],
            log32(8, 30000).min(32767) as i16,
            "1 << 3 is above 1"
        );
        assert_eq!(out[2], log32(16, 30000).min(32767) as i16);
        filter_bank_log(&[1, 2, 100], 64, 0, &mut out[..3]);
        assert_eq!(out[..3], [0, log32(2, 64) as i16, log32(100, 64) as i16]);
        assert_eq!(out[3], log32(u32::MAX << 3, 30000).min(32767) as i16);
        // ln(2^23) * 30000 would saturate, but TFLM's `out_scale * loge` wraps in uint32
        // first (1,044,790 * 30000 mod 2^32), leaving 19519.
        assert_eq!(out[4], 19519);
        let loge = (45426u64 * (23 << 16) + (1 << 15)) >> 16;
        assert_eq!(((30000 * loge) % (1 << 32) + (1 << 15)) >> 16, 19519);
    }

    #[test]
    fn fft_auto_scale_uses_tflms_max_abs() {
        let mut out = [0i16; 4];
        assert_eq!(fft_auto_scale(&[0, 0, 0, 0], &mut out), 0);
        assert_eq!(fft_auto_scale(&[1, -1, 0, 1], &mut out), 14);
        assert_eq!(out, [1 << 14, -(1 << 14), 0, 1 << 14]);
        assert_eq!(fft_auto_scale(&[3, -200, 17, 5], &mut out), 7);
        assert_eq!(out, [3 << 7, -200 << 7, 17 << 7, 5 << 7]);
        // MaxAbs16 negates -32768 into -32768, whose widened MSB is 32: no shift at all ...
        assert_eq!(fft_auto_scale(&[5, 0, 0, -32768], &mut out), 0);
        // ... unless a later value replaces that (negative) maximum.
        assert_eq!(fft_auto_scale(&[-32768, 5, 0, 1], &mut out), 12);
        assert_eq!(out[0], 0, "-32768 << 12 wraps to 0 in int16");
    }

    fn cexp(phase: f64) -> [i16; 2] {
        let q = |v: f64| (0.5 + 32767.0 * v).floor() as i16;
        [q(phase.cos()), q(phase.sin())]
    }

    /// `fft_length / N`-scaled real FFT against a float DFT: kissfft's fixed-point stages
    /// divide by each radix, and the real split by 2 more, so bin `k` is `X[k] / N`.
    #[test]
    fn rfft_is_the_dft_scaled_by_one_over_n() {
        let pi = core::f64::consts::PI;
        for n in [4usize, 8, 16, 64, 128, 512] {
            let nc = n / 2;
            let tw: Vec<i16> = (0..nc)
                .flat_map(|i| cexp(-2.0 * pi * i as f64 / nc as f64))
                .collect();
            let stw: Vec<i16> = (0..nc / 2)
                .flat_map(|i| cexp(-pi * ((i + 1) as f64 / nc as f64 + 0.5)))
                .collect();
            let mut s = n as u64;
            let len = n - n / 8;
            let x: Vec<i16> = (0..len)
                .map(|_| (lcg(&mut s) % 60000) as i32 as i16)
                .collect();
            let x: Vec<i16> = x.iter().map(|&v| v / 2).collect();
            let mut out = vec![0i16; n + 2];
            assert!(rfft_i16(&x, n, &tw, &stw, &mut out));
            // Each of the log2(N) rounding stages errs by at most about one LSB.
            let tol = 2.0 + (n as f64).log2();
            for k in 0..=n / 2 {
                let (mut re, mut im) = (0.0, 0.0);
                for (t, &v) in x.iter().enumerate() {
                    let a = -2.0 * pi * (k * t) as f64 / n as f64;
                    re += f64::from(v) * a.cos();
                    im += f64::from(v) * a.sin();
                }
                let (gr, gi) = (f64::from(out[2 * k]), f64::from(out[2 * k + 1]));
                assert!(
                    (gr - re / n as f64).abs() <= tol && (gi - im / n as f64).abs() <= tol,
                    "N={n} bin {k}: ({gr}, {gi}) vs ({}, {})",
                    re / n as f64,
                    im / n as f64
                );
            }
        }
        let mut out = [0i16; 8];
        assert!(
            !rfft_i16(&[1, 2], 6, &[0; 6], &[0; 3], &mut out),
            "not a power of two"
        );
    }

    #[test]
    fn pcan_shrink_is_continuous_at_two_and_the_gain_reads_its_segment() {
        assert_eq!(pcan_shrink(2 << 12), 64, "x - 1 at x = 2 is 1.0 in Q6");
        assert_eq!(pcan_shrink((2 << 12) - 1), 63);
        assert_eq!(pcan_shrink(1 << 12), 16, "1² / 4 = 0.25");
        let lut: Vec<i16> = (0..125).map(|i| i as i16).collect();
        assert_eq!(wide_dynamic_function(2, &lut), 2, "x <= 2 reads the table");
        // x = 3: interval 2, segment at 4 * 2 - 6 = 2, frac = (3 << 9) & 0x3FF = 512.
        let r = ((4 * 512) >> 5) + (3 << 5);
        assert_eq!(
            wide_dynamic_function(3, &lut),
            (((r * 512) + (1 << 14)) >> 15) as i16 + 2
        );
    }
}
