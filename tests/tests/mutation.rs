//! Hostile models, deterministically: thousands of corrupted copies of the real, bundled and
//! single-op models (seeded truncations, bit flips, 32-bit fields set to 0 / -1 / `i32::MAX`,
//! copied byte ranges, random bytes, spliced bytes) and hand-made models that are wrong on
//! purpose (out-of-range indices, overflowing shapes, bad per-channel arrays, cycles, unknown
//! operators, hostile option values, huge buffers and graphs).
//!
//! Every case must end in an `Err` whose message names the byte offset, operator or tensor at
//! fault, or in a model that runs (on a zeroed arena) without error. No case may panic, take
//! longer than [`CASE_TIME_LIMIT`], or allocate more than [`memory_budget`] — a counting global
//! allocator measures every allocation the converter makes.
//!
//! Rerun with `FERRITE_MUTATION_VERBOSE=1` to print each case before it runs (to find the one
//! that hangs or aborts on an allocation beyond [`HARD_ALLOCATION_CAP`]).

use ferrite_convert::tflite::flexbuf::{write_map, FlexValue};
use ferrite_convert::{compile, ConvertError, Options};
use ferrite_tests::tflite_build::{ModelSpec, OpSpec, TensorSpec};
use ferrite_tests::{repo_root, shared_model, shared_models_dir, SHARED_MODELS};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// No case may take longer (conversion plus, for small models, one run).
const CASE_TIME_LIMIT: Duration = Duration::from_secs(5);
/// Converted models are run once when their arena is at most this large...
const RUN_ARENA_LIMIT: usize = 8 << 20;
/// ...and [`ferrite_convert::host::estimated_work`] is at most this (the large shared models
/// are converted only; the conformance tests run them).
const RUN_WORK_LIMIT: u64 = 4_000_000;
/// A thread that allocates beyond this much live memory gets an allocation failure, which
/// aborts the test binary instead of exhausting the machine.
const HARD_ALLOCATION_CAP: usize = 1 << 30;
/// At least this many cases run, shared models or not.
const MIN_CASES: usize = 5000;

/// Peak live bytes a case may allocate: proportional to the file (the converter copies the
/// constants once into its pool) plus a fixed allowance for tables, reports and the arena.
fn memory_budget(file_len: usize) -> usize {
    (64 << 20) + 16 * file_len
}

/// A global allocator that counts each thread's live and peak bytes.
mod counting {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        // Const-initialised `Cell<usize>`s have no destructor, so they can be used from the
        // allocator at any time without allocating.
        static LIVE: Cell<usize> = const { Cell::new(0) };
        static PEAK: Cell<usize> = const { Cell::new(0) };
    }

    /// Counts allocations per thread; refuses any that would exceed the hard cap.
    pub struct Counting;

    fn grow(bytes: usize) -> bool {
        LIVE.try_with(|live| {
            let now = live.get().saturating_add(bytes);
            if now > super::HARD_ALLOCATION_CAP {
                return false;
            }
            live.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
            true
        })
        .unwrap_or(true)
    }

    fn shrink(bytes: usize) {
        let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(bytes)));
    }

    // SAFETY: every method forwards to `System` with the caller's arguments unchanged; the
    // counters only decide whether to forward an allocation at all (returning null is the
    // documented way to report failure).
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            if !grow(layout.size()) {
                return std::ptr::null_mut();
            }
            // SAFETY: forwarded as is.
            unsafe { System.alloc(layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            if !grow(layout.size()) {
                return std::ptr::null_mut();
            }
            // SAFETY: forwarded as is.
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            shrink(layout.size());
            // SAFETY: forwarded as is.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            if new_size > layout.size() {
                if !grow(new_size - layout.size()) {
                    return std::ptr::null_mut();
                }
            } else {
                shrink(layout.size() - new_size);
            }
            // SAFETY: forwarded as is.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    /// Starts measuring this thread's peak from its current live bytes.
    pub fn reset_peak() -> usize {
        let live = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(live));
        live
    }

    /// This thread's peak live bytes since [`reset_peak`].
    pub fn peak() -> usize {
        PEAK.with(Cell::get)
    }
}

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

/// A small deterministic PRNG (xorshift64*).
#[derive(Clone)]
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// A model file to mutate, and where its structure (everything but constant data) lies.
struct Source {
    name: String,
    bytes: Vec<u8>,
    /// Offsets outside constant buffers: tables, vtables, vectors, strings.
    structure: Vec<usize>,
}

impl Source {
    fn new(name: String, bytes: Vec<u8>) -> Source {
        let mut in_data = vec![false; bytes.len()];
        let model = ferrite_convert::tflite::read(&bytes)
            .unwrap_or_else(|e| panic!("source model {name} does not read: {e}"));
        for b in &model.buffers {
            for flag in in_data.iter_mut().skip(b.pos).take(b.data.len()) {
                *flag = true;
            }
        }
        let structure = (0..bytes.len()).filter(|&i| !in_data[i]).collect();
        Source {
            name,
            bytes,
            structure,
        }
    }

    /// An offset to corrupt: nine times in ten in the structure.
    fn offset(&self, rng: &mut Rng) -> usize {
        if rng.below(10) < 9 && !self.structure.is_empty() {
            self.structure[rng.below(self.structure.len())]
        } else {
            rng.below(self.bytes.len())
        }
    }
}

const FIELD_VALUES: [i32; 9] = [0, -1, i32::MAX, i32::MIN, 1, 0x7fff, 0x10000, -4, 255];

/// The `k`-th seeded mutant of `src`.
fn mutate(src: &Source, k: usize) -> (String, Vec<u8>) {
    let mut rng = Rng::new(0xf3ee_0000 ^ (k as u64) << 20 ^ src.bytes.len() as u64);
    let mut b = src.bytes.clone();
    let len = b.len();
    let label = match k % 7 {
        0 => {
            let cut = rng.below(len);
            b.truncate(cut);
            format!("truncated to {cut} bytes")
        }
        1 | 2 => {
            let flips = 1 + rng.below(4);
            let mut at = Vec::new();
            for _ in 0..flips {
                let i = src.offset(&mut rng);
                b[i] ^= 1 << rng.below(8);
                at.push(i);
            }
            format!("bits flipped at {at:?}")
        }
        3 => {
            let i = src.offset(&mut rng) & !3;
            let v = rng.pick(&FIELD_VALUES);
            for (d, s) in b.iter_mut().skip(i).zip(v.to_le_bytes()) {
                *d = s;
            }
            format!("32-bit field at {i} set to {v}")
        }
        4 => {
            let n = 1 + rng.below(64);
            let from = rng.below(len);
            let to = src.offset(&mut rng);
            let chunk: Vec<u8> = b.iter().skip(from).take(n).copied().collect();
            for (d, s) in b.iter_mut().skip(to).zip(chunk) {
                *d = s;
            }
            format!("{n} bytes copied from {from} to {to}")
        }
        5 => {
            let n = 1 + rng.below(32);
            let at = src.offset(&mut rng);
            for d in b.iter_mut().skip(at).take(n) {
                *d = rng.next() as u8;
            }
            format!("{n} random bytes at {at}")
        }
        _ => {
            let at = src.offset(&mut rng);
            let n = 1 + rng.below(16);
            if rng.below(2) == 0 {
                b.drain(at..(at + n).min(len));
                format!("{n} bytes deleted at {at}")
            } else {
                let noise: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                b.splice(at..at, noise);
                format!("{n} bytes inserted at {at}")
            }
        }
    };
    (format!("{}: mutant {k}: {label}", src.name), b)
}

/// Every 4-byte-aligned structural field of `src` set to `value`.
fn field_sweep(src: &Source, value: i32) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut last = usize::MAX;
    for &i in &src.structure {
        let at = i & !3;
        if at == last || at + 4 > src.bytes.len() {
            continue;
        }
        last = at;
        let mut b = src.bytes.clone();
        b[at..at + 4].copy_from_slice(&value.to_le_bytes());
        out.push((format!("{}: field at {at} set to {value}", src.name), b));
    }
    out
}

/// Files that are random from the start (with and without the TFLite identifier).
fn random_files(n: usize) -> Vec<(String, Vec<u8>)> {
    (0..n)
        .map(|k| {
            let mut rng = Rng::new(0x5eed ^ k as u64);
            let len = rng.below(if k % 4 == 0 { 16 } else { 2048 });
            let mut b: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            if k % 2 == 0 && len >= 8 {
                b[4..8].copy_from_slice(b"TFL3");
                let root = (rng.below(len) as u32).to_le_bytes();
                b[..4].copy_from_slice(&root);
            }
            (format!("random file {k} ({len} bytes)"), b)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Hand-made models.

/// TFLite builtin operator codes used below.
mod code {
    pub const ADD: i32 = 0;
    pub const AVERAGE_POOL_2D: i32 = 1;
    pub const CONCATENATION: i32 = 2;
    pub const CONV_2D: i32 = 3;
    pub const DEPTHWISE_CONV_2D: i32 = 4;
    pub const DEQUANTIZE: i32 = 6;
    pub const FULLY_CONNECTED: i32 = 9;
    pub const LOGISTIC: i32 = 14;
    pub const MAX_POOL_2D: i32 = 17;
    pub const MUL: i32 = 18;
    pub const RELU: i32 = 19;
    pub const RESHAPE: i32 = 22;
    pub const SOFTMAX: i32 = 25;
    pub const TANH: i32 = 28;
    pub const CUSTOM: i32 = 32;
    pub const PAD: i32 = 34;
    pub const MEAN: i32 = 40;
    pub const SUB: i32 = 41;
    pub const LEAKY_RELU: i32 = 98;
    pub const QUANTIZE: i32 = 114;
    pub const HARD_SWISH: i32 = 117;
}

fn i8_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| rng.next() as u8).collect()
}
fn i32_bytes(values: &[i32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}
fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A one-operator model: activations `acts` (the first is the graph input, the last the
/// output), constants `consts` appended after them, operator inputs `inputs`.
fn one_op(
    code: i32,
    acts: Vec<TensorSpec>,
    consts: Vec<(TensorSpec, Vec<u8>)>,
    inputs: &[i32],
    options: Option<(u8, Vec<(u16, i32)>)>,
) -> ModelSpec {
    let n_acts = acts.len() as i32;
    let mut m = ModelSpec {
        opcodes: vec![code],
        tensors: acts,
        buffers: vec![vec![]],
        ..Default::default()
    };
    for (t, data) in consts {
        m.push_const(t, data);
    }
    let mut op = OpSpec::new(0, inputs, &[n_acts - 1]);
    op.options = options;
    m.ops = vec![op];
    m.inputs = vec![0];
    m.outputs = vec![n_acts - 1];
    m
}

/// Valid single-operator models covering every operator family the converter lowers; the
/// hostile cases below start from each of them.
// One commented `push` per template reads better than a single vec![] literal.
#[allow(clippy::vec_init_then_push)]
fn templates() -> Vec<(&'static str, ModelSpec)> {
    let q = TensorSpec::i8;
    let mut t = Vec::new();
    // CONV_2D int8, per-channel filter, SAME padding: [1,5,5,2] -> [1,5,5,3].
    t.push((
        "conv_i8",
        one_op(
            code::CONV_2D,
            vec![
                q("in", &[1, 5, 5, 2], 0.5, 1),
                q("out", &[1, 5, 5, 3], 0.25, -2),
            ],
            vec![
                (
                    TensorSpec::i8_per_channel("w", &[3, 3, 3, 2], &[0.01, 0.02, 0.03], 0),
                    i8_bytes(54, 1),
                ),
                (TensorSpec::i32("b", &[3]), i32_bytes(&[10, -20, 30])),
            ],
            &[0, 2, 3],
            Some((1, vec![(4, 0), (6, 1), (8, 1), (10, 1)])),
        ),
    ));
    // DEPTHWISE_CONV_2D int8, depth multiplier 2, VALID: [1,5,5,2] -> [1,3,3,4].
    t.push((
        "dwconv_i8",
        one_op(
            code::DEPTHWISE_CONV_2D,
            vec![
                q("in", &[1, 5, 5, 2], 0.5, 0),
                q("out", &[1, 3, 3, 4], 0.5, 3),
            ],
            vec![
                (
                    TensorSpec::i8_per_channel("w", &[1, 3, 3, 4], &[0.1, 0.2, 0.3, 0.4], 3),
                    i8_bytes(36, 2),
                ),
                (TensorSpec::i32("b", &[4]), i32_bytes(&[1, 2, 3, 4])),
            ],
            &[0, 2, 3],
            Some((2, vec![(4, 1), (6, 1), (8, 1), (10, 2), (12, 3)])),
        ),
    ));
    // FULLY_CONNECTED int8: [2,8] x [4,8]^T -> [2,4].
    t.push((
        "fc_i8",
        one_op(
            code::FULLY_CONNECTED,
            vec![q("in", &[2, 8], 0.1, 5), q("out", &[2, 4], 0.2, -1)],
            vec![
                (q("w", &[4, 8], 0.05, 0), i8_bytes(32, 3)),
                (TensorSpec::i32("b", &[4]), i32_bytes(&[7, 0, -7, 100])),
            ],
            &[0, 2, 3],
            Some((8, vec![(4, 0)])),
        ),
    ));
    // FULLY_CONNECTED float.
    t.push((
        "fc_f32",
        one_op(
            code::FULLY_CONNECTED,
            vec![
                TensorSpec::f32("in", &[1, 3]),
                TensorSpec::f32("out", &[1, 2]),
            ],
            vec![
                (
                    TensorSpec::f32("w", &[2, 3]),
                    f32_bytes(&[1.0, -1.0, 0.5, 2.0, 0.0, -0.25]),
                ),
                (TensorSpec::f32("b", &[2]), f32_bytes(&[0.5, -0.5])),
            ],
            &[0, 2, 3],
            None,
        ),
    ));
    // CONV_2D float, stride 2, dilation 1, VALID: [1,5,5,1] -> [1,2,2,2].
    t.push((
        "conv_f32",
        one_op(
            code::CONV_2D,
            vec![
                TensorSpec::f32("in", &[1, 5, 5, 1]),
                TensorSpec::f32("out", &[1, 2, 2, 2]),
            ],
            vec![(TensorSpec::f32("w", &[2, 3, 3, 1]), f32_bytes(&[0.5; 18]))],
            &[0, 2],
            Some((1, vec![(4, 1), (6, 2), (8, 2), (10, 3)])),
        ),
    ));
    // AVERAGE_POOL_2D and MAX_POOL_2D int8: [1,4,4,2] -> [1,2,2,2].
    for (name, c) in [
        ("avgpool_i8", code::AVERAGE_POOL_2D),
        ("maxpool_i8", code::MAX_POOL_2D),
    ] {
        t.push((
            name,
            one_op(
                c,
                vec![
                    q("in", &[1, 4, 4, 2], 0.5, 0),
                    q("out", &[1, 2, 2, 2], 0.5, 0),
                ],
                vec![],
                &[0],
                Some((5, vec![(4, 1), (6, 2), (8, 2), (10, 2), (12, 2)])),
            ),
        ));
    }
    // SOFTMAX int8: output scale 1/256, zero point -128.
    t.push((
        "softmax_i8",
        one_op(
            code::SOFTMAX,
            vec![
                q("in", &[2, 5], 0.1, 0),
                q("out", &[2, 5], 1.0 / 256.0, -128),
            ],
            vec![],
            &[0],
            Some((9, vec![(4, 1.0f32.to_bits() as i32)])),
        ),
    ));
    // ADD, SUB, MUL int8 with a broadcast constant operand.
    for (name, c) in [
        ("add_i8", code::ADD),
        ("sub_i8", code::SUB),
        ("mul_i8", code::MUL),
    ] {
        t.push((
            name,
            one_op(
                c,
                vec![
                    q("a", &[1, 2, 2, 3], 0.1, 0),
                    q("out", &[1, 2, 2, 3], 0.2, 1),
                ],
                vec![(q("b", &[3], 0.05, 2), i8_bytes(3, 4))],
                &[0, 2],
                Some((11, vec![(4, 1)])),
            ),
        ));
    }
    // CONCATENATION int8 of an activation and a constant on axis 2: [1,2,3] + [1,2,2].
    t.push((
        "concat_i8",
        one_op(
            code::CONCATENATION,
            vec![q("a", &[1, 2, 3], 0.1, 0), q("out", &[1, 2, 5], 0.1, 0)],
            vec![(q("b", &[1, 2, 2], 0.1, 0), i8_bytes(4, 5))],
            &[0, 2],
            Some((10, vec![(4, 2)])),
        ),
    ));
    // PAD int8: [1,2,2,1] padded by ((0,0),(1,1),(0,2),(0,0)) -> [1,4,4,1].
    t.push((
        "pad_i8",
        one_op(
            code::PAD,
            vec![
                q("in", &[1, 2, 2, 1], 0.1, 3),
                q("out", &[1, 4, 4, 1], 0.1, 3),
            ],
            vec![(
                TensorSpec::i32("paddings", &[4, 2]),
                i32_bytes(&[0, 0, 1, 1, 0, 2, 0, 0]),
            )],
            &[0, 2],
            None,
        ),
    ));
    // MEAN int8 over axes (1, 2): [1,4,4,3] -> [1,3].
    t.push((
        "mean_i8",
        one_op(
            code::MEAN,
            vec![q("in", &[1, 4, 4, 3], 0.1, 0), q("out", &[1, 3], 0.1, 0)],
            vec![(TensorSpec::i32("axes", &[2]), i32_bytes(&[1, 2]))],
            &[0, 2],
            Some((27, vec![(4, 0)])),
        ),
    ));
    // RESHAPE with a shape operand: [1,2,3] -> [6].
    t.push((
        "reshape_i8",
        one_op(
            code::RESHAPE,
            vec![q("in", &[1, 2, 3], 0.1, 0), q("out", &[6], 0.1, 0)],
            vec![(TensorSpec::i32("shape", &[1]), i32_bytes(&[6]))],
            &[0, 2],
            None,
        ),
    ));
    // QUANTIZE float -> int8 and DEQUANTIZE int8 -> float.
    t.push((
        "quantize",
        one_op(
            code::QUANTIZE,
            vec![TensorSpec::f32("in", &[1, 4]), q("out", &[1, 4], 0.1, -3)],
            vec![],
            &[0],
            None,
        ),
    ));
    t.push((
        "dequantize",
        one_op(
            code::DEQUANTIZE,
            vec![q("in", &[1, 4], 0.1, -3), TensorSpec::f32("out", &[1, 4])],
            vec![],
            &[0],
            None,
        ),
    ));
    // Elementwise int8 functions (tables).
    for (name, c) in [
        ("logistic_i8", code::LOGISTIC),
        ("tanh_i8", code::TANH),
        ("hard_swish_i8", code::HARD_SWISH),
        ("leaky_relu_i8", code::LEAKY_RELU),
        ("relu_i8", code::RELU),
    ] {
        let out_q = if c == code::LOGISTIC {
            q("out", &[1, 8], 1.0 / 256.0, -128)
        } else if c == code::TANH {
            q("out", &[1, 8], 1.0 / 128.0, 0)
        } else {
            q("out", &[1, 8], 0.05, 0)
        };
        t.push((
            name,
            one_op(
                c,
                vec![q("in", &[1, 8], 0.05, 0), out_q],
                vec![],
                &[0],
                (c == code::LEAKY_RELU).then(|| (82, vec![(4, 0.2f32.to_bits() as i32)])),
            ),
        ));
    }
    // Two layers: CONV_2D then a RELU on its output (a graph with an intermediate tensor).
    let mut two = one_op(
        code::CONV_2D,
        vec![
            q("in", &[1, 3, 3, 1], 0.5, 0),
            q("mid", &[1, 3, 3, 1], 0.5, 0),
        ],
        vec![(q("w", &[1, 1, 1, 1], 0.5, 0), vec![3])],
        &[0, 2],
        Some((1, vec![(4, 0), (6, 1), (8, 1)])),
    );
    two.opcodes.push(code::RELU);
    let out = two.push_tensor(q("out", &[1, 3, 3, 1], 0.5, 0));
    two.ops.push(OpSpec::new(1, &[1], &[out]));
    two.outputs = vec![out];
    t.push(("conv_then_relu", two));
    // TFLite_Detection_PostProcess (custom operator, FlexBuffer options), fast NMS: f32
    // [1,6,4] encodings and [1,6,3] scores, 6 constant anchors -> four outputs.
    t.push(("detection_postprocess", detection_template(false)));
    t
}

/// A valid TFLite_Detection_PostProcess model, fast or regular NMS.
fn detection_template(regular: bool) -> ModelSpec {
    let anchors: Vec<f32> = (0..6)
        .flat_map(|i| [0.1 * i as f32, 0.5, 0.3, 0.2 + 0.05 * i as f32])
        .collect();
    ModelSpec::detection_postprocess(2, &anchors, 3, detection_options(&[], regular))
}

/// The template's options with `changes` applied (`FlexValue::Other` removes a key).
fn detection_options(changes: &[(&str, FlexValue)], regular: bool) -> Vec<u8> {
    let mut entries: Vec<(&str, FlexValue)> = vec![
        ("max_detections", FlexValue::Int(3)),
        ("max_classes_per_detection", FlexValue::Int(1)),
        ("detections_per_class", FlexValue::Int(2)),
        ("use_regular_nms", FlexValue::Bool(regular)),
        ("nms_score_threshold", FlexValue::Float(0.3)),
        ("nms_iou_threshold", FlexValue::Float(0.5)),
        ("num_classes", FlexValue::Int(2)),
        ("y_scale", FlexValue::Float(10.0)),
        ("x_scale", FlexValue::Float(10.0)),
        ("h_scale", FlexValue::Float(5.0)),
        ("w_scale", FlexValue::Float(5.0)),
    ];
    for (k, v) in changes {
        entries.retain(|(e, _)| e != k);
        if !matches!(v, FlexValue::Other(_)) {
            entries.push((k, *v));
        }
    }
    write_map(&entries)
}

/// Hostile FlexBuffer options for TFLite_Detection_PostProcess: every option set to every
/// hostile value or removed (both NMS modes), and the valid buffer truncated, bit-flipped and
/// overwritten byte by byte.
fn detection_cases(out: &mut Vec<(String, Vec<u8>)>) {
    let values = [
        FlexValue::Int(0),
        FlexValue::Int(-1),
        FlexValue::Int(1),
        FlexValue::Int(2),
        FlexValue::Int(7),
        FlexValue::Int(i32::MAX as i64),
        FlexValue::Int(i32::MIN as i64),
        FlexValue::Int(i64::MAX),
        FlexValue::UInt(u64::MAX),
        FlexValue::Float(0.0),
        FlexValue::Float(-1.0),
        FlexValue::Float(0.5),
        FlexValue::Float(1e30),
        FlexValue::Float(f64::NAN),
        FlexValue::Float(f64::INFINITY),
        FlexValue::Float(f64::NEG_INFINITY),
        FlexValue::Bool(true),
        FlexValue::Null,
        FlexValue::Other(0),
    ];
    let keys = [
        "max_detections",
        "max_classes_per_detection",
        "detections_per_class",
        "use_regular_nms",
        "nms_score_threshold",
        "nms_iou_threshold",
        "num_classes",
        "y_scale",
        "x_scale",
        "h_scale",
        "w_scale",
    ];
    for regular in [false, true] {
        let m = detection_template(regular);
        for key in keys {
            for v in values {
                let mut s = m.clone();
                s.custom_options = vec![(0, detection_options(&[(key, v)], regular))];
                out.push((
                    format!("detection (regular {regular}): {key} = {v:?}"),
                    s.build(),
                ));
            }
        }
    }
    let m = detection_template(false);
    let good = detection_options(&[], false);
    let mut push = |what: String, bytes: Vec<u8>| {
        let mut s = m.clone();
        s.custom_options = vec![(0, bytes)];
        out.push((format!("detection options {what}"), s.build()));
    };
    for end in 0..good.len() {
        push(format!("truncated to {end} bytes"), good[..end].to_vec());
        push(format!("from byte {end}"), good[end..].to_vec());
    }
    for at in 0..good.len() {
        for v in [0u8, 1, 2, 4, 8, 0x24, 0x27, 0x7f, 0xff] {
            let mut b = good.clone();
            b[at] = v;
            push(format!("byte {at} = {v:#x}"), b);
        }
        let mut b = good.clone();
        b[at] ^= 0x80;
        push(format!("byte {at} flipped"), b);
    }
}

/// Hostile values for 32-bit option fields (floats given by their bits).
const OPTION_VALUES: [i32; 13] = [
    0,
    -1,
    1,
    2,
    7,
    255,
    256,
    i32::MAX,
    i32::MIN,
    0x7f7f_ffff, // f32::MAX
    0x7fc0_0000, // NaN
    0x7f80_0000, // +inf
    -8_388_608,  // -inf (0xff800000)
];

/// Hostile shapes for a tensor.
fn hostile_shapes(shape: &[i32]) -> Vec<Vec<i32>> {
    let mut out = vec![
        vec![],
        vec![0],
        vec![-1],
        vec![i32::MAX],
        vec![i32::MAX, i32::MAX, 2],
        vec![65536, 65536, 65536],
        vec![1 << 16, 1 << 15],
        vec![1, 1, 1, 1, 1, 1, 1],
    ];
    for d in 0..shape.len() {
        for v in [0, shape[d] + 1, -5, i32::MIN] {
            let mut s = shape.to_vec();
            s[d] = v;
            out.push(s);
        }
    }
    let mut dropped = shape.to_vec();
    dropped.pop();
    out.push(dropped);
    let mut extra = shape.to_vec();
    extra.push(1);
    out.push(extra);
    out
}

/// Hostile quantizations of a tensor (each replaces the tensor's scales and zero points).
fn hostile_quants(t: &TensorSpec) -> Vec<(String, TensorSpec)> {
    let with = |f: &dyn Fn(&mut TensorSpec)| {
        let mut c = t.clone();
        f(&mut c);
        c
    };
    let n = t.scale.len().max(1);
    let mut out: Vec<(String, TensorSpec)> = Vec::new();
    for s in [
        0.0,
        -1.0,
        f32::NAN,
        f32::INFINITY,
        1e-40,
        1e38,
        f32::MIN_POSITIVE,
    ] {
        out.push((format!("scale {s}"), with(&|c| c.scale = vec![s; n])));
    }
    for z in [128, -129, i64::MAX, i64::MIN, 1 << 40] {
        out.push((
            format!("zero point {z}"),
            with(&|c| c.zero_point = vec![z; n]),
        ));
    }
    out.push((
        "more zero points than scales".into(),
        with(&|c| c.zero_point.push(0)),
    ));
    out.push((
        "per-channel scales, one too many".into(),
        with(&|c| {
            c.scale = vec![0.1; n + 1];
            c.zero_point = vec![0; n + 1];
        }),
    ));
    out.push((
        "per-channel scales, 1000".into(),
        with(&|c| {
            c.scale = vec![0.1; 1000];
            c.zero_point = vec![0; 1000];
        }),
    ));
    for axis in [-1, 4, 7, i32::MAX, i32::MIN] {
        out.push((
            format!("quantized_dimension {axis}"),
            with(&|c| {
                c.quantized_dimension = axis;
                if c.scale.len() < 2 {
                    c.scale = vec![0.1, 0.2];
                    c.zero_point = vec![0, 0];
                }
            }),
        ));
    }
    out.push((
        "no quantization".into(),
        with(&|c| {
            c.scale.clear();
            c.zero_point.clear();
        }),
    ));
    out.push((
        "custom quantization details".into(),
        with(&|c| c.quant_details = true),
    ));
    out.push(("variable".into(), with(&|c| c.is_variable = true)));
    out.push(("sparse".into(), with(&|c| c.sparse = true)));
    for dtype in [0u8, 1, 2, 3, 4, 5, 6, 7, 10, 17, 200] {
        out.push((format!("type code {dtype}"), with(&|c| c.dtype = dtype)));
    }
    out
}

/// Index values that are wrong for a graph of `n` tensors.
fn hostile_indices(n: i32) -> Vec<i32> {
    vec![-2, -1, n, n + 1, i32::MAX, i32::MIN]
}

/// Every hostile variant of one template.
fn template_cases(name: &str, m: &ModelSpec, out: &mut Vec<(String, Vec<u8>)>) {
    let mut push =
        |what: String, spec: &ModelSpec| out.push((format!("{name}: {what}"), spec.build()));
    push("as built".into(), m);
    let n = m.tensors.len() as i32;

    // Option fields: every slot a table of these types has, every hostile value.
    let (ty, fields) = m.ops[0].options.clone().unwrap_or((0, vec![]));
    for slot in (4u16..=18).step_by(2) {
        for &v in &OPTION_VALUES {
            let mut s = m.clone();
            let mut f: Vec<(u16, i32)> =
                fields.iter().copied().filter(|&(k, _)| k != slot).collect();
            f.push((slot, v));
            s.ops[0].options = Some((ty, f));
            push(format!("option slot {slot} = {v:#x}"), &s);
        }
    }
    let mut s = m.clone();
    s.ops[0].options = Some((ty.wrapping_add(7), fields.clone()));
    push("options of another type".into(), &s);
    let mut s = m.clone();
    s.ops[0].options = None;
    push("no options".into(), &s);
    let mut s = m.clone();
    s.custom_options = vec![(0, vec![1, 2, 3])];
    push("custom options on a builtin".into(), &s);

    for (ti, tensor) in m.tensors.iter().enumerate() {
        for shape in hostile_shapes(&tensor.shape) {
            let mut s = m.clone();
            s.tensors[ti].shape = shape.clone();
            push(format!("tensor {ti} shape {shape:?}"), &s);
        }
        for (what, t) in hostile_quants(tensor) {
            let mut s = m.clone();
            s.tensors[ti] = t;
            push(format!("tensor {ti} {what}"), &s);
        }
        // Constant buffers: wrong index, wrong size, outside the file.
        if tensor.buffer != 0 {
            let b = tensor.buffer as usize;
            for idx in [u32::MAX, m.buffers.len() as u32, 0] {
                let mut s = m.clone();
                s.tensors[ti].buffer = idx;
                push(format!("tensor {ti} buffer index {idx}"), &s);
            }
            let mut s = m.clone();
            s.buffers[b].pop();
            push(format!("tensor {ti} buffer one byte short"), &s);
            let mut s = m.clone();
            s.buffers[b].push(0);
            push(format!("tensor {ti} buffer one byte long"), &s);
            let mut s = m.clone();
            s.external_buffers = vec![(b, 1 << 40, 1 << 40)];
            push(format!("tensor {ti} buffer stored outside the file"), &s);
        } else {
            // An activation turned into a constant.
            let mut s = m.clone();
            s.buffers.push(vec![0; 4]);
            s.tensors[ti].buffer = (s.buffers.len() - 1) as u32;
            push(format!("tensor {ti} given a wrong-sized buffer"), &s);
        }
    }

    // Operator inputs and outputs.
    for k in 0..m.ops[0].inputs.len() {
        for i in hostile_indices(n).into_iter().chain(0..n) {
            let mut s = m.clone();
            s.ops[0].inputs[k] = i;
            push(format!("op input {k} = {i}"), &s);
        }
    }
    for i in hostile_indices(n).into_iter().chain(0..n) {
        let mut s = m.clone();
        s.ops[0].outputs[0] = i;
        push(format!("op output = {i}"), &s);
    }
    let mut s = m.clone();
    s.ops[0].inputs.pop();
    push("op input missing".into(), &s);
    let mut s = m.clone();
    s.ops[0].inputs.clear();
    push("op without inputs".into(), &s);
    let mut s = m.clone();
    s.ops[0].inputs.push(0);
    push("op with an extra input".into(), &s);
    let mut s = m.clone();
    s.ops[0].outputs.push(0);
    push("op with an extra output".into(), &s);
    let mut s = m.clone();
    s.ops[0].outputs.clear();
    push("op without outputs".into(), &s);

    // Graph inputs and outputs.
    for i in hostile_indices(n) {
        let mut s = m.clone();
        s.inputs = vec![i];
        push(format!("graph input {i}"), &s);
        let mut s = m.clone();
        s.outputs = vec![i];
        push(format!("graph output {i}"), &s);
    }
    for (what, ins, outs) in [
        ("no graph inputs", vec![], m.outputs.clone()),
        ("no graph outputs", m.inputs.clone(), vec![]),
        ("input listed twice", vec![0, 0], m.outputs.clone()),
        (
            "output listed twice",
            m.inputs.clone(),
            [m.outputs.clone(), m.outputs.clone()].concat(),
        ),
        ("output is the input", m.inputs.clone(), m.inputs.clone()),
        ("a constant as graph input", vec![n - 1], m.outputs.clone()),
        ("a constant as graph output", m.inputs.clone(), vec![n - 1]),
    ] {
        let mut s = m.clone();
        s.inputs = ins;
        s.outputs = outs;
        push(what.into(), &s);
    }

    // Model-level structure.
    for count in [0, 2] {
        let mut s = m.clone();
        s.subgraph_count = Some(count);
        push(format!("{count} subgraphs"), &s);
    }
    for version in [0, 2, 4, u32::MAX] {
        let mut s = m.clone();
        s.version = Some(version);
        push(format!("schema version {version}"), &s);
    }
    for idx in [1u32, u32::MAX] {
        let mut s = m.clone();
        s.ops[0].opcode_index = idx;
        push(format!("opcode index {idx}"), &s);
    }
    let mut s = m.clone();
    s.opcodes.clear();
    push("no operator codes".into(), &s);
    let mut s = m.clone();
    s.ops.push(s.ops[0].clone());
    push("the operator twice (output written twice)".into(), &s);
    let mut s = m.clone();
    s.ops.clear();
    push("no operators".into(), &s);
}

/// Models that are wrong as a whole graph rather than in one field.
fn graph_cases(out: &mut Vec<(String, Vec<u8>)>) {
    let q = TensorSpec::i8;
    // Every builtin operator code (and some that do not exist) on an int8 [1, 4] tensor.
    for c in (-3..=215).chain([1000, i32::MAX, i32::MIN]) {
        out.push((
            format!("unary op with code {c}"),
            ModelSpec::unary(c).build(),
        ));
    }
    for name in ["", "TFLite_Detection_PostProcess", "\u{ff}\u{fe}"] {
        let mut m = ModelSpec::unary(code::CUSTOM);
        m.custom_codes = vec![(0, name.into())];
        m.custom_options = vec![(0, vec![0; 8])];
        out.push((format!("custom op {name:?}"), m.build()));
    }
    // A cycle: op 0 reads t2 and writes t1, op 1 reads t1 and writes t2.
    let mut m = ModelSpec::unary(code::RELU);
    m.tensors.push(q("z", &[1, 4], 0.1, 0));
    m.ops = vec![OpSpec::new(0, &[2], &[1]), OpSpec::new(0, &[1], &[2])];
    out.push(("a cycle of two operators".into(), m.build()));
    // An operator reading its own output.
    let mut m = ModelSpec::unary(code::RELU);
    m.ops = vec![OpSpec::new(0, &[1], &[1])];
    out.push(("an operator reading its own output".into(), m.build()));
    // Operators out of order: the consumer comes first.
    let mut m = ModelSpec::unary(code::RELU);
    m.tensors.push(q("z", &[1, 4], 0.1, 0));
    m.ops = vec![OpSpec::new(0, &[1], &[2]), OpSpec::new(0, &[0], &[1])];
    m.outputs = vec![2];
    out.push(("operators out of order".into(), m.build()));
    // The graph output is never written.
    let mut m = ModelSpec::unary(code::RELU);
    m.tensors.push(q("z", &[1, 4], 0.1, 0));
    m.outputs = vec![2];
    out.push(("graph output never written".into(), m.build()));
    // Long chains: the planner and every per-tensor table must stay fast and small.
    for len in [300, 3000] {
        let mut m = ModelSpec::unary(code::RELU);
        m.tensors = (0..=len)
            .map(|i| q(&format!("t{i}"), &[1, 16], 0.1, 0))
            .collect();
        m.ops = (0..len).map(|i| OpSpec::new(0, &[i], &[i + 1])).collect();
        m.outputs = vec![len];
        out.push((format!("a chain of {len} RELUs"), m.build()));
    }
    // Many tensors alive at once: every operator output is a graph output.
    for len in [300, 2000] {
        let mut m = ModelSpec::unary(code::RELU);
        m.tensors = (0..=len)
            .map(|i| q(&format!("t{i}"), &[1, 16], 0.1, 0))
            .collect();
        m.ops = (0..len).map(|i| OpSpec::new(0, &[i], &[i + 1])).collect();
        m.outputs = (1..=len).collect();
        out.push((format!("{len} graph outputs alive at once"), m.build()));
    }
    // A hard instance for the arena planner: 40 chains of tensors of different sizes whose
    // operators interleave, a tenth of the tensors kept alive to the end as graph outputs.
    let mut rng = Rng::new(77);
    let chains = 40;
    let mut m = ModelSpec::unary(code::RELU);
    m.tensors.clear();
    m.inputs.clear();
    m.outputs.clear();
    let mut heads: Vec<i32> = (0..chains)
        .map(|c| {
            let len = 1 + rng.below(4096) as i32;
            m.inputs.push(c);
            q(&format!("c{c}"), &[len], 0.1, 0)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| m.push_tensor(t))
        .collect();
    for _ in 0..3000 {
        let c = rng.below(chains as usize);
        let shape = m.tensors[heads[c] as usize].shape.clone();
        let t = m.push_tensor(q("", &shape, 0.1, 0));
        m.ops.push(OpSpec::new(0, &[heads[c]], &[t]));
        heads[c] = t;
        if rng.below(10) == 0 {
            m.outputs.push(t);
        }
    }
    m.outputs.extend(&heads);
    m.outputs.sort_unstable();
    m.outputs.dedup();
    out.push(("3000 interleaved buffers of 40 sizes".into(), m.build()));
    // Just below the 65535-tensor limit, as one chain.
    let len = 65_000;
    let mut m = ModelSpec::unary(code::RELU);
    m.tensors = (0..=len).map(|_| q("", &[1], 0.1, 0)).collect();
    m.ops = (0..len).map(|i| OpSpec::new(0, &[i], &[i + 1])).collect();
    m.outputs = vec![len];
    out.push((format!("a chain of {len} tensors"), m.build()));
    // Fan-out: one input read by thousands of operators.
    let len = 2000;
    let mut m = ModelSpec::unary(code::RELU);
    m.tensors = (0..=len)
        .map(|i| q(&format!("t{i}"), &[1, 16], 0.1, 0))
        .collect();
    m.ops = (0..len).map(|i| OpSpec::new(0, &[0], &[i + 1])).collect();
    m.outputs = vec![len];
    out.push((format!("one tensor read by {len} operators"), m.build()));
    // More than 65535 activation tensors (each operator writes a tiny tensor).
    let len = 70_000;
    let mut m = ModelSpec::unary(code::RELU);
    m.tensors = (0..=len).map(|_| q("", &[1], 0.1, 0)).collect();
    m.ops = (0..len).map(|i| OpSpec::new(0, &[i], &[i + 1])).collect();
    m.outputs = vec![len];
    out.push((format!("{len} activation tensors"), m.build()));
    // Huge buffers: a 4 MiB constant operand, and shapes far beyond any buffer.
    let big = 4 << 20;
    let m = one_op(
        code::ADD,
        vec![q("a", &[1, big], 0.1, 0), q("out", &[1, big], 0.1, 0)],
        vec![(q("b", &[1, big], 0.1, 0), i8_bytes(big as usize, 9))],
        &[0, 2],
        None,
    );
    out.push(("a 4 MiB constant operand".into(), m.build()));
    for shape in [vec![1 << 30], vec![1 << 29, 4], vec![1 << 15, 1 << 15, 2]] {
        let m = one_op(
            code::RELU,
            vec![q("in", &shape, 0.1, 0), q("out", &shape, 0.1, 0)],
            vec![],
            &[0],
            None,
        );
        out.push((format!("activations of shape {shape:?}"), m.build()));
    }
    // A pooling window far larger than its input (SAME padding keeps the output small).
    for window in [1 << 20, i32::MAX] {
        let m = one_op(
            code::MAX_POOL_2D,
            vec![
                q("in", &[1, 64, 64, 1], 0.1, 0),
                q("out", &[1, 64, 64, 1], 0.1, 0),
            ],
            vec![],
            &[0],
            Some((5, vec![(4, 0), (6, 1), (8, 1), (10, window), (12, window)])),
        );
        out.push((
            format!("pooling window {window} with SAME padding"),
            m.build(),
        ));
    }
}

/// What happened to one case.
enum Outcome {
    Rejected,
    Converted { ran: bool },
}

/// Per-case measurements and failures, gathered from every worker.
#[derive(Default)]
struct Tally {
    rejected: usize,
    converted: usize,
    ran: usize,
    failures: Vec<String>,
    slowest: (Duration, String),
    hungriest: (usize, String),
}

/// Checks that an error names the byte offset, operator or tensor at fault.
fn check_message(e: &ConvertError) -> Result<(), String> {
    let m = e.to_string();
    let ok = match e {
        ConvertError::Read(_) => m.contains("byte offset"),
        ConvertError::Tensor { .. } => m.starts_with("tensor #"),
        ConvertError::Operator { .. } | ConvertError::Unsupported { .. } => {
            m.starts_with("operator #")
        }
        // Whole-graph problems name the graph's tensor lists, subgraphs or sizes.
        ConvertError::Model(_) => ["tensor", "subgraph", "graph", "arena"]
            .iter()
            .any(|w| m.contains(w)),
        _ => false,
    };
    if ok && m.len() > 10 {
        Ok(())
    } else {
        Err(format!("error does not name where it is: {m:?} ({e:?})"))
    }
}

/// Converts (and maybe runs) one case; `Err` describes a failed expectation.
fn run_case(bytes: &[u8]) -> Result<Outcome, String> {
    match compile(bytes, &Options::default()) {
        Err(e) => {
            check_message(&e)?;
            Ok(Outcome::Rejected)
        }
        Ok(c) => {
            let model = c.model();
            if c.arena_bytes > ferrite_convert::compile::MAX_ARENA_BYTES {
                return Err(format!("accepted an arena of {} bytes", c.arena_bytes));
            }
            let work = ferrite_convert::host::estimated_work(&model);
            if c.arena_bytes > RUN_ARENA_LIMIT || work > RUN_WORK_LIMIT {
                return Ok(Outcome::Converted { ran: false });
            }
            let portable = run_zeroed(&c)?;
            // The same model with the fastest kernels this CPU has (the SIMD paths): they must
            // accept it too, and agree with the portable kernels byte for byte.
            let host = Options::host().map_err(|e| format!("host kernels: {e}"))?;
            let fast = compile(bytes, &host).map_err(|e| {
                format!("converts with portable kernels but not with host ones: {e}")
            })?;
            if run_zeroed(&fast)? != portable {
                return Err("the host kernels' outputs differ from the portable ones".into());
            }
            Ok(Outcome::Converted { ran: true })
        }
    }
}

/// Runs a converted model once on a zeroed arena; returns its outputs' bytes.
fn run_zeroed(c: &ferrite_convert::Compiled) -> Result<Vec<Vec<u8>>, String> {
    let model = c.model();
    let mut arena = c.new_arena();
    match model.invoke(arena.as_mut_slice()) {
        // Zeroed inputs may divide by zero or index badly: a clean, data-dependent error.
        Ok(()) | Err(ferrite_core::Error::InvalidData { .. }) => {}
        Err(e) => return Err(format!("converted, but running it failed: {e}")),
    }
    (0..model.outputs.len())
        .map(|i| {
            model
                .output_bytes(arena.as_mut_slice(), i)
                .map(<[u8]>::to_vec)
                .map_err(|e| format!("converted, but reading output {i} failed: {e}"))
        })
        .collect()
}

/// All cases, as recipes (materialised by the worker that runs them, to keep memory small).
enum Recipe {
    Mutant(usize, usize),
    Bytes(String, Vec<u8>),
}

fn sources() -> Vec<Source> {
    let mut out = Vec::new();
    if let Some(dir) = shared_models_dir() {
        for name in SHARED_MODELS {
            let path = shared_model(&dir, name).tflite;
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push(Source::new((*name).to_string(), bytes));
        }
    }
    let root = repo_root();
    let digits = root.join("models/digits_mobilenet.tflite");
    out.push(Source::new(
        "digits_mobilenet".into(),
        std::fs::read(&digits).unwrap_or_else(|e| panic!("{}: {e}", digits.display())),
    ));
    let mut ops: Vec<_> = std::fs::read_dir(root.join("tests/data/ops"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    ops.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "tflite"));
    ops.sort();
    for p in ops {
        let name = p
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        out.push(Source::new(format!("op {name}"), read(&p)));
    }
    out
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Mutants per source: more for small files (cheap), fewer for the large real models.
fn mutants_for(src: &Source) -> usize {
    match src.bytes.len() {
        0..=16_384 => 28,
        16_385..=131_072 => 120,
        _ => 40,
    }
}

#[test]
fn hostile_models_end_in_errors_or_valid_models() {
    let started = Instant::now();
    let sources = sources();
    let mut recipes: Vec<Recipe> = Vec::new();
    for (s, src) in sources.iter().enumerate() {
        for k in 0..mutants_for(src) {
            recipes.push(Recipe::Mutant(s, k));
        }
    }
    // Exhaustive field sweeps over a few small models of different operator families.
    for src in sources.iter().filter(|s| {
        [
            "op conv2d_1x1_int8",
            "op dwconv_3x3_dil2_same_int8",
            "op softmax_int8",
            "digits_mobilenet",
            "hello_world_int8",
        ]
        .contains(&s.name.as_str())
    }) {
        let values: &[i32] = if src.bytes.len() > 16_384 {
            &[-1]
        } else {
            &[0, -1, i32::MAX]
        };
        for &v in values {
            recipes.extend(
                field_sweep(src, v)
                    .into_iter()
                    .map(|(l, b)| Recipe::Bytes(l, b)),
            );
        }
    }
    let mut hand = Vec::new();
    for (name, m) in templates() {
        // Each template must itself be valid, or its variants prove little.
        let c = compile(&m.build(), &Options::default())
            .unwrap_or_else(|e| panic!("template {name} does not convert: {e}"));
        let mut arena = c.new_arena();
        c.model()
            .invoke(arena.as_mut_slice())
            .unwrap_or_else(|e| panic!("template {name} does not run: {e}"));
        template_cases(name, &m, &mut hand);
    }
    graph_cases(&mut hand);
    detection_cases(&mut hand);
    hand.extend(random_files(200));
    let hand_count = hand.len();
    recipes.extend(hand.into_iter().map(|(l, b)| Recipe::Bytes(l, b)));
    let generated = started.elapsed();

    let verbose = std::env::var_os("FERRITE_MUTATION_VERBOSE").is_some();
    let next = AtomicUsize::new(0);
    let tally = Mutex::new(Tally::default());
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8);
    // What each worker is running and since when, for the watchdog.
    let current: Vec<Mutex<Option<(Instant, String)>>> =
        (0..workers).map(|_| Mutex::new(None)).collect();
    let done = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for w in 0..workers {
            let (recipes, sources, next, tally, current, done) =
                (&recipes, &sources, &next, &tally, &current, &done);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(recipe) = recipes.get(i) else { break };
                    let (label, bytes) = match recipe {
                        Recipe::Mutant(s, k) => mutate(&sources[*s], *k),
                        Recipe::Bytes(l, b) => (l.clone(), b.clone()),
                    };
                    if verbose {
                        eprintln!("case {i}: {label}");
                    }
                    *current[w].lock().unwrap() = Some((Instant::now(), label.clone()));
                    let base = counting::reset_peak();
                    let t0 = Instant::now();
                    let result = catch_unwind(AssertUnwindSafe(|| run_case(&bytes)));
                    let elapsed = t0.elapsed();
                    let peak = counting::peak().saturating_sub(base);
                    *current[w].lock().unwrap() = None;
                    let mut t = tally.lock().unwrap();
                    match result {
                        Ok(Ok(Outcome::Rejected)) => t.rejected += 1,
                        Ok(Ok(Outcome::Converted { ran })) => {
                            t.converted += 1;
                            t.ran += ran as usize;
                        }
                        Ok(Err(why)) => t.failures.push(format!("{label}: {why}")),
                        Err(p) => {
                            let msg = p
                                .downcast_ref::<String>()
                                .cloned()
                                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                .unwrap_or_default();
                            t.failures.push(format!("{label}: PANIC: {msg}"));
                        }
                    }
                    if elapsed > CASE_TIME_LIMIT {
                        t.failures.push(format!("{label}: took {elapsed:?}"));
                    }
                    if peak > memory_budget(bytes.len()) {
                        t.failures.push(format!(
                            "{label}: allocated {peak} bytes for a {}-byte file",
                            bytes.len()
                        ));
                    }
                    if elapsed > t.slowest.0 {
                        t.slowest = (elapsed, label.clone());
                    }
                    if peak > t.hungriest.0 {
                        t.hungriest = (peak, label);
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
            });
        }
        // Watchdog: a case that hangs fails the test with its name instead of hanging CI.
        while done.load(Ordering::Relaxed) < workers {
            std::thread::sleep(Duration::from_millis(50));
            for slot in &current {
                if let Some((since, label)) = &*slot.lock().unwrap() {
                    if since.elapsed() > 4 * CASE_TIME_LIMIT {
                        eprintln!("HUNG: {label}");
                        std::process::exit(101);
                    }
                }
            }
        }
    });

    let t = tally.into_inner().unwrap();
    let total = t.rejected + t.converted + t.failures.len();
    println!(
        "{} cases ({} sources, {} hand-made or swept) in {:.2?} (generation {:.2?}, {workers} threads): \
         {} rejected with an error, {} converted ({} of them run); slowest {:.2?} ({}), \
         largest allocation peak {} KiB ({})",
        recipes.len(),
        sources.len(),
        hand_count,
        started.elapsed(),
        generated,
        t.rejected,
        t.converted,
        t.ran,
        t.slowest.0,
        t.slowest.1,
        t.hungriest.0 >> 10,
        t.hungriest.1,
    );
    assert!(
        t.failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        t.failures.len(),
        t.failures.join("\n")
    );
    assert!(
        recipes.len() >= MIN_CASES,
        "only {} cases (at least {MIN_CASES} expected)",
        recipes.len()
    );
}

/// Every kernel the converter emits refuses to run another operator's parameters (a layer
/// table corrupted in flash, or edited by hand), naming the layer.
#[test]
fn every_kernel_rejects_another_operators_parameters() {
    let mut layers: Vec<ferrite_core::Layer> = Vec::new();
    // The single-op goldens, the stateful ones for the SVDF and LSTM kernels, the signal ops.
    let mut dir: Vec<_> = [
        "tests/data/ops",
        "tests/data/stateful",
        "tests/data/lstm",
        "tests/data/signal",
    ]
    .iter()
    .flat_map(|d| {
        std::fs::read_dir(repo_root().join(d))
            .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
            .unwrap_or_default()
    })
    .collect();
    dir.retain(|p: &std::path::PathBuf| p.extension().is_some_and(|e| e == "tflite"));
    dir.sort();
    for p in dir {
        let Ok(c) = compile(&read(&p), &Options::default()) else {
            continue;
        };
        for l in &c.layers {
            let kind = std::mem::discriminant(&l.op);
            if !layers.iter().any(|k| std::mem::discriminant(&k.op) == kind) {
                layers.push(*l);
            }
        }
    }
    assert!(layers.len() >= 10, "only {} operator kinds", layers.len());
    let tensors = [ferrite_core::Tensor {
        offset: 0,
        dtype: ferrite_core::DType::I8,
        shape: ferrite_core::Shape::new(&[4]),
        scale: 1.0,
        zero_point: 0,
    }];
    for kernel in &layers {
        for other in &layers {
            if std::mem::discriminant(&kernel.op) == std::mem::discriminant(&other.op) {
                continue;
            }
            let wrong = [ferrite_core::Layer {
                op: other.op,
                ..*kernel
            }];
            let model = ferrite_core::Model {
                tensors: &tensors,
                layers: &wrong,
                consts: &[],
                inputs: &[],
                outputs: &[],
                arena_bytes: 16,
                state: ferrite_core::StatePlan::NONE,
            };
            let mut arena = ferrite_core::Arena::<16>::new();
            match model.invoke(arena.as_mut_slice()) {
                Err(ferrite_core::Error::InvalidLayer { layer: 0, reason }) => assert!(
                    reason.contains("run on another operator"),
                    "{} kernel on {:?}: {reason}",
                    kernel.name,
                    other.op
                ),
                r => panic!("{} kernel on {:?}: {r:?}", kernel.name, other.op),
            }
        }
    }
}
