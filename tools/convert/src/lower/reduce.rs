//! Reductions: MEAN.

use super::*;

impl<'g, 'a> Lowerer<'g, 'a> {
    pub(super) fn mean(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 1)?;
        let (input, axes_t, output) = (cx.input(0)?, cx.input(1)?, cx.output(0)?);
        let rank = input.shape.len() as i64;
        let mut axes: Vec<usize> = Vec::new();
        for a in cx.const_ints(axes_t, "axis")? {
            let a = if a < 0 { a + rank } else { a };
            if a < 0 || a >= rank {
                return Err(cx.tensor_msg(
                    axes_t,
                    "axis",
                    format!("axis {a} out of range for rank {rank}"),
                ));
            }
            if !axes.contains(&(a as usize)) {
                axes.push(a as usize);
            }
        }
        axes.sort_unstable();
        if axes.is_empty() {
            return Err(cx.unsupported("MEAN over no axis"));
        }
        if axes.windows(2).any(|w| w[1] != w[0] + 1) {
            return Err(cx.unsupported(format!("MEAN over non-contiguous axes {axes:?}")));
        }
        let (first, last) = (axes[0], axes[axes.len() - 1]);
        let outer: usize = input.shape[..first].iter().product();
        let reduced: usize = input.shape[first..=last].iter().product();
        let inner: usize = input.shape[last + 1..].iter().product();
        if output.num_elements() != outer * inner {
            return Err(cx.tensor_msg(
                output,
                "output",
                format!("expected {} elements", outer * inner),
            ));
        }
        let (ii, oi) = (self.id(input.index)?, self.id(output.index)?);
        match (cx.dtype(input, "input")?, cx.dtype(output, "output")?) {
            (DType::I8, DType::I8) => {
                let (qi, qo) = (cx.qparams(input, "input")?, cx.qparams(output, "output")?);
                let op = k::mean::prepare_mean_i8(ii, oi, &input.shape, &axes, qi, qo).ok_or_else(
                    || cx.err("quantization parameters give an unrepresentable multiplier"),
                )?;
                self.push(cx, Op::MeanI8(op), 0, 0);
            }
            (DType::F32, DType::F32) => {
                let op = MeanF32 {
                    input: ii,
                    output: oi,
                    outer: u32_of(outer),
                    reduced: u32_of(reduced),
                    inner: u32_of(inner),
                };
                self.push(cx, Op::MeanF32(op), 0, 0);
            }
            (a, b) => {
                return Err(cx.unsupported(format!(
                    "input/output types {a}/{b}; supported: int8 and float32"
                )))
            }
        }
        Ok(())
    }
}
