//! Resource variables across subgraphs: which variable each `VAR_HANDLE` names, and the
//! constant value a `CALL_ONCE` initialisation subgraph gives it.
//!
//! TensorFlow's converter turns a `tf.Variable` into a `VAR_HANDLE` (a handle found by
//! container and shared name), `READ_VARIABLE` / `ASSIGN_VARIABLE` operators on the handle,
//! and a `CALL_ONCE` whose subgraph (`VAR_HANDLE` + `ASSIGN_VARIABLE` of a constant, one
//! pair per variable) runs at the first invocation. Ferrite resolves the handles here, at
//! conversion: a variable becomes a slot of the state region, the initialisation subgraph
//! the slot's initial contents (`ferrite_core::StateSlot::init`), and only the reads and
//! writes run on the device. An initialisation subgraph that computes anything is refused.
//!
//! One deviation from TensorFlow Lite Micro, documented in docs/tflm-deviations.md:
//! `MicroInterpreter::Reset` promises the state of a freshly created interpreter but leaves
//! `CALL_ONCE` marked as run and sets the variables to zero, so after a reset TFLM never
//! re-initialises them; `Model::reset_state` gives them their initial values back, as a
//! fresh interpreter (TFLM's or LiteRT's) does.

use crate::error::{ConvertError, Result};
use crate::graph::GOp;
use crate::tflite::flatbuf::Table;
use crate::tflite::opcodes as oc;
use crate::tflite::schema::{tensor_type, TfModel};

/// A resource variable of the model.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceVariable<'a> {
    /// `VarHandleOptions.container` (often empty).
    pub container: String,
    /// `VarHandleOptions.shared_name`: the variable's name.
    pub shared_name: String,
    /// The zero point TFLite Micro fills the variable with before any assignment: that of
    /// the first assigned tensor in its preparation order (the main graph first), as an
    /// `int8` byte (`MicroResourceVariables::Allocate`); 0 for an unquantized one.
    pub fill: u8,
    /// Whether any operator of the main graph assigns it.
    pub assigned: bool,
    /// The constant a `CALL_ONCE` initialisation subgraph assigns it, if any.
    pub init: Option<InitValue<'a>>,
}

/// A variable's initial value, from an initialisation subgraph.
#[derive(Debug, Clone, PartialEq)]
pub struct InitValue<'a> {
    /// The value's bytes, as stored in the file.
    pub data: &'a [u8],
    /// `TensorType` code of the constant.
    pub type_code: u8,
    /// Its shape.
    pub shape: Vec<i32>,
    /// The initialisation subgraph it came from.
    pub subgraph: usize,
}

/// The resource variables of the main graph (`ops`, over `tensor_count` tensors).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Resources<'a> {
    /// The variables, in order of first appearance.
    pub variables: Vec<ResourceVariable<'a>>,
    /// For every tensor of the main graph, the variable whose handle it holds.
    pub handle_of: Vec<Option<usize>>,
    /// Subgraphs consumed as `CALL_ONCE` initialisation subgraphs.
    pub init_subgraphs: Vec<usize>,
}

fn handle_names(options: Option<Table<'_>>) -> std::result::Result<(String, String), String> {
    let read = |slot| {
        options
            .map(|t| t.string(slot))
            .transpose()
            .map(|s| s.flatten().unwrap_or_default())
            .map_err(|e| format!("malformed VarHandleOptions: {e}"))
    };
    Ok((read(4)?, read(6)?))
}

impl<'a> Resources<'a> {
    /// The variable named `(container, shared_name)`, created if new. An empty container
    /// matches any (TFLM's `FindId` treats an absent one so).
    fn find_or_add(&mut self, container: String, shared_name: String) -> usize {
        let found = self.variables.iter().position(|v| {
            v.shared_name == shared_name
                && (container.is_empty() || v.container.is_empty() || v.container == container)
        });
        found.unwrap_or_else(|| {
            self.variables.push(ResourceVariable {
                container,
                shared_name,
                fill: 0,
                assigned: false,
                init: None,
            });
            self.variables.len() - 1
        })
    }
}

/// Resolves the resource variables of `model`'s main graph, whose operators are `ops`.
pub fn resolve<'a>(
    model: &TfModel<'a>,
    ops: &[GOp<'a>],
    tensor_count: usize,
) -> Result<Resources<'a>> {
    let mut r = Resources {
        handle_of: vec![None; tensor_count],
        ..Resources::default()
    };
    let mut first_use: Vec<Option<usize>> = Vec::new();
    let main = model.subgraphs.first();
    for op in ops {
        let op_err = |message: String| ConvertError::Operator {
            index: op.index,
            op: op.name.clone(),
            message,
        };
        match op.code {
            oc::VAR_HANDLE => {
                let (container, shared_name) = handle_names(op.options).map_err(op_err)?;
                let v = r.find_or_add(container, shared_name);
                first_use.resize(r.variables.len(), None);
                if let Some(&out) = op.outputs.first() {
                    r.handle_of[out] = Some(v);
                }
            }
            oc::READ_VARIABLE | oc::ASSIGN_VARIABLE => {
                let handle = op.inputs.first().copied().flatten();
                let v = handle.and_then(|h| r.handle_of[h]).ok_or_else(|| {
                    op_err("input 0 is not the output of a VAR_HANDLE operator".into())
                })?;
                first_use[v].get_or_insert(op.index);
                if op.code == oc::ASSIGN_VARIABLE && !r.variables[v].assigned {
                    r.variables[v].assigned = true;
                    let value = op.inputs.get(1).copied().flatten();
                    let zp = value.and_then(|t| {
                        main?
                            .tensors
                            .get(t)?
                            .quant
                            .as_ref()?
                            .zero_point
                            .first()
                            .copied()
                    });
                    r.variables[v].fill = zp.unwrap_or(0) as i8 as u8;
                }
            }
            oc::CALL_ONCE => {
                let index = op
                    .options
                    .map_or(Ok(0), |t| t.i32(4, 0))
                    .map_err(|e| op_err(format!("malformed CallOnceOptions: {e}")))?;
                let k = usize::try_from(index)
                    .ok()
                    .filter(|&k| k > 0 && k < model.subgraphs.len())
                    .ok_or_else(|| {
                        op_err(format!(
                            "init_subgraph_index {index} does not name another subgraph (the file has {})",
                            model.subgraphs.len()
                        ))
                    })?;
                let initialised = init_subgraph(model, k, &mut r)
                    .map_err(|m| op_err(format!("initialisation subgraph #{k}: {m}")))?;
                first_use.resize(r.variables.len(), None);
                for v in initialised {
                    if let Some(used) = first_use[v] {
                        return Err(op_err(format!(
                            "initialises variable '{}' after operator #{used} used it; only a CALL_ONCE ahead of every use of its variables is supported",
                            r.variables[v].shared_name
                        )));
                    }
                }
                if !r.init_subgraphs.contains(&k) {
                    r.init_subgraphs.push(k);
                }
            }
            _ => {}
        }
    }
    for (v, var) in r.variables.iter().enumerate() {
        if first_use.get(v).copied().flatten().is_some() && !var.assigned && var.init.is_none() {
            return Err(ConvertError::Model(format!(
                "the graph reads resource variable '{}' but never assigns it (TFLite Micro has no value for it)",
                var.shared_name
            )));
        }
    }
    Ok(r)
}

/// Evaluates initialisation subgraph `k`: `VAR_HANDLE`s and `ASSIGN_VARIABLE`s of constants.
/// Returns the variables it assigns.
fn init_subgraph<'a>(
    model: &TfModel<'a>,
    k: usize,
    r: &mut Resources<'a>,
) -> std::result::Result<Vec<usize>, String> {
    let sg = &model.subgraphs[k];
    let mut handle: Vec<Option<usize>> = vec![None; sg.tensors.len()];
    let mut assigned = Vec::new();
    let tensor = |i: i32| {
        usize::try_from(i)
            .ok()
            .filter(|&i| i < sg.tensors.len())
            .ok_or_else(|| {
                format!(
                    "tensor index {i} out of range ({} tensors)",
                    sg.tensors.len()
                )
            })
    };
    for (j, o) in sg.operators.iter().enumerate() {
        let code = model
            .operator_codes
            .get(o.opcode_index as usize)
            .ok_or_else(|| {
                format!(
                    "operator #{j}: operator code index {} out of range",
                    o.opcode_index
                )
            })?;
        let name = oc::name(code.builtin);
        match code.builtin {
            oc::VAR_HANDLE => {
                let (container, shared_name) =
                    handle_names(o.options).map_err(|m| format!("operator #{j} ({name}): {m}"))?;
                let v = r.find_or_add(container, shared_name);
                let out = o
                    .outputs
                    .first()
                    .ok_or_else(|| format!("operator #{j} ({name}) has no output"))?;
                handle[tensor(*out)?] = Some(v);
            }
            oc::ASSIGN_VARIABLE => {
                let [h, value] = o.inputs[..] else {
                    return Err(format!("operator #{j} ({name}) has {} inputs, expected 2", o.inputs.len()));
                };
                let v = handle[tensor(h)?]
                    .ok_or_else(|| format!("operator #{j} ({name}): input 0 is not a VAR_HANDLE's output"))?;
                let t = &sg.tensors[tensor(value)?];
                let data = model
                    .buffers
                    .get(t.buffer as usize)
                    .map(|b| b.data)
                    .filter(|d| !d.is_empty() && !t.is_variable)
                    .ok_or_else(|| {
                        format!(
                            "operator #{j} ({name}) assigns tensor '{}', which is not a constant; only constant initial values are supported",
                            t.name
                        )
                    })?;
                let elems: i64 = t.shape.iter().map(|&d| i64::from(d.max(0))).product();
                let elem = match t.dtype {
                    tensor_type::INT8 | tensor_type::UINT8 | tensor_type::BOOL => 1,
                    tensor_type::INT16 => 2,
                    tensor_type::INT32 | tensor_type::FLOAT32 => 4,
                    tensor_type::INT64 => 8,
                    c => {
                        return Err(format!(
                            "operator #{j} ({name}) assigns a constant of type {}",
                            tensor_type::name(c)
                        ))
                    }
                };
                if i64::try_from(data.len()).ok() != Some(elems * elem) {
                    return Err(format!(
                        "operator #{j} ({name}): constant '{}' holds {} bytes, its shape {:?} of {} needs {}",
                        t.name,
                        data.len(),
                        t.shape,
                        tensor_type::name(t.dtype),
                        elems * elem
                    ));
                }
                if !r.variables[v].assigned {
                    r.variables[v].fill =
                        t.quant.as_ref().and_then(|q| q.zero_point.first().copied()).unwrap_or(0) as i8 as u8;
                }
                r.variables[v].init = Some(InitValue {
                    data,
                    type_code: t.dtype,
                    shape: t.shape.clone(),
                    subgraph: k,
                });
                assigned.push(v);
            }
            _ => {
                return Err(format!(
                    "operator #{j} ({}) is not supported in an initialisation subgraph: only VAR_HANDLE and ASSIGN_VARIABLE of constants are",
                    if code.builtin == oc::CUSTOM {
                        format!("CUSTOM:{}", code.custom.as_deref().unwrap_or("?"))
                    } else {
                        name.to_string()
                    }
                ))
            }
        }
    }
    Ok(assigned)
}
