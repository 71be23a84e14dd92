//! Fast paths per instruction set, chosen by `cfg(target_feature)`; each has the same
//! signature as the portable code it replaces and computes exactly the same results.

#[cfg(all(target_arch = "arm", feature = "dsp"))]
pub mod cortex_m_dsp;
