//! aarch64 fast paths (NEON, which every aarch64 CPU has).
//!
//! Compile-checked in CI (`cargo check --target aarch64-unknown-linux-gnu`); the x86 CI
//! machines cannot run them, so they are kept simple: exact 16/32-bit integer arithmetic
//! whose result does not depend on the summation order, and the scalar reference
//! requantization.

pub(crate) mod fully_connected;

use crate::registry::KernelEntry;
use ferrite_core::Op;

/// The NEON entry for `op`, if there is one.
pub(crate) fn entry(op: &Op) -> Option<KernelEntry> {
    match op {
        Op::FullyConnectedI8(_) => Some(KernelEntry {
            run: fully_connected::run_fully_connected_i8_neon,
            path: "ferrite_kernels::arch::aarch64::fully_connected::run_fully_connected_i8_neon",
        }),
        _ => None,
    }
}
