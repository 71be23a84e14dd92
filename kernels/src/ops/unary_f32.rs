//! Float elementwise functions, each with the formula TFLite Micro's float kernel uses: the
//! activations RELU, RELU6, RELU_N1_TO_1, LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU and ELU, and
//! the math operators ABS, NEG, SQRT, RSQRT, SQUARE, EXP, LOG, SIN, COS, FLOOR, CEIL and
//! ROUND.
//!
//! TFLM calls the C library's single-precision functions (`std::exp(float)` is `expf`); here
//! they are `libm`'s, which agree to within an ulp or so (results are compared within 1e-5
//! relative). The exact operations (ABS, NEG, SQUARE, SQRT, FLOOR, CEIL, ROUND, and the
//! divide of RSQRT) are bit for bit.

use crate::util::{check_len, expect_op};
use ferrite_core::model::cast_out;
use ferrite_core::ops::{Op, UnaryKind};
use ferrite_core::{Ctx, Result};

/// Kernel entry for [`Op::UnaryF32`].
pub fn run_unary_f32(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, UnaryF32);
    let layer = ctx.layer;
    let (inputs, out) = ctx.split(p.output)?;
    let input: &[f32] = inputs.get(p.input)?;
    let output: &mut [f32] = cast_out(layer, out)?;
    check_len(
        layer,
        input.len() as u64,
        output.len() as u64,
        "input and output sizes differ",
    )?;
    unary_f32(p.kind, input, output);
    Ok(())
}

/// Reference float activation over `min(input.len(), output.len())` elements.
///
/// * RELU, RELU6: TFLM `ReluFloat` / `Relu6Float` (`x < 0 ? 0 : x`, then `x > 6 ? 6 : ...`),
///   so NaN passes through.
/// * RELU_N1_TO_1: TFLM has no kernel; TFLite's `Relu1` clamps the same way to `[-1, 1]`.
/// * LOGISTIC: TFLite's float reference: 1 above 16.619047, `exp(x)` below -9, else
///   `1 / (1 + exp(-x))`, all in `f32`.
/// * TANH: `tanhf`.
/// * HARD_SWISH: `x * min(6, max(0, x + 3)) / 6` in `f32`, multiplied before dividing.
/// * LEAKY_RELU: `x > 0 ? x : x * alpha` (alpha may exceed 1 or be negative).
/// * ELU: `x < 0 ? expm1(x) : x` (`reference_ops::Elu`).
/// * ABS, NEG, SQRT, SQUARE (`x * x`), EXP, LOG, SIN, COS, FLOOR, CEIL: the `f32` function.
/// * RSQRT: `1 / sqrt(x)`, divided in `f32`.
/// * ROUND: half to even, as TFLM's `RoundToNearest` (from `floor` and the difference).
pub fn unary_f32(kind: UnaryKind, input: &[f32], output: &mut [f32]) {
    let f: fn(f32, f32) -> f32 = match kind {
        UnaryKind::Relu => |x, _| if x < 0.0 { 0.0 } else { x },
        UnaryKind::Relu6 => |x, _| clamp_like_tflite(x, 0.0, 6.0),
        UnaryKind::ReluN1To1 => |x, _| clamp_like_tflite(x, -1.0, 1.0),
        UnaryKind::Logistic => |x, _| logistic_f32(x),
        UnaryKind::Tanh => |x, _| libm::tanhf(x),
        UnaryKind::HardSwish => |x, _| x * min_f32(6.0, max_f32(0.0, x + 3.0)) / 6.0,
        UnaryKind::LeakyRelu(_) => |x, alpha| if x > 0.0 { x } else { x * alpha },
        UnaryKind::Elu => |x, _| if x < 0.0 { libm::expm1f(x) } else { x },
        UnaryKind::Abs => |x, _| libm::fabsf(x),
        UnaryKind::Neg => |x, _| -x,
        UnaryKind::Sqrt => |x, _| libm::sqrtf(x),
        UnaryKind::Rsqrt => |x, _| 1.0 / libm::sqrtf(x),
        UnaryKind::Square => |x, _| x * x,
        UnaryKind::Exp => |x, _| libm::expf(x),
        UnaryKind::Log => |x, _| libm::logf(x),
        UnaryKind::Sin => |x, _| libm::sinf(x),
        UnaryKind::Cos => |x, _| libm::cosf(x),
        UnaryKind::Floor => |x, _| libm::floorf(x),
        UnaryKind::Ceil => |x, _| libm::ceilf(x),
        UnaryKind::Round => |x, _| round_half_even_f32(x),
    };
    let alpha = match kind {
        UnaryKind::LeakyRelu(alpha) => alpha,
        _ => 0.0,
    };
    for (o, &x) in output.iter_mut().zip(input) {
        *o = f(x, alpha);
    }
}

/// TFLM's `RoundToNearest`: `floor(x)`, plus one when the fraction exceeds one half or is one
/// half above an odd integer. (The fraction is exactly one half only below `2^23`, so the
/// conversion to `i32` that tests the parity is exact.)
#[inline(always)]
fn round_half_even_f32(x: f32) -> f32 {
    let floor = libm::floorf(x);
    let diff = x - floor;
    if diff < 0.5 || (diff == 0.5 && (floor as i32) % 2 == 0) {
        floor
    } else {
        floor + 1.0
    }
}

/// `x > hi ? hi : x < lo ? lo : x`, as TFLM's `Relu6Float`.
#[inline(always)]
fn clamp_like_tflite(x: f32, lo: f32, hi: f32) -> f32 {
    if x > hi {
        hi
    } else if x < lo {
        lo
    } else {
        x
    }
}

/// `std::min(a, b)`: `b < a ? b : a`.
#[inline(always)]
fn min_f32(a: f32, b: f32) -> f32 {
    if b < a {
        b
    } else {
        a
    }
}

/// `std::max(a, b)`: `a < b ? b : a`.
#[inline(always)]
fn max_f32(a: f32, b: f32) -> f32 {
    if a < b {
        b
    } else {
        a
    }
}

/// TFLite's float logistic (`reference_ops::Logistic`), whose cut-offs avoid `exp` overflow
/// and match the optimized kernels.
#[inline]
pub(crate) fn logistic_f32(x: f32) -> f32 {
    const CUTOFF_UPPER: f32 = 16.619_047;
    const CUTOFF_LOWER: f32 = -9.0;
    if x > CUTOFF_UPPER {
        1.0
    } else if x < CUTOFF_LOWER {
        libm::expf(x)
    } else {
        1.0 / (1.0 + libm::expf(-x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::ops::UnaryF32;
    use ferrite_core::{Arena, DType, Error, Layer, Model, Shape, Tensor, TensorId};

    fn apply(kind: UnaryKind, input: &[f32; 6]) -> [f32; 6] {
        let mut out = [0f32; 6];
        unary_f32(kind, input, &mut out);
        out
    }

    const X: [f32; 6] = [-10.0, -3.0, -0.5, 0.0, 0.5, 20.0];

    #[test]
    fn piecewise_linear_activations() {
        assert_eq!(apply(UnaryKind::Relu, &X), [0.0, 0.0, 0.0, 0.0, 0.5, 20.0]);
        assert_eq!(apply(UnaryKind::Relu6, &X), [0.0, 0.0, 0.0, 0.0, 0.5, 6.0]);
        assert_eq!(
            apply(UnaryKind::ReluN1To1, &X),
            [-1.0, -1.0, -0.5, 0.0, 0.5, 1.0]
        );
        assert_eq!(
            apply(UnaryKind::LeakyRelu(0.1), &X),
            [-1.0, -0.3, -0.05, 0.0, 0.5, 20.0]
        );
        assert_eq!(
            apply(UnaryKind::HardSwish, &X),
            [-0.0, -0.0, -0.5 * 2.5 / 6.0, 0.0, 0.5 * 3.5 / 6.0, 20.0]
        );
    }

    #[test]
    fn smooth_activations_track_f64() {
        let s = apply(UnaryKind::Logistic, &X);
        let t = apply(UnaryKind::Tanh, &X);
        for i in 0..6 {
            let x = X[i] as f64;
            // TFLite's approximation: exp(x) itself below -9.
            let ls = if x < -9.0 {
                x.exp()
            } else {
                1.0 / (1.0 + (-x).exp())
            };
            assert!(((s[i] as f64 - ls) / ls).abs() < 1e-6, "logistic({x})");
            assert!(
                (t[i] as f64 - x.tanh()).abs() <= 1e-6 * x.tanh().abs(),
                "tanh({x})"
            );
        }
        assert_eq!(apply(UnaryKind::Logistic, &X)[5], 1.0);
    }

    #[test]
    fn rounding_functions() {
        let x = [-2.5f32, -1.5, -0.5, 0.5, 1.5, 2.5];
        assert_eq!(
            apply(UnaryKind::Round, &x),
            [-2.0, -2.0, -0.0, 0.0, 2.0, 2.0]
        );
        let y = [-2.7f32, -0.2, 0.0, 0.3, 1.0, 9.99];
        assert_eq!(
            apply(UnaryKind::Floor, &y),
            [-3.0, -1.0, 0.0, 0.0, 1.0, 9.0]
        );
        assert_eq!(
            apply(UnaryKind::Ceil, &y),
            [-2.0, -0.0, 0.0, 1.0, 1.0, 10.0]
        );
        assert_eq!(
            apply(UnaryKind::Round, &[2.6, -2.6, 3.5, 4.5, 1e9, -7.0]),
            [3.0, -3.0, 4.0, 4.0, 1e9, -7.0]
        );
    }

    #[test]
    fn exact_math_functions() {
        assert_eq!(apply(UnaryKind::Abs, &X), [10.0, 3.0, 0.5, 0.0, 0.5, 20.0]);
        assert_eq!(
            apply(UnaryKind::Neg, &X),
            [10.0, 3.0, 0.5, -0.0, -0.5, -20.0]
        );
        assert_eq!(
            apply(UnaryKind::Square, &X),
            [100.0, 9.0, 0.25, 0.0, 0.25, 400.0]
        );
        let sq = [0.25f32, 4.0, 16.0, 0.0, 1.0, 100.0];
        assert_eq!(apply(UnaryKind::Sqrt, &sq), [0.5, 2.0, 4.0, 0.0, 1.0, 10.0]);
        assert_eq!(
            apply(UnaryKind::Rsqrt, &sq),
            [2.0, 0.5, 0.25, f32::INFINITY, 1.0, 0.1]
        );
    }

    #[test]
    fn transcendental_functions_track_f64() {
        type Reference = fn(f64) -> f64;
        let kinds: [(UnaryKind, Reference); 5] = [
            (UnaryKind::Exp, f64::exp),
            (UnaryKind::Sin, f64::sin),
            (UnaryKind::Cos, f64::cos),
            (UnaryKind::Elu, |x| if x < 0.0 { x.exp_m1() } else { x }),
            (UnaryKind::Log, |x| x.abs().ln()),
        ];
        for (kind, f) in kinds {
            let input = if kind == UnaryKind::Log {
                X.map(f32::abs)
            } else {
                X
            };
            let got = apply(kind, &input);
            for (i, &x) in input.iter().enumerate() {
                let want = f(x as f64);
                let tol = 1e-6 * want.abs().max(1e-30);
                assert!(
                    (got[i] as f64 - want).abs() <= tol || (x == 0.0 && kind == UnaryKind::Log),
                    "{kind:?}({x}): {} vs {want}",
                    got[i]
                );
            }
        }
    }

    fn run_model(len: u32) -> ferrite_core::Result<[f32; 3]> {
        let tensor = |offset, n| Tensor {
            offset,
            dtype: DType::F32,
            shape: Shape::new(&[1, n]),
            scale: 0.0,
            zero_point: 0,
        };
        let tensors = [tensor(0, 3), tensor(16, len)];
        let layers = [Layer {
            op: Op::UnaryF32(UnaryF32 {
                input: TensorId(0),
                output: TensorId(1),
                kind: UnaryKind::Relu6,
            }),
            kernel: run_unary_f32,
            name: "RELU6",
        }];
        let model = Model {
            tensors: &tensors,
            layers: &layers,
            consts: &[],
            inputs: &[TensorId(0)],
            outputs: &[TensorId(1)],
            arena_bytes: 32,
            state: ferrite_core::StatePlan::NONE,
        };
        let mut arena = Arena::<32>::new();
        model.set_input(arena.as_mut_slice(), 0, &[-1.0f32, 2.0, 7.0])?;
        model.invoke(arena.as_mut_slice())?;
        let out: &[f32] = model.output(arena.as_mut_slice(), 0)?;
        let mut result = [0f32; 3];
        result.copy_from_slice(out);
        Ok(result)
    }

    #[test]
    fn kernel_entry_runs_in_a_model() {
        assert_eq!(run_model(3).unwrap(), [0.0, 2.0, 6.0]);
        assert_eq!(
            run_model(2).unwrap_err(),
            Error::InvalidLayer {
                layer: 0,
                reason: "input and output sizes differ"
            }
        );
    }
}
