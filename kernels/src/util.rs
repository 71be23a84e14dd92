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
