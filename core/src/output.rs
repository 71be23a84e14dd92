//! Reading a model's output on the device: the best classes as a fixed-capacity list
//! ([`top_k`], `heapless`), and integer-only dequantization for cores without an FPU
//! ([`IoInfo::dequantize_fixed`], the `fixed` crate).

use crate::model::IoInfo;
use crate::{Error, Result};
use fixed::types::extra::LeEqU32;
use fixed::types::I32F32;
use fixed::FixedI32;

/// The `K` largest scores with their indices, best first; equal scores keep index order (the
/// lower index first, as `argmax` conventions do). Fewer than `K` entries when `scores` is
/// shorter. No heap: the result lives in a `heapless::Vec` of capacity `K`.
///
/// ```
/// let scores: [i8; 5] = [3, -7, 90, 3, 12];
/// let best = ferrite_core::top_k::<i8, 3>(&scores);
/// assert_eq!(best.as_slice(), &[(2, 90), (4, 12), (0, 3)]);
/// ```
pub fn top_k<T: PartialOrd + Copy, const K: usize>(scores: &[T]) -> heapless::Vec<(usize, T), K> {
    let mut best: heapless::Vec<(usize, T), K> = heapless::Vec::new();
    for (i, &s) in scores.iter().enumerate() {
        // Position after every kept score at least as large: ties stay in index order.
        let at = best.iter().take_while(|&&(_, b)| b >= s).count();
        if at == K {
            continue;
        }
        if best.is_full() {
            best.pop();
        }
        // Cannot fail: `at <= best.len() < K` after the pop above.
        let _ = best.insert(at, (i, s));
    }
    best
}

impl IoInfo {
    /// Dequantizes int8 values to fixed point, `(q - zero_point) * scale`, with integer
    /// arithmetic only (the scale's conversion from `f32` is bit manipulation, not float
    /// math): for Cortex-M0/M0+/M3 firmware, where [`IoInfo::dequantize`] would pull in
    /// software floating point. Each result is the exact product rounded to the nearest
    /// representable value of `FixedI32<Frac>` (ties away from zero), saturated at its range.
    ///
    /// ```
    /// use ferrite_core::{DType, model::IoInfo};
    /// use fixed::types::I16F16;
    /// const OUT: IoInfo = IoInfo { dtype: DType::I8, shape: &[1, 3], scale: 0.25, zero_point: -128 };
    /// let mut p = [I16F16::ZERO; 3];
    /// OUT.dequantize_fixed(&[-128, 0, 127], &mut p).unwrap();
    /// assert_eq!(p, [I16F16::ZERO, I16F16::from_num(32), I16F16::from_num(63.75)]);
    /// ```
    pub fn dequantize_fixed<Frac: LeEqU32>(
        &self,
        q: &[i8],
        out: &mut [FixedI32<Frac>],
    ) -> Result<()> {
        if q.len() != out.len() {
            return Err(Error::InputLength {
                expected: q.len(),
                actual: out.len(),
            });
        }
        // 32 fraction bits hold every int8 tensor's scale to ~1e-9 relative (scales are
        // far above 2^-32 and below 2^31); a scale outside that range is not a valid model's.
        let Some(scale) = I32F32::checked_from_num(self.scale) else {
            return Err(Error::InvalidModel {
                reason: "scale outside the range of 32.32 fixed point",
            });
        };
        for (o, &v) in out.iter_mut().zip(q) {
            let centered = i64::from(v) - i64::from(self.zero_point);
            // |centered| < 2^32 and |scale| < 2^31: the product's bits fit in i128 exactly.
            let product = i128::from(centered) * i128::from(scale.to_bits());
            // Product has 32 fraction bits; keep Frac of them, rounding to nearest.
            let drop = 32 - Frac::U32;
            let rounded = if drop == 0 {
                product
            } else {
                let half = 1i128 << (drop - 1);
                let magnitude = (product.abs() + half) >> drop;
                if product < 0 {
                    -magnitude
                } else {
                    magnitude
                }
            };
            let bits = rounded.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
            *o = FixedI32::from_bits(bits);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DType;
    use fixed::types::{I16F16, I1F31, I32F0};

    /// `top_k` against sorting all indices by (score descending, index ascending).
    #[test]
    fn top_k_equals_a_stable_sort() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for n in 0..40 {
            let scores: [i8; 40] = core::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state % 7) as i8 - 3 // many ties
            });
            let scores = &scores[..n];
            let mut order: [usize; 40] = core::array::from_fn(|i| i);
            let order = &mut order[..n];
            order.sort_by(|&a, &b| scores[b].cmp(&scores[a]).then(a.cmp(&b)));
            let best = top_k::<i8, 5>(scores);
            assert_eq!(best.len(), n.min(5));
            for (k, &(i, s)) in best.iter().enumerate() {
                assert_eq!((i, s), (order[k], scores[order[k]]), "n={n} k={k}");
            }
        }
        assert!(top_k::<f32, 0>(&[1.0]).is_empty());
    }

    /// Every int8 value and zero point against the exact rational product, rounded.
    #[test]
    fn dequantize_fixed_rounds_the_exact_product() {
        for &(scale, zp) in &[(0.25f32, -128), (0.003_921_569, 0), (0.1, 3), (1e-6, -5)] {
            let info = IoInfo {
                dtype: DType::I8,
                shape: &[256],
                scale,
                zero_point: zp,
            };
            let q: [i8; 256] = core::array::from_fn(|i| i as u8 as i8);
            let mut out = [I16F16::ZERO; 256];
            info.dequantize_fixed(&q, &mut out).unwrap();
            let s = I32F32::from_num(scale).to_num::<f64>();
            for (&v, &o) in q.iter().zip(&out) {
                let exact = (i32::from(v) - zp) as f64 * s * 65536.0;
                assert!(
                    (o.to_bits() as f64 - exact).abs() <= 0.5,
                    "{scale} {zp} {v}"
                );
            }
        }
        // Saturation at the type's range and integer outputs.
        let big = IoInfo {
            dtype: DType::I8,
            shape: &[2],
            scale: 1000.0,
            zero_point: 0,
        };
        let mut f = [I1F31::ZERO; 2];
        big.dequantize_fixed(&[127, -128], &mut f).unwrap();
        assert_eq!(f, [I1F31::MAX, I1F31::MIN]);
        let mut i = [I32F0::ZERO; 2];
        big.dequantize_fixed(&[127, -128], &mut i).unwrap();
        assert_eq!(i, [I32F0::from_num(127_000), I32F0::from_num(-128_000)]);
        assert!(big.dequantize_fixed(&[1], &mut i).is_err());
    }
}
