//! Fast paths: Cortex-M DSP (`cortex_m_dsp`, on microcontrollers), and for desktop and server
//! CPUs x86-64 (SSE4.1, AVX2, AVX-512 with VNNI) and aarch64 (NEON).
//!
//! Every fast path computes exactly what its operator's reference function computes (int8 bit
//! for bit; the property tests in each module compare them on random shapes, parameters and
//! values). A fast path that meets parameters it was not written for (grouped convolutions,
//! depth multipliers above 1, broadcasts...) runs the reference function instead.
//!
//! Which set runs is a [`KernelSet`]: the host tools detect the CPU at run time and ask
//! [`crate::registry::kernel_for_set`] for each layer's entry; a `no_std` build compiled with
//! the features enabled (`-C target-feature=+avx2`) gets [`KernelSet::STATIC`].

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;
/// ARMv6-M (Cortex-M0/M0+) inner loops of the no-DSP kernels.
#[cfg(all(target_arch = "arm", ferrite_armv6m, not(feature = "dsp")))]
pub mod armv6m;
/// ARMv7-M without the DSP extension (Cortex-M3): the GEMM's inner loop in Thumb-2 assembly.
#[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
pub mod armv7m;
/// ARMv7-M without the DSP extension (Cortex-M3): the 3x3 depthwise inner loops in Thumb-2
/// assembly (LLVM spills the portable loop's weights there).
#[cfg(all(target_arch = "arm", not(feature = "dsp"), not(ferrite_armv6m)))]
pub mod armv7m_depthwise;
/// Cortex-M DSP extension kernels (enable the `dsp` feature: stable Rust does not expose Arm's
/// `dsp` target feature to `cfg`).
#[cfg(all(target_arch = "arm", feature = "dsp"))]
pub mod cortex_m_dsp;
/// Helium (MVE) kernels for the Cortex-M55 (enable the `helium` feature and build with
/// `-C target-cpu=cortex-m55`: stable Rust does not expose MVE to `cfg`).
#[cfg(all(target_arch = "arm", feature = "helium"))]
pub mod helium;
/// Arm's `SMMULR` (the rounded high word of `a * b`): one instruction with the DSP extension,
/// [`smmulr_halves`] on ARMv6-M (no 64-bit multiply), the portable 64-bit expression
/// elsewhere; equal either way.
#[inline(always)]
pub fn smmulr(a: i32, b: i32) -> i32 {
    #[cfg(all(target_arch = "arm", feature = "dsp"))]
    return cortex_m_dsp::smmulr(a, b);
    #[cfg(all(ferrite_armv6m, not(feature = "dsp")))]
    return smmulr_halves(a, b);
    #[cfg(not(any(all(target_arch = "arm", feature = "dsp"), ferrite_armv6m)))]
    return ferrite_core::fixed::smmulr(a, b);
}

/// Keeps LLVM from unrolling the loop this is called in, at no run-time cost (an empty
/// `asm!` block emits no instruction). LLVM unrolls every small loop four times on M-class
/// cores; in a register-blocked inner loop that multiplies the live pointers beyond the 13
/// registers and spills accumulators. A loop holding a call (an `asm!` block counts as one)
/// is left as written.
#[inline(always)]
pub fn no_unroll() {
    #[cfg(target_arch = "arm")]
    // SAFETY: the block is empty: it reads, writes and changes nothing (`nomem`, `nostack`,
    // `preserves_flags`).
    unsafe {
        core::arch::asm!("", options(nomem, nostack, preserves_flags))
    };
}

/// [`ferrite_core::fixed::smmulr`] from 32-bit multiplies of 16-bit halves (four `MULS`):
/// on ARMv6-M the 64-bit expression becomes a call to the runtime's 64x64-bit multiply.
///
/// With `a = a1 2^16 + a0` and `b = b1 2^16 + b0` (`a0`, `b0` unsigned), the 64-bit product's
/// high word is `a1 b1` plus the carries of the middle terms, and its low word's top bit (the
/// rounding carry of `+ 2^31`) is bit 15 of the second middle sum. No step overflows: each
/// mixed product is within `±32768 * 65535`, and the added low halves keep it below `2^31`.
#[inline(always)]
pub fn smmulr_halves(a: i32, b: i32) -> i32 {
    let (a0, a1) = (a & 0xffff, a >> 16);
    let (b0, b1) = (b & 0xffff, b >> 16);
    let low = (a0 as u32 * b0 as u32) >> 16;
    let mid = a1 * b0 + low as i32;
    let mid2 = a0 * b1 + (mid & 0xffff);
    a1 * b1 + (mid >> 16) + (mid2 >> 16) + ((mid2 >> 15) & 1)
}
pub mod pack;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

use ferrite_core::Op;

/// An instruction set Ferrite has kernels for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Portable Rust: the reference kernels, on any target.
    Portable,
    /// x86-64 with SSE4.1.
    Sse41,
    /// x86-64 with AVX2 and FMA.
    Avx2,
    /// x86-64 with AVX-512 F/BW/VL and VNNI (Ice Lake and later, Zen 4 and later).
    Avx512Vnni,
    /// aarch64 with NEON (Advanced SIMD, part of every aarch64 CPU).
    Neon,
}

impl Isa {
    /// Every instruction set, for parsing and listing.
    pub const ALL: [Isa; 5] = [
        Isa::Portable,
        Isa::Sse41,
        Isa::Avx2,
        Isa::Avx512Vnni,
        Isa::Neon,
    ];

    /// Short name (`portable`, `sse4.1`, `avx2`, `avx512vnni`, `neon`).
    pub const fn name(self) -> &'static str {
        match self {
            Isa::Portable => "portable",
            Isa::Sse41 => "sse4.1",
            Isa::Avx2 => "avx2",
            Isa::Avx512Vnni => "avx512vnni",
            Isa::Neon => "neon",
        }
    }

    /// The instruction set named `name` (as [`Isa::name`] spells it).
    pub fn from_name(name: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|i| i.name() == name)
    }
}

impl core::fmt::Display for Isa {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of kernels that the running CPU can execute.
///
/// Holding a `KernelSet` other than [`KernelSet::PORTABLE`] or [`KernelSet::STATIC`] is a
/// promise that the CPU has the set's instructions: the entries [`crate::registry`] hands out
/// for it execute them without checking. Only [`KernelSet::new_unchecked`] makes such a promise,
/// so safe code cannot reach an illegal instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KernelSet {
    isa: Isa,
}

impl KernelSet {
    /// The reference kernels, valid everywhere.
    pub const PORTABLE: KernelSet = KernelSet { isa: Isa::Portable };

    /// The best set this build's *static* target features guarantee (`-C target-feature` or
    /// `-C target-cpu`): what a `no_std` build gets without run-time detection.
    pub const STATIC: KernelSet = KernelSet { isa: static_isa() };

    /// A set for `isa` without checking the CPU.
    ///
    /// # Safety
    /// The CPU running any kernel of the returned set must support `isa` (for x86, detect it
    /// with `is_x86_feature_detected!`: `sse4.1`; `avx2` and `fma`; or `avx512f`, `avx512bw`,
    /// `avx512vl` and `avx512vnni`), and `isa` must belong to the target architecture (a
    /// foreign one simply falls back to the portable kernels).
    pub const unsafe fn new_unchecked(isa: Isa) -> KernelSet {
        KernelSet { isa }
    }

    /// The instruction set.
    pub const fn isa(self) -> Isa {
        self.isa
    }

    /// Whether this set runs [`Op::Conv2dI8Packed`] faster than the plain convolution, i.e.
    /// whether a converter targeting it should pack int8 convolutions.
    pub const fn wants_packed_conv(self) -> bool {
        match self.isa {
            Isa::Portable => false,
            Isa::Sse41 | Isa::Avx2 | Isa::Avx512Vnni => cfg!(target_arch = "x86_64"),
            // The NEON convolution reads the plain layout.
            Isa::Neon => false,
        }
    }

    /// Whether this set runs [`Op::Conv2dF32Packed`] faster than the plain convolution, i.e.
    /// whether a converter targeting it should pack float convolutions.
    pub const fn wants_packed_conv_f32(self) -> bool {
        match self.isa {
            Isa::Avx2 | Isa::Avx512Vnni => cfg!(target_arch = "x86_64"),
            Isa::Portable | Isa::Sse41 | Isa::Neon => false,
        }
    }
}

const fn static_isa() -> Isa {
    if cfg!(all(
        target_arch = "x86_64",
        target_feature = "avx512f",
        target_feature = "avx512bw",
        target_feature = "avx512vl",
        target_feature = "avx512vnni"
    )) {
        Isa::Avx512Vnni
    } else if cfg!(all(
        target_arch = "x86_64",
        target_feature = "avx2",
        target_feature = "fma"
    )) {
        Isa::Avx2
    } else if cfg!(all(target_arch = "x86_64", target_feature = "sse4.1")) {
        Isa::Sse41
    } else if cfg!(all(target_arch = "aarch64", target_feature = "neon")) {
        Isa::Neon
    } else {
        Isa::Portable
    }
}

/// The fast entry for `op` in `set`, if the set has one.
pub(crate) fn fast_entry(op: &Op, set: KernelSet) -> Option<crate::registry::KernelEntry> {
    // Unused on targets without fast paths (Cortex-M).
    let _ = op;
    match set.isa {
        Isa::Portable => None,
        #[cfg(target_arch = "x86_64")]
        Isa::Sse41 | Isa::Avx2 | Isa::Avx512Vnni => x86::entry(op, set.isa),
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => aarch64::entry(op),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The 16-bit-halves `SMMULR` equals the 64-bit one on random and extreme operands.
        #[test]
        fn smmulr_halves_is_smmulr(
            a in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), -70_000i32..70_000],
            b in prop_oneof![any::<i32>(), Just(i32::MIN), Just(i32::MAX), -70_000i32..70_000],
        ) {
            prop_assert_eq!(super::smmulr_halves(a, b), ferrite_core::fixed::smmulr(a, b));
        }
    }
}
