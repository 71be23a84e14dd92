//! Binary elementwise operators, broadcast numpy style up to rank 6 as TFLM's
//! `BroadcastBinaryOpSimple` does: ADD, SUB, MUL, DIV, MAXIMUM, MINIMUM, SQUARED_DIFFERENCE,
//! FLOOR_DIV, FLOOR_MOD, the comparisons, LOGICAL_AND/OR, PRELU, and ADD_N (no broadcast).
//!
//! Each operator accepts exactly the types TFLite Micro's kernel computes (see the
//! `*_TYPES` lists); anything else is a conversion error naming the operator and the types.

use super::*;
use ferrite_core::ops::BROADCAST_RANK;

/// Types TFLM's ADD computes.
const ADD_TYPES: &str = "float32, int8, int16, int32";
/// Types TFLM's SUB and MUL compute.
const SUB_MUL_TYPES: &str = "float32, int8, int16, int32";
/// Types TFLM's DIV computes.
const DIV_TYPES: &str = "float32, int8, int32";
/// Types TFLM's MAXIMUM and MINIMUM compute.
const MIN_MAX_TYPES: &str = "float32, int8, int16, int32, int64";
/// Types TFLM's SQUARED_DIFFERENCE computes.
const SQUARED_DIFFERENCE_TYPES: &str = "float32, int8, int16, int32";
/// Types TFLM's EQUAL and NOT_EQUAL compare.
const EQUALITY_TYPES: &str = "bool, float32, int8, int32, int64";
/// Types TFLM's LESS, LESS_EQUAL, GREATER and GREATER_EQUAL compare.
const ORDER_TYPES: &str = "float32, int8, int32, int64";

/// The shape facts of a broadcast binary operator.
struct Shapes {
    /// `None` when the inputs need no broadcast.
    broadcast: Option<Broadcast>,
    /// Output elements.
    len: u32,
    /// Rank of the broadcast output shape.
    rank: usize,
}

/// `CalculateActivationRange<int32_t>`: the clamp of an int32 result.
fn activation_range_i32(act: FusedActivation) -> (i64, i64) {
    match act {
        FusedActivation::None => (i32::MIN as i64, i32::MAX as i64),
        FusedActivation::Relu => (0, i32::MAX as i64),
        FusedActivation::Relu6 => (0, 6),
        FusedActivation::ReluN1To1 => (-1, 1),
    }
}

/// The whole range of an integer element type, as an [`IntBinary`] clamp.
fn full_range(t: DType) -> (i64, i64) {
    match t {
        DType::I8 => (i8::MIN as i64, i8::MAX as i64),
        DType::I32 => (i32::MIN as i64, i32::MAX as i64),
        _ => (i64::MIN, i64::MAX),
    }
}

/// A float clamp that keeps every value (operators without a fused activation).
const NO_CLAMP: (f32, f32) = (f32::NEG_INFINITY, f32::INFINITY);

impl<'g, 'a> Lowerer<'g, 'a> {
    /// Broadcast of `a` against `b` into `output` (whose element count must match).
    fn shapes(
        &self,
        cx: &OpCx<'_, 'g, 'a>,
        a: &GTensor<'_>,
        b: &GTensor<'_>,
        output: &GTensor<'_>,
    ) -> Result<Shapes> {
        let dims = |t: &GTensor<'_>| t.shape.iter().map(|&d| u32_of(d)).collect::<Vec<u32>>();
        let broadcast = k::binary::broadcast_for(&dims(a), &dims(b)).ok_or_else(|| {
            cx.err(format!(
                "shapes {:?} and {:?} do not broadcast (in at most {BROADCAST_RANK} axes)",
                a.shape, b.shape
            ))
        })?;
        // NumPy broadcasting: align on the right, a dimension of 1 stretches (even to 0).
        let rank = a.shape.len().max(b.shape.len());
        let dim = |t: &GTensor<'_>, d: usize| {
            if d + t.shape.len() >= rank {
                t.shape[d + t.shape.len() - rank]
            } else {
                1
            }
        };
        let out_shape: Vec<usize> = (0..rank)
            .map(|d| if dim(a, d) == 1 { dim(b, d) } else { dim(a, d) })
            .collect();
        if output.num_elements() != out_shape.iter().product::<usize>() {
            return Err(cx.tensor_msg(output, "output", format!("expected shape {out_shape:?}")));
        }
        Ok(Shapes {
            broadcast,
            len: u32_of(output.num_elements()),
            rank,
        })
    }

    /// The common type of two inputs and an output that TFLM requires to agree; an
    /// unsupported-types error (listing `supported`) otherwise.
    fn binary_types(
        &self,
        cx: &OpCx<'_, 'g, 'a>,
        a: &GTensor<'_>,
        b: &GTensor<'_>,
        output: &GTensor<'_>,
        supported: &str,
    ) -> Result<DType> {
        let (ta, tb, to) = (
            cx.dtype(a, "first input")?,
            cx.dtype(b, "second input")?,
            cx.dtype(output, "output")?,
        );
        if ta != tb || ta != to {
            return Err(cx.unsupported(format!(
                "types {ta}/{tb}/{to}: inputs and output must share one type ({supported})"
            )));
        }
        Ok(ta)
    }

    fn type_error(&self, cx: &OpCx<'_, 'g, 'a>, t: DType, supported: &str) -> ConvertError {
        cx.unsupported(format!(
            "type {t}; TFLite Micro's {} supports {supported}",
            cx.op.name
        ))
    }

    /// ADD, SUB, MUL and DIV: arithmetic with a fused activation.
    pub(super) fn binary(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (a, b, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let supported = match cx.op.code {
            oc::ADD => ADD_TYPES,
            oc::DIV => DIV_TYPES,
            _ => SUB_MUL_TYPES,
        };
        let dtype = self.binary_types(cx, a, b, output, supported)?;
        let Shapes { broadcast, len, .. } = self.shapes(cx, a, b, output)?;
        let act_code = options::binary_activation(cx.op.options)?;
        let act = cx.activation(act_code)?;
        let (ai, bi) = (self.operand(cx, a)?, self.operand(cx, b)?);
        let oi = self.id(output.index)?;
        let unrepresentable =
            || cx.err("quantization parameters give an unrepresentable multiplier");
        let op = match dtype {
            DType::I8 => {
                let (qa, qb, qo) = (
                    cx.qparams(a, "first input")?,
                    cx.qparams(b, "second input")?,
                    cx.qparams(output, "output")?,
                );
                match cx.op.code {
                    oc::ADD | oc::SUB => Op::AddI8(AddI8 {
                        subtract: cx.op.code == oc::SUB,
                        ..k::binary::prepare_add_i8(ai, bi, oi, len, broadcast, qa, qb, qo, act)
                            .ok_or_else(unrepresentable)?
                    }),
                    oc::MUL => Op::MulI8(
                        k::binary::prepare_mul_i8(ai, bi, oi, len, broadcast, qa, qb, qo, act)
                            .ok_or_else(unrepresentable)?,
                    ),
                    _ => Op::QuantBinary(
                        k::elementwise::prepare_div_i8(
                            qa,
                            qb,
                            qo,
                            act,
                            quant_binary(ai, bi, oi, len, broadcast),
                        )
                        .ok_or_else(unrepresentable)?,
                    ),
                }
            }
            DType::I16 if cx.op.code != oc::DIV => {
                let (qa, qb, qo) = (
                    cx.qparams(a, "first input")?,
                    cx.qparams(b, "second input")?,
                    cx.qparams(output, "output")?,
                );
                if cx.op.code == oc::MUL {
                    // TFLM's `CalculateOpDataMul` requires every int16 zero point to be 0.
                    for (t, q, what) in [
                        (a, qa, "first input"),
                        (b, qb, "second input"),
                        (output, qo, "output"),
                    ] {
                        if q.zero_point != 0 {
                            return Err(cx.tensor_msg(t, what, format!(
                                "int16 MUL needs zero point 0 (TFLite Micro's requirement), found {}",
                                q.zero_point
                            )));
                        }
                    }
                    Op::MulI16(
                        k::binary::prepare_mul_i16(ai, bi, oi, len, broadcast, qa, qb, qo, act)
                            .ok_or_else(unrepresentable)?,
                    )
                } else {
                    Op::AddI16(
                        k::binary::prepare_add_i16(
                            cx.op.code == oc::SUB,
                            ai,
                            bi,
                            oi,
                            len,
                            broadcast,
                            qa,
                            qb,
                            qo,
                            act,
                        )
                        .ok_or_else(unrepresentable)?,
                    )
                }
            }
            DType::F32 => {
                let kind = match cx.op.code {
                    oc::ADD => BinaryKind::Add,
                    oc::SUB => BinaryKind::Sub,
                    oc::MUL => BinaryKind::Mul,
                    _ => BinaryKind::Div,
                };
                let (act_min, act_max) = activation_range_f32(act);
                Op::BinaryF32(BinaryF32 {
                    a: ai,
                    b: bi,
                    output: oi,
                    kind,
                    len,
                    broadcast,
                    act_min,
                    act_max,
                })
            }
            DType::I32 => {
                let (kind, (act_min, act_max)) = match cx.op.code {
                    // TFLM's int32 ADD ignores the fused activation (it clamps to the whole
                    // int32 range); SUB, MUL and DIV apply it.
                    oc::ADD => (IntBinaryKind::Add, full_range(DType::I32)),
                    oc::SUB => (IntBinaryKind::Sub, activation_range_i32(act)),
                    oc::MUL => (IntBinaryKind::Mul, activation_range_i32(act)),
                    _ => (IntBinaryKind::Div, activation_range_i32(act)),
                };
                Op::IntBinary(IntBinary {
                    a: ai,
                    b: bi,
                    output: oi,
                    elem: DType::I32,
                    kind,
                    len,
                    broadcast,
                    act_min,
                    act_max,
                })
            }
            t => return Err(self.type_error(cx, t, supported)),
        };
        // On a microcontroller a long int8 ADD/SUB tabulates each input's rescaled term in
        // arena scratch while it runs (one high multiply per element instead of three) —
        // under a budget that needs it, only where the activation peak leaves room for them.
        if let Op::AddI8(add) = op {
            let scratch = k::binary::ADD_TABLE_BYTES;
            let tables = self.target != Target::Portable
                && add.len >= k::binary::ADD_TABLE_MIN_LEN
                && (!self.g.scratch_within_peak || scratch as u64 <= self.scratch_room())
                && k::binary::AddRescale::new(&add).is_some_and(|r| r.has_tables());
            if tables {
                let op = Op::AddI8(AddI8 {
                    tables: true,
                    ..add
                });
                self.push_with_scratch(cx, op, 0, 0, scratch);
                return Ok(());
            }
        }
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// MAXIMUM and MINIMUM: raw values (TFLM ignores int8 quantization here).
    pub(super) fn min_max(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (a, b, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let dtype = self.binary_types(cx, a, b, output, MIN_MAX_TYPES)?;
        let Shapes { broadcast, len, .. } = self.shapes(cx, a, b, output)?;
        let maximum = cx.op.code == oc::MAXIMUM;
        let op = match dtype {
            DType::F32 => {
                let (ai, bi) = (self.operand(cx, a)?, self.operand(cx, b)?);
                Op::BinaryF32(BinaryF32 {
                    a: ai,
                    b: bi,
                    output: self.id(output.index)?,
                    kind: if maximum {
                        BinaryKind::Maximum
                    } else {
                        BinaryKind::Minimum
                    },
                    len,
                    broadcast,
                    act_min: NO_CLAMP.0,
                    act_max: NO_CLAMP.1,
                })
            }
            DType::I8 | DType::I16 | DType::I32 | DType::I64 => {
                if matches!(dtype, DType::I8 | DType::I16) {
                    let (qa, qb, qo) = (a.qparams(), b.qparams(), output.qparams());
                    if qa != qo || qb != qo {
                        self.warnings.push(format!(
                            "operator #{} {}: inputs and output are quantized differently; the result keeps the stored {dtype} values, as TFLite Micro does",
                            cx.op.index, cx.op.name
                        ));
                    }
                }
                let (act_min, act_max) = full_range(dtype);
                let (ai, bi) = (self.operand(cx, a)?, self.operand(cx, b)?);
                Op::IntBinary(IntBinary {
                    a: ai,
                    b: bi,
                    output: self.id(output.index)?,
                    elem: dtype,
                    kind: if maximum {
                        IntBinaryKind::Maximum
                    } else {
                        IntBinaryKind::Minimum
                    },
                    len,
                    broadcast,
                    act_min,
                    act_max,
                })
            }
            t => return Err(self.type_error(cx, t, MIN_MAX_TYPES)),
        };
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// SQUARED_DIFFERENCE.
    pub(super) fn squared_difference(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (a, b, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let dtype = self.binary_types(cx, a, b, output, SQUARED_DIFFERENCE_TYPES)?;
        let Shapes { broadcast, len, .. } = self.shapes(cx, a, b, output)?;
        let op = match dtype {
            DType::I8 => {
                let (qa, qb, qo) = (
                    cx.qparams(a, "first input")?,
                    cx.qparams(b, "second input")?,
                    cx.qparams(output, "output")?,
                );
                let (ai, bi) = (self.operand(cx, a)?, self.operand(cx, b)?);
                let oi = self.id(output.index)?;
                Op::QuantBinary(
                    k::elementwise::prepare_squared_difference_i8(
                        qa,
                        qb,
                        qo,
                        quant_binary(ai, bi, oi, len, broadcast),
                    )
                    .ok_or_else(|| {
                        cx.err("quantization parameters give an unrepresentable multiplier")
                    })?,
                )
            }
            DType::I16 => {
                let (qa, qb, qo) = (
                    cx.qparams(a, "first input")?,
                    cx.qparams(b, "second input")?,
                    cx.qparams(output, "output")?,
                );
                if [qa, qb, qo].iter().any(|q| q.zero_point != 0) {
                    return Err(cx.err(format!(
                        "int16 SQUARED_DIFFERENCE needs zero point 0 on both inputs and the output (TFLite Micro's requirement), found {}, {} and {}",
                        qa.zero_point, qb.zero_point, qo.zero_point
                    )));
                }
                let (ai, bi) = (self.operand(cx, a)?, self.operand(cx, b)?);
                let oi = self.id(output.index)?;
                Op::QuantBinary(
                    k::elementwise::prepare_squared_difference_i16(
                        qa,
                        qb,
                        qo,
                        quant_binary(ai, bi, oi, len, broadcast),
                    )
                    .ok_or_else(|| {
                        cx.err("quantization parameters give an unrepresentable multiplier")
                    })?,
                )
            }
            DType::F32 => self.float_binary(cx, a, b, output, BinaryKind::SquaredDifference)?,
            DType::I32 => {
                let (ai, bi) = (self.operand(cx, a)?, self.operand(cx, b)?);
                let (act_min, act_max) = full_range(DType::I32);
                Op::IntBinary(IntBinary {
                    a: ai,
                    b: bi,
                    output: self.id(output.index)?,
                    elem: DType::I32,
                    kind: IntBinaryKind::SquaredDifference,
                    len,
                    broadcast,
                    act_min,
                    act_max,
                })
            }
            t => return Err(self.type_error(cx, t, SQUARED_DIFFERENCE_TYPES)),
        };
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// A float binary operator without a fused activation.
    fn float_binary(
        &mut self,
        cx: &OpCx<'_, 'g, 'a>,
        a: &GTensor<'_>,
        b: &GTensor<'_>,
        output: &GTensor<'_>,
        kind: BinaryKind,
    ) -> Result<Op> {
        let Shapes { broadcast, len, .. } = self.shapes(cx, a, b, output)?;
        let (ai, bi) = (self.operand(cx, a)?, self.operand(cx, b)?);
        Ok(Op::BinaryF32(BinaryF32 {
            a: ai,
            b: bi,
            output: self.id(output.index)?,
            kind,
            len,
            broadcast,
            act_min: NO_CLAMP.0,
            act_max: NO_CLAMP.1,
        }))
    }

    /// FLOOR_DIV and FLOOR_MOD: float32 only in TFLM.
    pub(super) fn floor_div_mod(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (a, b, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let dtype = self.binary_types(cx, a, b, output, "float32")?;
        if dtype != DType::F32 {
            return Err(self.type_error(cx, dtype, "float32"));
        }
        let kind = if cx.op.code == oc::FLOOR_DIV {
            BinaryKind::FloorDiv
        } else {
            BinaryKind::FloorMod
        };
        let op = self.float_binary(cx, a, b, output, kind)?;
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// EQUAL, NOT_EQUAL, LESS, LESS_EQUAL, GREATER, GREATER_EQUAL: a bool output; int8 inputs
    /// compare on a common scale.
    pub(super) fn compare(&mut self, cx: &OpCx<'_, 'g, 'a>, kind: CompareKind) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (a, b, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let equality = matches!(kind, CompareKind::Equal | CompareKind::NotEqual);
        let supported = if equality {
            EQUALITY_TYPES
        } else {
            ORDER_TYPES
        };
        let (ta, tb, to) = (
            cx.dtype(a, "first input")?,
            cx.dtype(b, "second input")?,
            cx.dtype(output, "output")?,
        );
        if ta != tb || to != DType::Bool {
            return Err(cx.unsupported(format!(
                "types {ta}/{tb}/{to}: inputs must share one type ({supported}), the output is bool"
            )));
        }
        let rescale = match ta {
            DType::I8 => {
                let (qa, qb) = (
                    cx.qparams(a, "first input")?,
                    cx.qparams(b, "second input")?,
                );
                Some(k::elementwise::prepare_compare_rescale(qa, qb).ok_or_else(|| {
                    cx.err(format!(
                        "input scales {} and {} must lie in (0, 1): TFLite Micro's comparison rescales by QuantizeMultiplierSmallerThanOneExp",
                        qa.scale, qb.scale
                    ))
                })?)
            }
            DType::F32 | DType::I32 | DType::I64 => None,
            DType::Bool if equality => None,
            t => return Err(self.type_error(cx, t, supported)),
        };
        let Shapes { broadcast, len, .. } = self.shapes(cx, a, b, output)?;
        let (ai, bi) = (self.operand(cx, a)?, self.operand(cx, b)?);
        let op = Op::Compare(Compare {
            a: ai,
            b: bi,
            output: self.id(output.index)?,
            elem: ta,
            kind,
            len,
            broadcast,
            rescale,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// LOGICAL_AND and LOGICAL_OR: bools.
    pub(super) fn logical(&mut self, cx: &OpCx<'_, 'g, 'a>, kind: IntBinaryKind) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (a, b, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        // TFLM does not check the type, but reads every input as bool: another type would
        // be reinterpreted byte by byte, so it is refused here.
        let dtype = self.binary_types(cx, a, b, output, "bool")?;
        if dtype != DType::Bool {
            return Err(self.type_error(cx, dtype, "bool"));
        }
        let Shapes { broadcast, len, .. } = self.shapes(cx, a, b, output)?;
        let (ai, bi) = (self.operand(cx, a)?, self.operand(cx, b)?);
        let op = Op::IntBinary(IntBinary {
            a: ai,
            b: bi,
            output: self.id(output.index)?,
            elem: DType::Bool,
            kind,
            len,
            broadcast,
            act_min: 0,
            act_max: 1,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// PRELU: `x >= 0 ? x : alpha * x`, alpha broadcast against the input.
    pub(super) fn prelu(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, alpha, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let dtype = self.binary_types(cx, input, alpha, output, "float32, int8")?;
        let shapes = self.shapes(cx, input, alpha, output)?;
        let op =
            match dtype {
                DType::F32 => {
                    // TFLM's float PRELU indexes through 4-D descriptors only (`NdArrayDesc<4>`):
                    // a higher rank crashes it.
                    if shapes.rank > 4 || output.shape.len() > 4 {
                        return Err(cx.unsupported(
                            "float32 PRELU of rank above 4 (TFLite Micro's kernel is 4-D)",
                        ));
                    }
                    self.float_binary(cx, input, alpha, output, BinaryKind::Prelu)?
                }
                DType::I8 => {
                    let (qi, qa, qo) = (
                        cx.qparams(input, "input")?,
                        cx.qparams(alpha, "alpha")?,
                        cx.qparams(output, "output")?,
                    );
                    let (ii, ai) = (self.operand(cx, input)?, self.operand(cx, alpha)?);
                    let p = PreluQ {
                        input: ii,
                        alpha: ai,
                        output: self.id(output.index)?,
                        elem: DType::I8,
                        len: shapes.len,
                        broadcast: shapes.broadcast,
                        input_offset: 0,
                        alpha_offset: 0,
                        output_offset: 0,
                        pos_multiplier: 0,
                        pos_shift: 0,
                        neg_multiplier: 0,
                        neg_shift: 0,
                    };
                    Op::PreluQ(k::elementwise::prepare_prelu_i8(qi, qa, qo, p).ok_or_else(
                        || cx.err("quantization parameters give an unrepresentable multiplier"),
                    )?)
                }
                // TFLite's converter has no 16x8 PRELU ("not yet supported"), so there is no
                // TFLM golden to be exact against.
                DType::I16 => return Err(cx.unsupported(
                    "int16 (16x8) PRELU: not supported by Ferrite (TFLite's converter does not produce it, so there is no TFLite Micro reference to match)",
                )),
                t => return Err(self.type_error(cx, t, "float32, int8")),
            };
        self.push(cx, op, 0, 0);
        Ok(())
    }

    /// ADD_N: the sum of two or more tensors of the output's shape and type.
    pub(super) fn add_n(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        let n = cx.op.inputs.len();
        if n < 2 || cx.op.outputs.len() != 1 {
            return Err(cx.err(format!(
                "has {n} inputs and {} outputs, expected at least 2 and 1",
                cx.op.outputs.len()
            )));
        }
        let output = cx.output(0)?;
        let first = cx.input(0)?;
        let dtype = cx.dtype(output, "output")?;
        let quant = match dtype {
            DType::F32 => None,
            DType::I8 => {
                let (qi, qo) = (cx.qparams(first, "input")?, cx.qparams(output, "output")?);
                Some(k::elementwise::prepare_add_n_i8(qi, qo).ok_or_else(|| {
                    cx.err(format!(
                        "output scale {} too small for TFLite Micro's ADD_N rescaling (input scale {})",
                        qo.scale, qi.scale
                    ))
                })?)
            }
            t => return Err(self.type_error(cx, t, "float32, int8")),
        };
        let mut ids = Vec::with_capacity(n);
        for k in 0..n {
            let t = cx.input(k)?;
            if t.dtype != Some(dtype) || t.shape != first.shape {
                return Err(cx.tensor_msg(
                    t,
                    "input",
                    format!(
                        "must have the first input's shape {:?} and type {dtype}",
                        first.shape
                    ),
                ));
            }
            if dtype == DType::I8 && t.qparams() != first.qparams() {
                return Err(cx.tensor_msg(
                    t,
                    "input",
                    "must have the first input's scale and zero point (TFLite Micro's requirement)",
                ));
            }
            ids.push(self.operand(cx, t)?.0);
        }
        if output.num_elements() != first.num_elements() {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("must have the inputs' shape {:?}", first.shape),
            ));
        }
        let inputs = self.pool.push_u16(&ids);
        let op = Op::AddN(AddN {
            inputs,
            output: self.id(output.index)?,
            elem: dtype,
            len: u32_of(output.num_elements()),
            quant,
        });
        self.push(cx, op, 0, 2 * n);
        Ok(())
    }
}

/// A [`QuantBinary`] over the given tensors with its arithmetic still to be prepared.
fn quant_binary(
    a: TensorId,
    b: TensorId,
    output: TensorId,
    len: u32,
    broadcast: Option<Broadcast>,
) -> QuantBinary {
    QuantBinary {
        a,
        b,
        output,
        elem: DType::I8,
        kind: QuantBinaryKind::Div,
        len,
        broadcast,
        a_offset: 0,
        b_offset: 0,
        left_shift: 0,
        a_multiplier: 0,
        a_shift: 0,
        b_multiplier: 0,
        b_shift: 0,
        out_multiplier: 0,
        out_shift: 0,
        output_offset: 0,
        act_min: 0,
        act_max: 0,
    }
}
