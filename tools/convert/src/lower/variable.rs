//! Resource variables: VAR_HANDLE and CALL_ONCE (resolved at conversion, see
//! [`crate::resource`]; no layer), READ_VARIABLE and ASSIGN_VARIABLE (copies between a tensor
//! and the variable's slot of the state region).

use super::*;
use ferrite_core::ops::{AssignVariable, ReadVariable};

impl<'g, 'a> Lowerer<'g, 'a> {
    /// VAR_HANDLE: its output names a variable, which the converter resolved
    /// ([`crate::resource::resolve`]); nothing runs.
    pub(super) fn var_handle(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(0, 0, 1)?;
        let out = cx.output(0)?;
        if out.type_code != crate::tflite::schema::tensor_type::RESOURCE {
            return Err(cx.tensor_msg(out, "output", "must be a resource handle"));
        }
        Ok(())
    }

    /// CALL_ONCE: its initialisation subgraph became the initial contents of the variables it
    /// assigns ([`crate::resource`]); nothing runs.
    pub(super) fn call_once(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(0, 0, 0)
    }

    /// The variable whose handle input 0 holds, and its state slot, planned on first use
    /// from `value` (the tensor read into or assigned from; every use must agree in size).
    fn variable_slot(&mut self, cx: &OpCx<'_, 'g, 'a>, value: &GTensor<'_>) -> Result<u16> {
        let handle = cx.input(0)?;
        let v = (self.g.resources.handle_of.get(handle.index).copied())
            .flatten()
            .ok_or_else(|| cx.tensor_msg(handle, "input", "is not a VAR_HANDLE's output"))?;
        let var = &self.g.resources.variables[v];
        let bytes = value.num_elements() * cx.dtype(value, "value")?.size_bytes();
        if let Some(slot) = self.variable_slots[v] {
            let planned = self.state_slots[slot as usize].bytes as usize;
            if planned != bytes {
                return Err(cx.tensor_msg(
                    value,
                    "value",
                    format!(
                        "has {bytes} bytes but variable '{}' holds {planned}",
                        var.shared_name
                    ),
                ));
            }
            return Ok(slot);
        }
        let init = match &var.init {
            Some(init) if init.data.len() != bytes => {
                return Err(cx.tensor_msg(
                    value,
                    "value",
                    format!(
                        "has {bytes} bytes but the initial value of variable '{}' (subgraph #{}: {:?} of {}) has {}",
                        var.shared_name,
                        init.subgraph,
                        init.shape,
                        crate::tflite::schema::tensor_type::name(init.type_code),
                        init.data.len()
                    ),
                ))
            }
            Some(init) => self.pool.push_bytes(init.data, 4),
            None => ferrite_core::ConstRef::EMPTY,
        };
        let slot = self.new_state_slot(
            cx,
            (value.index, var.shared_name.clone()),
            bytes,
            var.fill,
            init,
        )?;
        self.variable_slots[v] = Some(slot);
        Ok(slot)
    }

    /// READ_VARIABLE: the variable's bytes into the output tensor.
    pub(super) fn read_variable(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(1, 1, 1)?;
        let output = cx.output(0)?;
        let slot = self.variable_slot(cx, output)?;
        let output = self.id(output.index)?;
        self.push(cx, Op::ReadVariable(ReadVariable { slot, output }), 0, 0);
        Ok(())
    }

    /// ASSIGN_VARIABLE: the value tensor's bytes into the variable.
    pub(super) fn assign_variable(&mut self, cx: &OpCx<'_, 'g, 'a>) -> Result<()> {
        cx.arity(2, 2, 0)?;
        let value = cx.input(1)?;
        let slot = self.variable_slot(cx, value)?;
        let input = self.operand(cx, value)?;
        self.push(cx, Op::AssignVariable(AssignVariable { slot, input }), 0, 0);
        Ok(())
    }
}
