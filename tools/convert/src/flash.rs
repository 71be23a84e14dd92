//! Flash: which layers keep int8 weights ([`Int8Weights`]) and the estimate of a converted
//! model's flash (constants plus code, [`estimate`]).

/// Which dense convolutions (CONV_2D, and the FULLY_CONNECTED and single-channel depthwise
/// layers lowered to the same GEMM) keep their weights in int8 on the Cortex-M DSP target.
///
/// By default the DSP GEMM takes 16-bit weights pre-shifted by the layer's left shift where
/// they fit: the fastest inner loop, but twice the flash. A selected layer keeps int8 weights
/// (four taps a word, unpacked by `SXTB16` in the kernel). Other targets ignore the choice:
/// the Helium and no-DSP kernels always read int8 weights, the portable kernels the model's.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Int8Weights {
    /// The fastest layout per layer (16-bit weights wherever they fit).
    #[default]
    None,
    /// Every layer keeps int8 weights.
    All,
    /// The layers of these TFLite operator indices (the `#N` of `ferrite inspect`) keep int8
    /// weights.
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
