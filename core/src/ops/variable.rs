//! Resource variables (`VAR_HANDLE`, `READ_VARIABLE`, `ASSIGN_VARIABLE`, `CALL_ONCE`): named
//! tensors a model keeps from one inference to the next. Each variable is a slot of the
//! model's state region ([`crate::StatePlan`]); the converter resolves every handle to its
//! slot, so only the reads and writes remain at run time, and a `CALL_ONCE` initialisation
//! subgraph becomes the slots' initial contents ([`crate::StateSlot::init`]).

use crate::model::TensorId;

/// `READ_VARIABLE`: copies a variable's bytes from its state slot into a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReadVariable {
    /// The variable's slot in the model's state region.
    pub slot: u16,
    /// The tensor receiving the value (as many bytes as the slot).
    pub output: TensorId,
}

/// `ASSIGN_VARIABLE`: copies a tensor's bytes into a variable's state slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AssignVariable {
    /// The variable's slot in the model's state region.
    pub slot: u16,
    /// The tensor holding the new value (as many bytes as the slot).
    pub input: TensorId,
}
