//! CIRCULAR_BUFFER ([`Op::CircularBuffer`]), as TensorFlow Lite Micro's `circular_buffer.cc`
//! computes it: shift the buffer one frame towards the start, append the input frame, copy the
//! buffer to the output; then count down, and unless the countdown reached zero end the
//! invocation ([`Error::Aborted`], TFLM's `kTfLiteAbort`), else restart it from `cycles_max`.

use crate::util::expect_op;
use ferrite_core::ops::Op;
use ferrite_core::{Ctx, Error, Result};

/// Runs [`Op::CircularBuffer`].
pub fn run_circular_buffer(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, CircularBuffer);
    let layer = ctx.layer;
    let bad = |reason| Error::InvalidLayer { layer, reason };
    // The countdown first (`split_with_state` below hands out the state region for good).
    let ends_early = {
        let (_, countdown) = ctx.state_and_inputs(p.countdown)?;
        let bytes: &mut [u8; 4] = countdown
            .try_into()
            .map_err(|_| bad("CIRCULAR_BUFFER countdown is not 4 bytes"))?;
        let left = i32::from_le_bytes(*bytes).wrapping_sub(1);
        *bytes = if left == 0 { p.cycles_max } else { left }.to_le_bytes();
        left != 0
    };
    let (inputs, out, buffer) = ctx.split_with_state(p.output, p.buffer)?;
    let frame = inputs.bytes(p.input)?;
    let n = p.frame_bytes as usize;
    let total = (p.slots as usize)
        .checked_mul(n)
        .ok_or(bad("buffer size overflows"))?;
    let sizes = bad("CIRCULAR_BUFFER sizes do not match");
    if frame.len() != n || buffer.len() != total || out.len() != total || n == 0 {
        return Err(sizes);
    }
    // Each guard restates what the check above proved, where the optimiser sees it, so that
    // no slice-length panic stays in the firmware.
    let keep = buffer.len().checked_sub(n).ok_or(sizes)?;
    buffer.copy_within(n.., 0);
    let newest = buffer.get_mut(keep..).ok_or(sizes)?;
    if newest.len() != frame.len() {
        return Err(sizes);
    }
    newest.copy_from_slice(frame);
    if out.len() != buffer.len() {
        return Err(sizes);
    }
    out.copy_from_slice(buffer);
    if ends_early {
        return Err(Error::Aborted { layer });
    }
    Ok(())
}
