//! Resource variables: READ_VARIABLE ([`Op::ReadVariable`]) and ASSIGN_VARIABLE
//! ([`Op::AssignVariable`]) copy a tensor's bytes out of or into the variable's slot of the
//! model's state region, as TFLite Micro's `MicroResourceVariables::Read` and `Assign` do
//! (the converter checked that tensor and slot have the same size; the kernels check again).

use crate::util::expect_op;
use ferrite_core::ops::Op;
use ferrite_core::{Ctx, Result};

/// Runs [`Op::ReadVariable`]: the slot's bytes into the output tensor.
pub fn run_read_variable(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, ReadVariable);
    let layer = ctx.layer;
    let (_, out, state) = ctx.split_with_state(p.output, p.slot)?;
    if out.len() != state.len() {
        return Err(ferrite_core::Error::InvalidLayer {
            layer,
            reason: "READ_VARIABLE output and variable differ in size",
        });
    }
    out.copy_from_slice(state);
    Ok(())
}

/// Runs [`Op::AssignVariable`]: the input tensor's bytes into the slot.
pub fn run_assign_variable(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, AssignVariable);
    let layer = ctx.layer;
    let (inputs, state) = ctx.state_and_inputs(p.slot)?;
    let value = inputs.bytes(p.input)?;
    if value.len() != state.len() {
        return Err(ferrite_core::Error::InvalidLayer {
            layer,
            reason: "ASSIGN_VARIABLE value and variable differ in size",
        });
    }
    state.copy_from_slice(value);
    Ok(())
}
