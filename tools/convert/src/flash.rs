//! Flash: which layers keep int8 weights ([`Int8Weights`]) and the estimate of a converted
//! model's flash (constants plus code, [`estimate`]).

use crate::code_sizes::{BASE, MODULES};
use crate::Target;
use std::collections::BTreeSet;

/// Code bytes assumed for a kernel module no measured firmware linked
/// (`tools/bench/code_sizes.py` measures the modules the shared models use).
pub const UNMEASURED_MODULE_BYTES: usize = 4608;

/// The table rows of `target`: the Cortex-M boards' own; portable conversions are priced as
/// Cortex-M4 (thumbv7em) code, the portable kernels' modules from the same builds.
fn table_key(target: Target) -> &'static str {
    match target {
        Target::Portable | Target::CortexMDsp => "cortex-m-dsp",
        Target::CortexMNoDsp => "cortex-m-nodsp",
        Target::Helium => "helium",
    }
}

/// The kernel module of a kernel path (`ferrite_kernels::ops::gemm::run_conv_gemm_i8` →
/// `gemm`) and its kind: `f32` for a float kernel (`run_binary_f32`), else `int`.
fn module_of(path: &str) -> (&str, &str) {
    let module = path.rsplit("::").nth(1).unwrap_or(path);
    (module, if path.ends_with("_f32") { "f32" } else { "int" })
}

/// Bytes of code `module`'s kernels of `kind` take on `target`: the measured size, else the
/// largest measured for the kind on another target, else for any kind, else
/// [`UNMEASURED_MODULE_BYTES`].
fn module_bytes(target: Target, (module, kind): (&str, &str)) -> usize {
    let key = table_key(target);
    let on = |t: Option<&str>, k: Option<&str>| {
        MODULES
            .iter()
            .filter(|(tk, m, mk, _)| {
                *m == module && t.is_none_or(|t| t == *tk) && k.is_none_or(|k| k == *mk)
            })
            .map(|&(.., bytes)| bytes)
            .max()
    };
    on(Some(key), Some(kind))
        .or_else(|| on(None, Some(kind)))
        .or_else(|| on(None, None))
        .unwrap_or(UNMEASURED_MODULE_BYTES)
}

/// Estimated flash of a firmware running the model on `target`: `consts` bytes of constants
/// as emitted, the layer and tensor tables, the code of every kernel module the layers use
/// (a committed table measured on the board firmware by `tools/bench/code_sizes.py`), and a
/// fixed base (vector table, runtime, the board's harness) measured the same way. Within a
/// few percent for the shared models' firmware (`tools/cli/tests/flash_estimate.rs`); the
/// base being fixed, a model of a few kilobytes may be off by a few kilobytes.
pub fn estimate(
    target: Target,
    layers: &[ferrite_core::Layer],
    tensors: usize,
    consts: usize,
) -> usize {
    let key = table_key(target);
    let (base, per_layer, per_tensor) = BASE
        .iter()
        .find(|(t, ..)| *t == key)
        .map_or((0, 0, 0), |&(_, b, l, t)| (b, l, t));
    let modules: BTreeSet<(&str, &str)> = layers
        .iter()
        .map(|l| module_of(ferrite_kernels::registry::kernel_for(&l.op).path))
        .collect();
    let code: usize = modules.iter().map(|&m| module_bytes(target, m)).sum();
    consts + layers.len() * per_layer + tensors * per_tensor + base + code
}

/// Which convolutions (CONV_2D, the FULLY_CONNECTED layers lowered to the same GEMM, and
/// DEPTHWISE_CONV_2D) keep their weights in int8 on the Cortex-M DSP targets.
///
/// By default the DSP GEMM takes 16-bit weights pre-shifted by the layer's left shift where
/// they fit: the fastest inner loop, but twice the flash. A selected layer keeps int8 weights
/// (four taps a word, unpacked by `SXTB16` in the kernel). A selected DSP depthwise layer keeps
/// packed constants (int8 taps, shift bytes and two words per channel: 19 bytes for 3x3
/// instead of 36) that its kernel widens into the arena scratch each time it runs. Helium
/// and the portable kernels ignore the choice (they read int8 weights, the model's).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Int8Weights {
    /// The fastest layout per layer (16-bit weights wherever they fit).
    #[default]
    None,
    /// Every layer keeps int8 weights.
    All,
    /// The layers of these TFLite operator indices (`LayerReport::tflite_op`, `tflite_op` in
    /// `ferrite inspect --json`) keep int8 weights.
    Ops(Vec<usize>),
}

impl Int8Weights {
    /// Whether the layer lowered from TFLite operator `op` keeps int8 weights.
    pub fn selects(&self, op: usize) -> bool {
        match self {
            Int8Weights::None => false,
            Int8Weights::All => true,
            Int8Weights::Ops(ops) => ops.contains(&op),
        }
    }

    /// Parses `none`, `all` or a comma-separated list of operator indices (`3,5,7`).
    pub fn parse(s: &str) -> Result<Int8Weights, String> {
        match s.trim() {
            "none" | "" => Ok(Int8Weights::None),
            "all" => Ok(Int8Weights::All),
            list => list
                .split(',')
                .map(|i| {
                    i.trim().parse::<usize>().map_err(|_| {
                        format!("int8 weights: {i:?} is not an operator index (give all, none or I,J,K)")
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Int8Weights::Ops),
        }
    }
}

impl std::fmt::Display for Int8Weights {
    /// The form [`Int8Weights::parse`] reads back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Int8Weights::None => f.write_str("none"),
            Int8Weights::All => f.write_str("all"),
            Int8Weights::Ops(ops) => {
                let list: Vec<String> = ops.iter().map(|i| i.to_string()).collect();
                f.write_str(&list.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_modules_from_paths() {
        assert_eq!(
            module_of("ferrite_kernels::ops::gemm::run_conv_gemm_i8"),
            ("gemm", "int")
        );
        assert_eq!(
            module_of("ferrite_kernels::arch::x86::pool::run_pool_i8_avx2"),
            ("pool", "int")
        );
        assert_eq!(
            module_of("ferrite_kernels::ops::binary::run_binary_f32"),
            ("binary", "f32")
        );
        assert_eq!(
            module_bytes(Target::CortexMDsp, ("no_such_module", "int")),
            UNMEASURED_MODULE_BYTES
        );
        // A float module measured on one target prices it on another.
        assert!(module_bytes(Target::Helium, ("conv", "f32")) > 0);
    }

    #[test]
    fn int8_weights_parse_and_print() {
        for (text, want) in [
            ("none", Int8Weights::None),
            ("all", Int8Weights::All),
            ("3,5, 7", Int8Weights::Ops(vec![3, 5, 7])),
        ] {
            let got = Int8Weights::parse(text).unwrap();
            assert_eq!(got, want);
            assert_eq!(Int8Weights::parse(&got.to_string()).unwrap(), want);
        }
        assert!(Int8Weights::parse("3,x").is_err());
        assert!(Int8Weights::Ops(vec![2, 4]).selects(4));
        assert!(!Int8Weights::Ops(vec![2, 4]).selects(3));
        assert!(Int8Weights::All.selects(0) && !Int8Weights::None.selects(0));
    }
}
