//! Small helpers shared by the kernel entries.

use ferrite_core::{Error, Result};

/// Extracts the parameters of the expected [`ferrite_core::Op`] variant or returns an error
/// naming the layer.
macro_rules! expect_op {
    ($ctx:expr, $op:expr, $variant:ident) => {
        match $op {
            ferrite_core::Op::$variant(p) => p,
            _ => {
                return Err($ctx.error(concat!(
                    "kernel for ",
                    stringify!($variant),
                    " run on another operator"
                )))
            }
        }
    };
}
pub(crate) use expect_op;

/// In a build whose static target features enable a fast-path instruction set
/// ([`crate::arch::KernelSet::STATIC`], e.g. `-C target-feature=+avx2,+fma` in a `no_std`
/// build), returns from the portable kernel entry through that set's entry for the op, if it
/// has one. Compiles to nothing elsewhere (every Cortex-M build, a default x86-64 build).
/// Only an op of the entry's own `$variant` is forwarded (any other gets the entry's error).
macro_rules! forward_static {
    ($ctx:expr, $op:expr, $variant:ident) => {
        #[cfg(any(
            all(target_arch = "x86_64", target_feature = "sse4.1"),
            all(target_arch = "aarch64", target_feature = "neon")
        ))]
        {
            if let (ferrite_core::Op::$variant(_), Some(e)) = (
                $op,
                crate::arch::fast_entry($op, crate::arch::KernelSet::STATIC),
            ) {
                return (e.run)($ctx, $op);
            }
        }
    };
}
pub(crate) use forward_static;

/// `Err(InvalidLayer)` unless `actual == expected`.
#[inline]
pub(crate) fn check_len(
    layer: u16,
    actual: u64,
    expected: u64,
    reason: &'static str,
) -> Result<()> {
    if actual != expected {
        return Err(Error::InvalidLayer { layer, reason });
    }
    Ok(())
}

/// Product of `dims`, or `u64::MAX` (which no slice length equals) if it overflows.
pub(crate) fn product(dims: &[u32]) -> u64 {
    dims.iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .unwrap_or(u64::MAX)
}

/// Checks a convolution's strides and dilations: non-zero, and small enough that
/// [`crate::ops::conv::tap`] computes the farthest tap (`out * stride + k * dilation`) in
/// `u32` without overflowing.
pub(crate) fn check_conv_reach(layer: u16, g: &ferrite_core::ops::ConvGeometry) -> Result<()> {
    if g.stride_h == 0 || g.stride_w == 0 || g.dilation_h == 0 || g.dilation_w == 0 {
        return Err(Error::InvalidLayer {
            layer,
            reason: "zero stride or dilation",
        });
    }
    let reach = |out: u32, stride: u32, k: u32, dilation: u32| {
        (out.saturating_sub(1) as u64 * stride as u64)
            .checked_add(k.saturating_sub(1) as u64 * dilation as u64)
            .is_some_and(|r| r <= u32::MAX as u64)
    };
    if !reach(g.out_h, g.stride_h, g.k_h, g.dilation_h)
        || !reach(g.out_w, g.stride_w, g.k_w, g.dilation_w)
    {
        return Err(Error::InvalidLayer {
            layer,
            reason: "stride or dilation too large for the geometry",
        });
    }
    Ok(())
}

/// Checks that the input and output tensors hold exactly the elements a convolution's
/// geometry describes.
pub(crate) fn check_conv_activations(
    layer: u16,
    g: &ferrite_core::ops::ConvGeometry,
    input: usize,
    output: usize,
) -> Result<()> {
    check_len(
        layer,
        input as u64,
        product(&[g.batches, g.in_h, g.in_w, g.in_c]),
        "input size does not match the geometry",
    )?;
    check_len(
        layer,
        output as u64,
        product(&[g.batches, g.out_h, g.out_w, g.out_c]),
        "output size does not match the geometry",
    )
}

/// Checks one multiplier and one shift per channel, with shifts in `-31..=31` (a larger
/// right shift would break the rounding divide's precondition; no converter emits one).
pub(crate) fn check_requant(
    layer: u16,
    channels: usize,
    multiplier: &[i32],
    shift: &[i32],
) -> Result<()> {
    if multiplier.len() != channels || shift.len() != channels {
        return Err(Error::InvalidLayer {
            layer,
            reason: "need one multiplier and shift per output channel",
        });
    }
    if shift.iter().any(|s| !(-31..=31).contains(s)) {
        return Err(Error::InvalidLayer {
            layer,
            reason: "requantization shift out of range",
        });
    }
    Ok(())
}

/// `o` unchanged, with its `None` marked unlikely for the optimiser: a checked slice in a hot
/// loop fails no more often than the panicking index it replaces (never, past the entry's
/// checks), and the panic's `#[cold]` path is what kept LLVM's block layout and registers for
/// the loop. Use as `likely(s.get(r))?`.
#[inline(always)]
pub(crate) fn likely<T>(o: Option<T>) -> Option<T> {
    if o.is_none() {
        cold();
    }
    o
}

/// The branch that calls this is unlikely.
#[cold]
#[inline(never)]
fn cold() {}
