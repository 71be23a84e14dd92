//! The conversion pipeline: read → verify → graph → lower → plan, producing a
//! [`Compiled`] model the host can run directly and the emitter can write out.

use crate::consts::AlignedBytes;
use crate::error::Result;
use crate::graph::Graph;
use crate::lower::{lower, Lowered};
use crate::plan::{plan, Buffer};
use crate::tflite;
use ferrite_core::{DType, Layer, Model, Shape, Tensor, TensorId};
use ferrite_kernels::registry::KernelSet;
use serde::Serialize;

/// Largest arena the converter plans: tensor offsets must fit the runtime's `u32`, and no
/// microcontroller comes near it. A file that asks for more is hostile or corrupted, and a tool
/// that ran it would have to allocate that much.
pub const MAX_ARENA_BYTES: usize = 1 << 31;

/// Options of a conversion.
#[derive(Debug, Clone)]
pub struct Options {
    /// How many orderings the arena planner may try beyond its heuristics.
    pub planner_effort: usize,
    /// The kernels the layers get. [`KernelSet::PORTABLE`] (the default) is what generated
    /// code must use; [`Options::host`] picks the fastest this CPU runs, for running here.
    pub kernels: KernelSet,
    /// Which kernels the model is converted for.
    pub target: crate::Target,
    /// The batch an unknown batch dimension (`-1` in a tensor's `shape_signature`) is fixed
    /// to; shape arithmetic is then folded for it.
    pub batch: usize,
    /// Which dense convolutions keep int8 weights on the Cortex-M DSP target instead of the
    /// faster 16-bit pre-shifted weights, which take twice the flash: none (the default), all,
    /// or those of the given TFLite operator indices. See [`crate::Int8Weights`].
    pub int8_weights: crate::Int8Weights,
    /// Run a prefix of the network in bands ([`crate::patch`]): the prefix ending with this
    /// TFLite operator, in this many bands of its output's rows. `None` (the default) runs
    /// every layer whole, unless a budget needs otherwise.
    pub patch: Option<PatchChoice>,
    /// Read input 0 in place from the caller's buffer rather than copying it into the arena
    /// (see `ferrite_core::Model::input_in_place`): the arena is smaller by the input's bytes
    /// wherever the input was part of the peak. Default `false`, unless a budget needs it.
    pub input_in_place: bool,
    /// Run depthwise convolutions in place where it is safe ([`crate::inplace`]): the output
    /// overwrites the input, on the portable kernel. Default `false`, unless a budget needs it.
    pub in_place_ops: bool,
    /// With `in_place_ops`: only the depthwise convolutions at steps where more than this many
    /// activation bytes are alive run in place (the fewest a budget needs); `None`: all that
    /// can.
    pub in_place_limit: Option<usize>,
    /// Most arena bytes the plan may use: the converter picks the fastest plan that fits
    /// (patch-based prefix and band count, input read in place) or fails naming the smallest
    /// arena it reached. `None`: no limit (the fastest plan).
    pub max_arena: Option<usize>,
    /// Most flash (code and constants) the plan may use: the estimate (`Report::flash_bytes`)
    /// must come within 1% below it ([`crate::budget::usable_flash`]); the DSP convolutions keep
    /// int8 weights, fewest first, until it does (see [`crate::budget`]). `None`: no limit.
    pub max_flash: Option<usize>,
}

/// A patch-based prefix: the operators up to and including TFLite operator `last_op` run in
/// `bands` bands of their output's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PatchChoice {
    /// TFLite index of the prefix's last operator.
    pub last_op: usize,
    /// Number of bands.
    pub bands: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            planner_effort: 4000,
            kernels: KernelSet::PORTABLE,
            target: crate::Target::Portable,
            batch: 1,
            patch: None,
            input_in_place: false,
            in_place_ops: false,
            in_place_limit: None,
            max_arena: None,
            max_flash: None,
            int8_weights: crate::Int8Weights::None,
        }
    }
}

impl Options {
    /// Options for running the model on this machine: the fastest kernels the CPU supports
    /// (or those `FERRITE_KERNELS` names, see [`crate::kernels::from_env`]). Models converted
    /// with these are for [`Compiled::model`], not for [`crate::emit`]. Fails only for a
    /// `FERRITE_KERNELS` this CPU cannot run.
    pub fn host() -> std::result::Result<Options, String> {
        let kernels = crate::kernels::from_env()?;
        Ok(Options {
            kernels,
            ..Options::default()
        })
    }
}

/// One activation tensor, as the tools report it.
#[derive(Debug, Clone, Serialize)]
pub struct TensorReport {
    /// Runtime id.
    pub id: u16,
    /// Index in the TFLite subgraph.
    pub tflite_index: usize,
    /// Name from the file.
    pub name: String,
    /// Element type (`int8`, `float32`, ...).
    pub dtype: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Arena offset.
    pub offset: usize,
    /// Size in bytes.
    pub bytes: usize,
    /// Quantization scale (0 for float).
    pub scale: f32,
    /// Quantization zero point.
    pub zero_point: i32,
}

/// One buffer of the arena plan: a tensor (with the tensors that alias it, such as a
/// reshape's output sharing its input's bytes) or one layer's kernel scratch.
#[derive(Debug, Clone, Serialize)]
pub struct BufferReport {
    /// The tensors (runtime ids) stored in it; empty for kernel scratch.
    pub tensors: Vec<u16>,
    /// The layer whose kernel scratch it is, if it is scratch.
    pub scratch_of_layer: Option<usize>,
    /// Arena offset.
    pub offset: usize,
    /// Size in bytes (its largest tensor's).
    pub bytes: usize,
    /// First layer step at which it is alive (0 for model inputs).
    pub first_layer: usize,
    /// Last layer step at which it is alive, inclusive; model outputs stay alive until the
    /// step after the last layer (the number of layers), when the caller reads them.
    pub last_layer: usize,
}

/// One layer, as the tools report it.
#[derive(Debug, Clone, Serialize)]
pub struct LayerReport {
    /// Layer index (execution order).
    pub index: usize,
    /// TFLite operator name.
    pub op: String,
    /// Index of the TFLite operator it came from.
    pub tflite_op: usize,
    /// The kernel entry that runs it.
    pub kernel: &'static str,
    /// Activation tensors read (runtime ids).
    pub inputs: Vec<u16>,
    /// Activation tensors written (runtime ids).
    pub outputs: Vec<u16>,
    /// Input shapes.
    pub input_shapes: Vec<Vec<usize>>,
    /// Output shapes.
    pub output_shapes: Vec<Vec<usize>>,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Bytes of constants it owns (weights, biases, tables).
    pub param_bytes: usize,
    /// Arena offset of its (first) output.
    pub arena_offset: usize,
    /// Arena bytes alive while it runs: the buffers it reads and writes, its scratch, and
    /// every buffer held for a later layer.
    pub live_bytes: usize,
}

/// What the converter reports about a model.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Layers.
    pub layers: Vec<LayerReport>,
    /// Activation tensors.
    pub tensors: Vec<TensorReport>,
    /// The arena plan: every buffer with its bytes and lifetime, as the planner placed it.
    pub buffers: Vec<BufferReport>,
    /// Total multiply-accumulates per inference.
    pub macs: u64,
    /// Bytes of the constant blob (weights, biases, multipliers, tables).
    pub weight_bytes: usize,
    /// Estimated flash of a firmware running the model on the conversion's target: the
    /// constants as emitted, the layer and tensor tables, and the code of the kernels the
    /// layers use plus a runtime base ([`crate::flash::estimate`]).
    pub flash_bytes: usize,
    /// Bytes of arena the plan needs.
    pub arena_bytes: usize,
    /// Largest total size of tensors alive at once: no layer-by-layer plan needs less.
    pub arena_lower_bound: usize,
    /// Sum of all activation tensors (what a planner without reuse would need).
    pub naive_activation_bytes: usize,
    /// Things accepted with a caveat.
    pub warnings: Vec<String>,
    /// Operators the converter evaluated or rewrote, so that no layer runs them
    /// ([`crate::fold`]), e.g. `#4 SHAPE: evaluated at conversion`.
    pub folded: Vec<String>,
    /// The patch-based prefix, if the plan runs one ([`crate::patch`]).
    pub patch: Option<crate::patch::PatchReport>,
    /// Input 0 is read in place from the caller's buffer, outside the arena.
    pub input_in_place: bool,
    /// Layers whose output overwrites their input ([`crate::inplace`]).
    pub in_place_layers: Vec<usize>,
    /// The layer-by-layer lower bound of the unpatched network with its input in the arena
    /// (aligned tensors, no kernel scratch): what a plan that runs every layer whole needs at
    /// least, for comparison with `arena_bytes`.
    pub layerwise_lower_bound: usize,
    /// Bytes of the persistent state region (`STATE_BYTES`; 0 for a stateless model).
    pub state_bytes: usize,
    /// The variable tensors in the state region, by slot.
    pub state: Vec<StateReport>,
}

/// One variable (stateful) tensor in the persistent state region.
#[derive(Debug, Clone, Serialize)]
pub struct StateReport {
    /// Slot number (what the layers name).
    pub slot: usize,
    /// Index in the TFLite subgraph.
    pub tflite_index: usize,
    /// Name from the file.
    pub name: String,
    /// Element type (`int16`, `float32`, ...).
    pub dtype: String,
    /// Shape.
    pub shape: Vec<usize>,
    /// Offset in the state region.
    pub offset: usize,
    /// Size in bytes.
    pub bytes: usize,
    /// The byte a reset fills it with.
    pub fill: u8,
}

/// A converted model: the runtime tables plus the report.
pub struct Compiled {
    /// Activation tensors with their arena offsets.
    pub tensors: Vec<Tensor>,
    /// Layers with their kernels.
    pub layers: Vec<Layer>,
    /// The constant blob.
    pub consts: AlignedBytes,
    /// Model inputs.
    pub inputs: Vec<TensorId>,
    /// Model outputs.
    pub outputs: Vec<TensorId>,
    /// Bytes of arena needed.
    pub arena_bytes: usize,
    /// The persistent state region's slots ([`ferrite_core::StatePlan::slots`]).
    pub state_slots: Vec<ferrite_core::StateSlot>,
    /// Bytes of the state region.
    pub state_bytes: usize,
    /// Names of the tensors (parallel to `tensors`).
    pub tensor_names: Vec<String>,
    /// Report for people and tools.
    pub report: Report,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("layers", &self.layers.len())
            .field("arena_bytes", &self.arena_bytes)
            .finish_non_exhaustive()
    }
}

impl Compiled {
    /// The runtime view, ready to run on the host with the same executor and kernels as the
    /// device.
    pub fn model(&self) -> Model<'_> {
        Model {
            tensors: &self.tensors,
            layers: &self.layers,
            consts: self.consts.as_slice(),
            inputs: &self.inputs,
            outputs: &self.outputs,
            arena_bytes: self.arena_bytes,
            state: ferrite_core::StatePlan {
                bytes: self.state_bytes,
                slots: &self.state_slots,
            },
        }
    }

    /// A 16-byte aligned state region of the right size for this model, reset as
    /// [`Model::reset_state`] does (empty for a stateless model).
    pub fn new_state(&self) -> AlignedBytes {
        let mut state = AlignedBytes::new(&vec![0u8; self.state_bytes]);
        // The region has the model's size and alignment, and the converter planned every
        // slot inside it: the reset cannot fail.
        let _ = self.model().reset_state(state.as_mut_slice());
        state
    }

    /// A zeroed, 16-byte aligned arena of the right size for this model.
    pub fn new_arena(&self) -> AlignedBytes {
        AlignedBytes::new(&vec![0u8; self.arena_bytes])
    }

    /// Input tensor `i`.
    pub fn input(&self, i: usize) -> Option<&Tensor> {
        self.inputs
            .get(i)
            .and_then(|id| self.tensors.get(id.0 as usize))
    }

    /// Output tensor `i`.
    pub fn output(&self, i: usize) -> Option<&Tensor> {
        self.outputs
            .get(i)
            .and_then(|id| self.tensors.get(id.0 as usize))
    }
}

/// Converts a `.tflite` file's bytes.
pub fn compile(bytes: &[u8], options: &Options) -> Result<Compiled> {
    let tf = tflite::read(bytes)?;
    if options.batch == 0 {
        return Err(crate::error::ConvertError::Model(
            "the batch must be at least 1".into(),
        ));
    }
    let mut graph = Graph::build_with_batch(&tf, options.batch)?;
    crate::fold::fold(&mut graph)?;
    crate::fold::rewrite_dilated_convs(&mut graph);
    if options.max_arena.is_some() || options.max_flash.is_some() {
        return crate::budget::fit(&graph, options);
    }
    compile_graph(graph, options)
}

/// Lowers and plans `graph` as `options` fix it (patch and input placement; budgets are
/// [`crate::budget`]'s).
pub(crate) fn compile_graph(mut graph: Graph<'_>, options: &Options) -> Result<Compiled> {
    let layerwise_floor = crate::patch::activation_floor(&graph, false);
    let mut patch = None;
    if let Some(choice) = options.patch {
        let prefix = crate::patch::prefixes(&graph)
            .into_iter()
            .find(|p| graph.ops.get(p.end - 1).is_some_and(|op| op.index == choice.last_op))
            .ok_or_else(|| {
                crate::error::ConvertError::Model(format!(
                    "patch-based execution: no prefix of the network ends with operator #{} (the prefix must start at the input, hold only convolutions, pools and element-wise operators, and hand one tensor to the rest)",
                    choice.last_op
                ))
            })?;
        patch = Some(crate::patch::apply(&mut graph, &prefix, choice.bands)?);
    }
    graph.input_in_place = options.input_in_place;
    if options.in_place_ops {
        let ops = match options.in_place_limit {
            Some(limit) => crate::inplace::needed(&graph, options.input_in_place, limit),
            None => crate::inplace::candidates(&graph),
        };
        crate::inplace::merge_views(&mut graph, &ops);
        graph.in_place_ops = ops;
    }
    let lowered = lower(&graph, options.target, &options.int8_weights)?;
    let mut c = assemble(&graph, lowered, options)?;
    c.report.patch = patch;
    c.report.input_in_place = options.input_in_place;
    c.report.in_place_layers = c
        .layers
        .iter()
        .enumerate()
        .filter(|(_, l)| matches!(l.op, ferrite_core::Op::DepthwiseInPlaceI8(_)))
        .map(|(i, _)| i)
        .collect();
    c.report.layerwise_lower_bound = layerwise_floor;
    Ok(c)
}

fn assemble(graph: &Graph<'_>, lowered: Lowered, options: &Options) -> Result<Compiled> {
    let Lowered {
        layers: low_layers,
        tensors: act,
        aliases,
        mut pool,
        mut warnings,
        state_slots,
        state_tensors,
        state_names,
        state_bytes,
    } = lowered;
    // Reported weights are the model's own, not the host-only packed copies added below.
    let weight_bytes = pool.bytes().len();
    let mut all_warnings = graph.warnings.clone();
    all_warnings.append(&mut warnings);

    // TFLite index → runtime id.
    let mut id_of = vec![usize::MAX; graph.tensors.len()];
    for (id, &t) in act.iter().enumerate() {
        id_of[t] = id;
    }
    // Alias groups: an alias shares the buffer of its target's group.
    // Views (rows of a tensor a band of a patched prefix reads or writes, or an in-place
    // layer's output over its input) share their root's buffer at a byte offset. Both kinds
    // join groups by union-find, so an alias of a view (a RESHAPE of an in-place depthwise
    // output) lands in the view's buffer whichever was recorded first.
    let view_root = graph.view_roots();
    let view_offset = graph.view_offsets();
    let mut parent: Vec<usize> = (0..act.len()).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    let joins = aliases
        .iter()
        .map(|&(alias, target)| (id_of[alias], id_of[target]))
        .chain(
            graph
                .views
                .iter()
                .map(|v| (id_of[v.tensor], id_of[view_root[v.tensor]])),
        );
    for (member, to) in joins.collect::<Vec<_>>() {
        if member != usize::MAX && to != usize::MAX {
            let (a, b) = (find(&mut parent, member), find(&mut parent, to));
            parent[a] = b;
        }
    }
    let group: Vec<usize> = (0..act.len()).map(|i| find(&mut parent, i)).collect();
    // An input read in place lives in the caller's buffer: no arena bytes, and no layer may
    // write its bytes.
    let in_place_group = if graph.input_in_place {
        let input = graph.inputs.first().map(|&i| id_of[i]);
        let g = input
            .filter(|&i| i != usize::MAX)
            .map(|i| group[i])
            .ok_or_else(|| crate::error::ConvertError::Model("no input to read in place".into()))?;
        let written = low_layers
            .iter()
            .flat_map(|l| &l.outputs)
            .any(|&t| id_of[t] != usize::MAX && group[id_of[t]] == g);
        if written
            || graph
                .outputs
                .iter()
                .any(|&o| id_of[o] != usize::MAX && group[id_of[o]] == g)
        {
            return Err(crate::error::ConvertError::Model(
                "input 0 cannot be read in place: the model writes or outputs its bytes".into(),
            ));
        }
        Some(g)
    } else {
        None
    };
    let size_of = |t: usize| {
        graph.tensors[t].num_elements() * graph.tensors[t].dtype.map_or(1, |d| d.size_bytes())
    };

    // Lifetimes of groups, in layer steps.
    let n_layers = low_layers.len();
    let mut first = vec![usize::MAX; act.len()];
    let mut last = vec![0usize; act.len()];
    let touch = |id: usize, t: usize, first: &mut Vec<usize>, last: &mut Vec<usize>| {
        let g = group[id];
        first[g] = first[g].min(t);
        last[g] = last[g].max(t);
    };
    for &i in &graph.inputs {
        touch(id_of[i], 0, &mut first, &mut last);
    }
    for (step, l) in low_layers.iter().enumerate() {
        for &t in l.inputs.iter().chain(&l.outputs) {
            if id_of[t] != usize::MAX {
                touch(id_of[t], step, &mut first, &mut last);
            }
        }
    }
    for &o in &graph.outputs {
        touch(id_of[o], n_layers, &mut first, &mut last);
    }
    let roots: Vec<usize> = (0..act.len()).filter(|&i| group[i] == i).collect();
    // Each group's size is its largest member's, gathered in one pass (a pass per group was
    // quadratic: seconds for a hostile file with tens of thousands of tensors).
    let mut group_size = vec![0usize; act.len()];
    for (i, &t) in act.iter().enumerate() {
        group_size[group[i]] = group_size[group[i]].max(size_of(t));
    }
    let mut buffers: Vec<Buffer> = roots
        .iter()
        .map(|&r| {
            let size = if in_place_group == Some(r) {
                0
            } else {
                group_size[r]
            };
            let f = if first[r] == usize::MAX { 0 } else { first[r] };
            Buffer {
                size,
                first: f,
                last: last[r].max(f),
            }
        })
        .collect();
    // Kernel scratch lives only while its layer runs.
    let scratch_layers: Vec<usize> = (0..n_layers)
        .filter(|&i| low_layers[i].scratch_bytes > 0)
        .collect();
    buffers.extend(scratch_layers.iter().map(|&i| Buffer {
        size: low_layers[i].scratch_bytes,
        first: i,
        last: i,
    }));
    let p = plan(&buffers, options.planner_effort);
    if p.arena_bytes > MAX_ARENA_BYTES {
        // Name the largest activation: the usual culprit is one corrupted dimension.
        let largest = act.iter().copied().max_by_key(|&t| size_of(t));
        let (index, name) =
            largest.map_or((0, String::new()), |t| (t, graph.tensors[t].name.clone()));
        return Err(crate::error::ConvertError::Tensor {
            index,
            name,
            message: format!(
                "the activations need an arena of {} bytes, more than the {MAX_ARENA_BYTES} the converter accepts (this tensor is the largest, {} bytes)",
                p.arena_bytes,
                largest.map_or(0, size_of)
            ),
        });
    }
    let mut offset_of_root = vec![0usize; act.len()];
    for (k, &r) in roots.iter().enumerate() {
        offset_of_root[r] = if in_place_group == Some(r) {
            p.arena_bytes
        } else {
            p.offsets[k]
        };
    }
    let mut low_layers = low_layers;
    for (k, &i) in scratch_layers.iter().enumerate() {
        let offset = p.offsets[roots.len() + k] as u32;
        match &mut low_layers[i].op {
            ferrite_core::Op::ConvGemmI8(g) => g.scratch_offset = offset,
            ferrite_core::Op::AddI8(a) => a.scratch_offset = offset,
            ferrite_core::Op::DepthwiseDspI8(d) => d.scratch_offset = offset,
            ferrite_core::Op::DepthwiseDspPackedI8(d) => d.scratch_offset = offset,
            ferrite_core::Op::DepthwiseInPlaceI8(d) => d.scratch_offset = offset,
            ferrite_core::Op::ConvHeliumI8(c) => c.scratch_offset = offset,
            ferrite_core::Op::ConvGemmI16(c) => c.scratch_offset = offset,
            ferrite_core::Op::DepthwiseDspI16(d) => d.scratch_offset = offset,
            ferrite_core::Op::DepthwiseHeliumI8(d) => d.scratch_offset = offset,
            ferrite_core::Op::DetectionPostprocess(d) => d.scratch_offset = offset,
            ferrite_core::Op::SignalIrfftI16(d) => d.scratch_offset = offset,
            ferrite_core::Op::SignalIrfftF32(d) => d.scratch_offset = offset,
            _ => {}
        }
    }

    let mut tensors = Vec::with_capacity(act.len());
    let mut tensor_reports = Vec::with_capacity(act.len());
    for (id, &t) in act.iter().enumerate() {
        let gt = &graph.tensors[t];
        let dtype = gt.dtype.unwrap_or(DType::I8);
        let dims: Vec<u32> = gt.shape.iter().map(|&d| d as u32).collect();
        let (scale, zero_point) = gt.qparams().map_or((0.0, 0), |q| (q.scale, q.zero_point));
        let offset = offset_of_root[group[id]] + view_offset[t];
        tensors.push(Tensor {
            offset: offset as u32,
            dtype,
            shape: Shape::new(&dims),
            scale,
            zero_point,
        });
        tensor_reports.push(TensorReport {
            id: id as u16,
            tflite_index: t,
            name: gt.name.clone(),
            dtype: dtype.name().into(),
            shape: gt.shape.clone(),
            offset,
            bytes: size_of(t),
            scale,
            zero_point,
        });
    }

    let live = crate::plan::live_at(&buffers, n_layers);
    let mut layers = Vec::with_capacity(n_layers);
    let mut layer_reports = Vec::with_capacity(n_layers);
    for (index, l) in low_layers.iter().enumerate() {
        let op = crate::kernels::prepare(l.op, &mut pool, options.kernels);
        let entry = ferrite_kernels::registry::kernel_for_set(&op, options.kernels);
        let name = op_name_static(&l.name);
        layers.push(Layer {
            op,
            kernel: entry.run,
            name,
        });
        let ids = |v: &[usize]| {
            v.iter()
                .filter(|&&t| id_of[t] != usize::MAX)
                .map(|&t| id_of[t] as u16)
                .collect::<Vec<_>>()
        };
        let shapes = |v: &[usize]| {
            v.iter()
                .map(|&t| graph.tensors[t].shape.clone())
                .collect::<Vec<_>>()
        };
        let outputs = ids(&l.outputs);
        layer_reports.push(LayerReport {
            index,
            op: l.name.clone(),
            tflite_op: l.source_op,
            kernel: entry.path,
            inputs: ids(&l.inputs),
            input_shapes: shapes(&l.inputs),
            output_shapes: shapes(&l.outputs),
            arena_offset: outputs
                .first()
                .map_or(0, |&o| tensors[o as usize].offset as usize),
            outputs,
            macs: l.macs,
            param_bytes: l.param_bytes,
            live_bytes: live.get(index).copied().unwrap_or(0),
        });
    }
    let inputs: Vec<TensorId> = graph
        .inputs
        .iter()
        .map(|&i| TensorId(id_of[i] as u16))
        .collect();
    let outputs: Vec<TensorId> = graph
        .outputs
        .iter()
        .map(|&i| TensorId(id_of[i] as u16))
        .collect();
    let naive = act.iter().map(|&t| size_of(t)).sum();
    // The planner's buffers in its order: alias groups (by root), then kernel scratch.
    // Members are gathered in one pass, as the group sizes are.
    let mut members: Vec<Vec<u16>> = vec![Vec::new(); act.len()];
    for (i, &g) in group.iter().enumerate() {
        members[g].push(i as u16);
    }
    let buffer_reports = roots
        .iter()
        .map(|&r| (std::mem::take(&mut members[r]), None))
        .chain(scratch_layers.iter().map(|&l| (Vec::new(), Some(l))))
        .zip(buffers.iter().zip(&p.offsets))
        .map(|((tensors, scratch_of_layer), (b, &offset))| BufferReport {
            tensors,
            scratch_of_layer,
            offset,
            bytes: b.size,
            first_layer: b.first,
            last_layer: b.last,
        })
        .collect();
    // Host-only packed copies (added by `prepare` for host kernels) are not emitted.
    let emitted = if options.kernels == KernelSet::PORTABLE {
        pool.bytes().len()
    } else {
        weight_bytes
    };
    let flash_bytes = crate::flash::estimate(options.target, &layers, tensors.len(), emitted);
    let report = Report {
        flash_bytes,
        buffers: buffer_reports,
        macs: layer_reports.iter().map(|l| l.macs).sum(),
        layers: layer_reports,
        tensors: tensor_reports,
        weight_bytes,
        arena_bytes: p.arena_bytes,
        arena_lower_bound: p.lower_bound,
        naive_activation_bytes: naive,
        warnings: all_warnings,
        folded: graph.folded.clone(),
        patch: None,
        input_in_place: false,
        in_place_layers: Vec::new(),
        layerwise_lower_bound: 0,
        state_bytes,
        state: state_slots
            .iter()
            .zip(state_tensors.iter().zip(state_names))
            .enumerate()
            .map(|(slot, (s, (&t, name)))| {
                let gt = &graph.tensors[t];
                StateReport {
                    slot,
                    tflite_index: t,
                    name,
                    dtype: gt.dtype.map_or("?", |d| d.name()).to_string(),
                    shape: gt.shape.clone(),
                    offset: s.offset as usize,
                    bytes: s.bytes as usize,
                    fill: s.fill,
                }
            })
            .collect(),
    };
    Ok(Compiled {
        tensor_names: act.iter().map(|&t| graph.tensors[t].name.clone()).collect(),
        tensors,
        layers,
        consts: AlignedBytes::new(pool.bytes()),
        inputs,
        outputs,
        arena_bytes: p.arena_bytes,
        state_slots,
        state_bytes,
        report,
    })
}

/// A `'static` name for a layer (the runtime keeps `&'static str`): builtin names come from
/// the schema table, supported custom operators (`CUSTOM:<code>`) from the registry;
/// anything else is a generic label.
fn op_name_static(name: &str) -> &'static str {
    let base = name.split(' ').next().unwrap_or(name);
    let custom = base.strip_prefix("CUSTOM:");
    crate::tflite::opcodes::NAMES
        .iter()
        .chain(crate::lower::SUPPORTED_OPS)
        .find(|n| Some(**n) == custom || **n == base)
        .copied()
        .unwrap_or("OP")
}
