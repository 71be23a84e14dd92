//! Which kernels a model runs with on this machine, and the host-only constant layouts they
//! want.
//!
//! Generated firmware code always uses the portable kernel entries (which pick fast paths by
//! `cfg(target_feature)` themselves). A model run *here* ([`crate::Options::host`]) uses the
//! best [`KernelSet`] this CPU supports, detected at run time, and its int8 convolutions are
//! re-laid out for it ([`ferrite_core::ops::Conv2dI8Packed`]).

use crate::consts::ConstPool;
use ferrite_core::ops::{Conv2dF32, Conv2dF32Packed, Conv2dI8Packed, Op};
pub use ferrite_kernels::registry::{Isa, KernelSet};

/// The instruction sets this CPU supports, fastest last (always starting with the portable
/// kernels).
pub fn supported() -> Vec<Isa> {
    let mut v = vec![Isa::Portable];
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("sse4.1") {
            v.push(Isa::Sse41);
        }
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            v.push(Isa::Avx2);
        }
        if std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx512bw")
            && std::is_x86_feature_detected!("avx512vl")
            && std::is_x86_feature_detected!("avx512vnni")
        {
            v.push(Isa::Avx512Vnni);
        }
    }
    #[cfg(target_arch = "aarch64")]
    {
        if std::arch::is_aarch64_feature_detected!("neon") {
            v.push(Isa::Neon);
        }
    }
    v
}

/// The kernel set for `isa`, if this CPU supports it.
pub fn for_isa(isa: Isa) -> Option<KernelSet> {
    // SAFETY: `supported` lists only instruction sets the CPU reports.
    supported()
        .contains(&isa)
        .then(|| unsafe { KernelSet::new_unchecked(isa) })
}

/// The fastest kernel set this CPU supports.
pub fn best() -> KernelSet {
    supported()
        .last()
        .and_then(|&isa| for_isa(isa))
        .unwrap_or(KernelSet::PORTABLE)
}

/// The kernel set named by the `FERRITE_KERNELS` environment variable (`portable`, `sse4.1`,
/// `avx2`, `avx512vnni`, `neon`), or [`best`] when it is unset. A name this CPU cannot run is
/// an error.
pub fn from_env() -> Result<KernelSet, String> {
    match std::env::var("FERRITE_KERNELS") {
        Ok(name) if !name.is_empty() => by_name(&name),
        _ => Ok(best()),
    }
}

/// The kernel set called `name` (as [`Isa::name`] spells it; `best` for [`best`]), if this CPU
/// runs it.
pub fn by_name(name: &str) -> Result<KernelSet, String> {
    if name == "best" {
        return Ok(best());
    }
    let isa = Isa::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Isa::ALL.iter().map(|i| i.name()).collect();
        format!(
            "unknown kernel set `{name}` (known: best, {})",
            names.join(", ")
        )
    })?;
    for_isa(isa).ok_or_else(|| format!("this CPU cannot run the `{name}` kernels"))
}

/// `op` with its constants re-laid out for `set` where the set wants that (dense
/// convolutions become [`Op::Conv2dI8Packed`] or [`Op::Conv2dF32Packed`]); any other op comes
/// back unchanged.
pub(crate) fn prepare(op: Op, pool: &mut ConstPool, set: KernelSet) -> Op {
    use ferrite_kernels::arch::pack::{pack_conv2d_i8, packed_conv_lens};
    if let Op::Conv2dF32(c) = op {
        return prepare_f32(c, pool, set).unwrap_or(op);
    }
    let Op::Conv2dI8(c) = op else {
        return op;
    };
    if !set.wants_packed_conv() || c.groups != 1 {
        return op;
    }
    let Some((wlen, blen)) = packed_conv_lens(&c.geom) else {
        return op;
    };
    let bytes = pool.bytes();
    let slice = |offset: u32, len: usize| bytes.get(offset as usize..offset as usize + len);
    let Some(weights) = slice(c.weights.offset, c.weights.len as usize) else {
        return op;
    };
    let weights: Vec<i8> = weights.iter().map(|&b| b as i8).collect();
    let Some(bias) = slice(c.bias.offset, 4 * c.bias.len as usize) else {
        return op;
    };
    let bias: Vec<i32> = bias
        .chunks_exact(4)
        .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let mut packed = vec![0i8; wlen];
    let mut folded = vec![0i32; blen];
    if !pack_conv2d_i8(&c, &weights, &bias, &mut packed, &mut folded) {
        return op;
    }
    Op::Conv2dI8Packed(Conv2dI8Packed {
        conv: c,
        packed_weights: pool.push_i8(&packed),
        folded_bias: pool.push_i32(&folded),
    })
}

/// A dense float convolution with its weights packed for `set`, if the set wants that and
/// the weights allow it (see `pack_conv2d_f32`).
fn prepare_f32(c: Conv2dF32, pool: &mut ConstPool, set: KernelSet) -> Option<Op> {
    use ferrite_kernels::arch::pack::{pack_conv2d_f32, packed_conv_f32_len};
    if !set.wants_packed_conv_f32() || c.groups != 1 {
        return None;
    }
    let len = packed_conv_f32_len(&c.geom)?;
    let bytes = pool.bytes();
    let start = c.weights.offset as usize;
    let raw = bytes.get(start..start.checked_add(4 * c.weights.len as usize)?)?;
    let weights: Vec<f32> = raw
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let mut packed = vec![0f32; len];
    if !pack_conv2d_f32(&c, &weights, &mut packed) {
        return None;
    }
    Some(Op::Conv2dF32Packed(Conv2dF32Packed {
        conv: c,
        packed_weights: pool.push_f32(&packed),
    }))
}
