//! CIRCULAR_BUFFER (TFLite Micro's custom operator for strided streaming models): its buffer
//! and its countdown become two slots of the state region.
//!
//! TFLM takes the stride from the custom options' `cycles_max`; without it (or with a value of
//! 0 or less) its `Prepare` guesses from the output shape (1 for 5, 13 or 25 slots) and from a
//! process-wide count of such buffers prepared so far (1 for the fifth, if it has shape
//! `[_, _, 2, 96]`; the count restarts then), else 2. Ferrite counts within the model, in
//! operator order: the same as TFLM for a process that prepares one model.

use super::*;
use crate::tflite::flexbuf;
use ferrite_core::ops::CircularBuffer;

impl<'g, 'a> Lowerer<'g, 'a> {
    /// CIRCULAR_BUFFER: int8 `[1, 1, w, d]` → `[1, slots, w, d]`.
    pub(super) fn circular_buffer(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let (input, output) = (cx.input(0)?, cx.output(0)?);
        cx.rank(input, "input", 4)?;
        cx.rank(output, "output", 4)?;
        let (i, o) = (&input.shape, &output.shape);
        if i[0] != 1 || o[0] != 1 || i[1] != 1 || i[2] != o[2] || i[3] != o[3] || o[1] == 0 {
            return Err(cx.err(format!(
                "input {:?} and output {:?}: expected [1, 1, w, d] and [1, slots, w, d] (TFLite Micro's kernel keeps one batch)",
                i, o
            )));
        }
        let (ti, to) = (cx.dtype(input, "input")?, cx.dtype(output, "output")?);
        if ti != DType::I8 || to != DType::I8 {
            return Err(cx.unsupported(format!(
                "types {ti}/{to}: TFLite Micro's CIRCULAR_BUFFER takes int8 only"
            )));
        }
        let mut cycles_max = if cx.op.custom_options.is_empty() {
            0
        } else {
            flexbuf::read_map(cx.op.custom_options)
                .map(|m| m.get("cycles_max").as_i32())
                .map_err(|e| cx.err(format!("malformed custom options: {e}")))?
                .map_err(|e| cx.err(format!("custom option cycles_max: {e}")))?
        };
        if cycles_max <= 0 {
            self.circular_buffer_guesses += 1;
            let slots_say_one = matches!(o[1], 5 | 13 | 25);
            if slots_say_one || (self.circular_buffer_guesses == 5 && o[2] == 2 && o[3] == 96) {
                cycles_max = 1;
                self.circular_buffer_guesses = 0;
            } else {
                cycles_max = 2;
            }
        }
        let frame_bytes = i[2] * i[3];
        let total = output.num_elements();
        let fill = output.qparams().map_or(0, |q| q.zero_point) as i8 as u8;
        let name = format!("{} (CIRCULAR_BUFFER)", output.name);
        let buffer = self.new_state_slot(
            cx,
            (output.index, name.clone()),
            total,
            fill,
            ferrite_core::ConstRef::EMPTY,
        )?;
        let start = self.pool.push_bytes(&cycles_max.to_le_bytes(), 4);
        let countdown =
            self.new_state_slot(cx, (output.index, format!("{name} countdown")), 4, 0, start)?;
        let too_big = || cx.err("buffer larger than 4 GiB");
        let op = Op::CircularBuffer(CircularBuffer {
            input: self.operand(cx, input)?,
            output: self.id(output.index)?,
            buffer,
            countdown,
            slots: u32::try_from(o[1]).map_err(|_| too_big())?,
            frame_bytes: u32::try_from(frame_bytes).map_err(|_| too_big())?,
            cycles_max,
        });
        self.push(cx, op, 0, 0);
        Ok(())
    }
}
