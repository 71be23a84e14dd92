//! Copies a constant into the arena, for kernels that read every operand from the arena.

use crate::util::expect_op;
use ferrite_core::{Ctx, Op, Result};

/// Kernel entry for [`Op::LoadConst`].
pub fn run_load_const(ctx: &mut Ctx<'_>, op: &Op) -> Result<()> {
    let p = expect_op!(ctx, op, LoadConst);
    let data = ctx.consts(p.data)?;
    let err = ctx.error("constant size differs from its arena tensor");
    let (_, out) = ctx.split(p.output)?;
    if out.len() != data.len() {
        return Err(err);
    }
    out.copy_from_slice(data);
    Ok(())
}
