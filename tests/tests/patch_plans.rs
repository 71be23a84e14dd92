//! The planner's choices under RAM budgets (issue 13), on random small int8 networks.
//!
//! Each case is a random chain of convolutions, depthwise convolutions, pools and residual
//! ADDs on a random `[1, H, W, C]` input, followed by a tail no patch-based prefix can absorb
//! (a RESHAPE to `[1, N]` whose output is the graph output, or a FULLY_CONNECTED layer). For
//! every target (portable, Cortex-M DSP and no-DSP, Helium; the portable kernel set runs
//! them all on the host):
//!
//! - (a) every forced plan (each prefix [`patch::prefixes`] offers, in 1 to 6 bands, with the
//!   input copied into the arena or read in place, and the unpatched network with its input in
//!   place) gives the unforced conversion's outputs byte for byte;
//! - (b) under a random budget between 0.3x and 1.1x of the unconstrained arena, the
//!   conversion either fits the budget and gives the same outputs, or fails with
//!   `ConvertError::Budget` whose `smallest` is over the budget, and then none of the forced
//!   plans of (a) fits the budget either;
//! - (c) under the smallest arena any forced plan of (a) reached, the conversion succeeds
//!   (the search misses no plan it could have found);
//! - (d) on the Cortex-M DSP and no-DSP targets, under a random flash budget the conversion
//!   fits it with the same outputs or fails with `ConvertError::FlashBudget` while even int8
//!   weights in every layer (the least flash, exact too) are over it, and that least flash is a
//!   budget it meets.
//!
//! `PROPTEST_CASES` overrides the number of cases (default [`CASES`]); the seed is fixed, so
//! a run is reproducible, unless `PROPTEST_RNG_SEED` sets another.

use ferrite_convert::compile::PatchChoice;
use ferrite_convert::graph::Graph;
use ferrite_convert::npy::{Array, Data};
use ferrite_convert::{
    budget, compile, fold, host, patch, tflite, Compiled, ConvertError, Options, Target,
};
use ferrite_core::DType;
use ferrite_tests::tflite_build::{ModelSpec, OpSpec, TensorSpec};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed, TestRunner};
use std::cell::RefCell;
use std::time::Instant;

/// Cases run by default (each converts and runs every forced plan for four targets).
const CASES: u32 = 64;

// Operator codes, in the order of `ModelSpec::opcodes` below (the opcode index).
const OPCODES: [i32; 7] = [3, 4, 1, 17, 0, 22, 9];
const CONV: u32 = 0;
const DEPTHWISE: u32 = 1;
const AVG_POOL: u32 = 2;
const MAX_POOL: u32 = 3;
const ADD: u32 = 4;
const RESHAPE: u32 = 5;
const FULLY_CONNECTED: u32 = 6;
// `BuiltinOptions` types.
const CONV_2D_OPTIONS: u8 = 1;
const DEPTHWISE_CONV_2D_OPTIONS: u8 = 2;
const POOL_2D_OPTIONS: u8 = 5;
const FULLY_CONNECTED_OPTIONS: u8 = 8;
const ADD_OPTIONS: u8 = 11;
// Padding and fused activations.
const SAME: i32 = 0;
const VALID: i32 = 1;
const ACTS: [i32; 3] = [0, 1, 3]; // NONE, RELU, RELU6

/// One operator of the chain, as drawn (replaced by [`ONE_BY_ONE`] when its output would be
/// smaller than 2x2, or when an ADD finds no earlier tensor of the current shape).
#[derive(Debug, Clone)]
enum Layer {
    Conv {
        k3: bool,
        stride2: bool,
        valid: bool,
        out_c: usize,
        act: usize,
    },
    Depthwise {
        stride2: bool,
        valid: bool,
        act: usize,
    },
    Pool {
        max: bool,
        k3: bool,
        stride2: bool,
        valid: bool,
    },
    /// ADD of the current tensor and an earlier tensor of its shape (`pick` chooses which).
    Add { pick: usize, act: usize },
}

/// What replaces a layer that does not fit.
const ONE_BY_ONE: Layer = Layer::Conv {
    k3: false,
    stride2: false,
    valid: false,
    out_c: 4,
    act: 0,
};

#[derive(Debug, Clone)]
struct Net {
    h: usize,
    w: usize,
    c: usize,
    layers: Vec<Layer>,
    /// FULLY_CONNECTED tail (else RESHAPE to `[1, N]`).
    fc_tail: bool,
    seed: u64,
    /// The budget of (b), in thousandths of the unconstrained arena.
    budget_permille: usize,
}

fn layer() -> impl Strategy<Value = Layer> {
    prop_oneof![
        3 => (any::<bool>(), any::<bool>(), any::<bool>(), 1usize..=8, 0usize..3).prop_map(
            |(k3, stride2, valid, out_c, act)| Layer::Conv { k3, stride2, valid, out_c, act }
        ),
        2 => (any::<bool>(), any::<bool>(), 0usize..3)
            .prop_map(|(stride2, valid, act)| Layer::Depthwise { stride2, valid, act }),
        2 => (any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>())
            .prop_map(|(max, k3, stride2, valid)| Layer::Pool { max, k3, stride2, valid }),
        2 => (0usize..8, 0usize..3).prop_map(|(pick, act)| Layer::Add { pick, act }),
    ]
}

fn net() -> impl Strategy<Value = Net> {
    (
        8usize..40,
        8usize..40,
        1usize..4,
        prop::collection::vec(layer(), 2..=6),
        any::<bool>(),
        any::<u64>(),
        300usize..=1100,
    )
        .prop_map(|(h, w, c, layers, fc_tail, seed, budget_permille)| Net {
            h,
            w,
            c,
            layers,
            fc_tail,
            seed,
            budget_permille,
        })
}

/// xorshift64*: the weights, biases and quantization of a case from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
    fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.unit()
    }
    fn i8s(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.int(-127, 127) as i8 as u8).collect()
    }
}

/// An activation in the model being built: tensor index, shape `[h, w, c]`, scale.
#[derive(Clone, Copy, Debug)]
struct Act {
    t: i32,
    h: usize,
    w: usize,
    c: usize,
    scale: f32,
}

/// Output size and whether it is usable (at least 2).
fn out_size(n: usize, k: usize, stride: usize, valid: bool) -> Option<usize> {
    let o = if valid {
        (n + 1).checked_sub(k)?.div_ceil(stride)
    } else {
        n.div_ceil(stride)
    };
    (o >= 2).then_some(o)
}

/// The model, and the operators it really holds, in words.
fn build(net: &Net) -> (Vec<u8>, Vec<String>) {
    let mut rng = Rng(net.seed | 1);
    let mut m = ModelSpec {
        opcodes: OPCODES.to_vec(),
        buffers: vec![vec![]],
        ..Default::default()
    };
    let mut words = vec![format!("input [1, {}, {}, {}]", net.h, net.w, net.c)];
    let in_scale = rng.range(0.02, 0.1);
    let x = m.push_tensor(TensorSpec::i8(
        "input",
        &[1, net.h as i32, net.w as i32, net.c as i32],
        in_scale,
        rng.int(-10, 10),
    ));
    m.inputs = vec![x];
    let mut cur = Act {
        t: x,
        h: net.h,
        w: net.w,
        c: net.c,
        scale: in_scale,
    };
    let mut acts = vec![cur];
    let mut n = 0;
    for layer in &net.layers {
        n += 1;
        let name = format!("t{n}");
        // A layer that does not fit the current tensor becomes a 1x1 convolution.
        let mut todo = layer.clone();
        let next = loop {
            break match todo {
                Layer::Conv {
                    k3,
                    stride2,
                    valid,
                    out_c,
                    act,
                } => {
                    let (k, s) = (if k3 { 3 } else { 1 }, if stride2 { 2 } else { 1 });
                    let (Some(oh), Some(ow)) =
                        (out_size(cur.h, k, s, valid), out_size(cur.w, k, s, valid))
                    else {
                        todo = ONE_BY_ONE;
                        continue;
                    };
                    let ws: Vec<f32> = (0..out_c).map(|_| rng.range(0.002, 0.02)).collect();
                    let filter = m.push_const(
                        TensorSpec::i8_per_channel(
                            &format!("{name}/w"),
                            &[out_c as i32, k as i32, k as i32, cur.c as i32],
                            &ws,
                            0,
                        ),
                        rng.i8s(out_c * k * k * cur.c),
                    );
                    let bias = bias(&mut m, &mut rng, &name, cur.scale, &ws);
                    let mean_w = ws.iter().sum::<f32>() / out_c as f32;
                    let scale = out_scale(&mut rng, cur.scale * mean_w, k * k * cur.c);
                    let y = m.push_tensor(TensorSpec::i8(
                        &name,
                        &[1, oh as i32, ow as i32, out_c as i32],
                        scale,
                        rng.int(-20, 20),
                    ));
                    m.ops.push(
                        OpSpec::new(CONV, &[cur.t, filter, bias], &[y]).with_options(
                            CONV_2D_OPTIONS,
                            &[
                                (4, if valid { VALID } else { SAME }),
                                (6, s as i32),
                                (8, s as i32),
                                (10, ACTS[act]),
                            ],
                        ),
                    );
                    words.push(format!(
                        "CONV_2D {k}x{k} stride {s} {} act {} -> [{oh}, {ow}, {out_c}]",
                        if valid { "VALID" } else { "SAME" },
                        ACTS[act]
                    ));
                    Act {
                        t: y,
                        h: oh,
                        w: ow,
                        c: out_c,
                        scale,
                    }
                }
                Layer::Depthwise {
                    stride2,
                    valid,
                    act,
                } => {
                    let s = if stride2 { 2 } else { 1 };
                    let (Some(oh), Some(ow)) =
                        (out_size(cur.h, 3, s, valid), out_size(cur.w, 3, s, valid))
                    else {
                        todo = ONE_BY_ONE;
                        continue;
                    };
                    let c = cur.c;
                    let ws: Vec<f32> = (0..c).map(|_| rng.range(0.002, 0.02)).collect();
                    let filter = m.push_const(
                        TensorSpec::i8_per_channel(
                            &format!("{name}/w"),
                            &[1, 3, 3, c as i32],
                            &ws,
                            3,
                        ),
                        rng.i8s(9 * c),
                    );
                    let bias = bias(&mut m, &mut rng, &name, cur.scale, &ws);
                    let mean_w = ws.iter().sum::<f32>() / c as f32;
                    let scale = out_scale(&mut rng, cur.scale * mean_w, 9);
                    let y = m.push_tensor(TensorSpec::i8(
                        &name,
                        &[1, oh as i32, ow as i32, c as i32],
                        scale,
                        rng.int(-20, 20),
                    ));
                    m.ops.push(
                        OpSpec::new(DEPTHWISE, &[cur.t, filter, bias], &[y]).with_options(
                            DEPTHWISE_CONV_2D_OPTIONS,
                            &[
                                (4, if valid { VALID } else { SAME }),
                                (6, s as i32),
                                (8, s as i32),
                                (10, 1),
                                (12, ACTS[act]),
                            ],
                        ),
                    );
                    words.push(format!(
                        "DEPTHWISE_CONV_2D 3x3 stride {s} {} act {} -> [{oh}, {ow}, {c}]",
                        if valid { "VALID" } else { "SAME" },
                        ACTS[act]
                    ));
                    Act {
                        t: y,
                        h: oh,
                        w: ow,
                        c,
                        scale,
                    }
                }
                Layer::Pool {
                    max,
                    k3,
                    stride2,
                    valid,
                } => {
                    let (k, s) = (if k3 { 3 } else { 2 }, if stride2 { 2 } else { 1 });
                    let (Some(oh), Some(ow)) =
                        (out_size(cur.h, k, s, valid), out_size(cur.w, k, s, valid))
                    else {
                        todo = ONE_BY_ONE;
                        continue;
                    };
                    // Pools keep their input's quantization.
                    let q = &m.tensors[cur.t as usize];
                    let (scale, zp) = (q.scale[0], q.zero_point[0]);
                    let y = m.push_tensor(TensorSpec::i8(
                        &name,
                        &[1, oh as i32, ow as i32, cur.c as i32],
                        scale,
                        zp,
                    ));
                    m.ops.push(
                        OpSpec::new(if max { MAX_POOL } else { AVG_POOL }, &[cur.t], &[y])
                            .with_options(
                                POOL_2D_OPTIONS,
                                &[
                                    (4, if valid { VALID } else { SAME }),
                                    (6, s as i32),
                                    (8, s as i32),
                                    (10, k as i32),
                                    (12, k as i32),
                                ],
                            ),
                    );
                    words.push(format!(
                        "{} {k}x{k} stride {s} {} -> [{oh}, {ow}, {}]",
                        if max {
                            "MAX_POOL_2D"
                        } else {
                            "AVERAGE_POOL_2D"
                        },
                        if valid { "VALID" } else { "SAME" },
                        cur.c
                    ));
                    Act {
                        t: y,
                        h: oh,
                        w: ow,
                        c: cur.c,
                        scale,
                    }
                }
                Layer::Add { pick, act } => {
                    let same: Vec<Act> = acts
                        .iter()
                        .copied()
                        .filter(|a| a.t != cur.t && (a.h, a.w, a.c) == (cur.h, cur.w, cur.c))
                        .collect();
                    if same.is_empty() {
                        todo = ONE_BY_ONE;
                        continue;
                    }
                    let other = same[pick % same.len()];
                    let scale = 2.0 * cur.scale.max(other.scale) * rng.range(0.7, 1.3);
                    let y = m.push_tensor(TensorSpec::i8(
                        &name,
                        &[1, cur.h as i32, cur.w as i32, cur.c as i32],
                        scale,
                        rng.int(-20, 20),
                    ));
                    m.ops.push(
                        OpSpec::new(ADD, &[cur.t, other.t], &[y])
                            .with_options(ADD_OPTIONS, &[(4, ACTS[act])]),
                    );
                    words.push(format!(
                        "ADD with {} act {}",
                        m.tensors[other.t as usize].name, ACTS[act]
                    ));
                    Act { t: y, scale, ..cur }
                }
            };
        };
        cur = next;
        acts.push(cur);
    }
    let flat = (cur.h * cur.w * cur.c) as i32;
    if net.fc_tail {
        let units = 4;
        let ws = rng.range(0.002, 0.02);
        let w = m.push_const(
            TensorSpec::i8("fc/w", &[units, flat], ws, 0),
            rng.i8s((units * flat) as usize),
        );
        let b = bias(&mut m, &mut rng, "fc", cur.scale, &[ws; 4]);
        let scale = out_scale(&mut rng, cur.scale * ws, flat as usize);
        let y = m.push_tensor(TensorSpec::i8("fc", &[1, units], scale, rng.int(-20, 20)));
        m.ops.push(
            OpSpec::new(FULLY_CONNECTED, &[cur.t, w, b], &[y])
                .with_options(FULLY_CONNECTED_OPTIONS, &[(4, 0)]),
        );
        m.outputs = vec![y];
        words.push(format!("FULLY_CONNECTED -> [1, {units}]"));
    } else {
        let shape = m.push_const(
            TensorSpec::i32("shape", &[2]),
            [1i32, flat].iter().flat_map(|v| v.to_le_bytes()).collect(),
        );
        let q = &m.tensors[cur.t as usize];
        let (scale, zp) = (q.scale[0], q.zero_point[0]);
        let y = m.push_tensor(TensorSpec::i8("flat", &[1, flat], scale, zp));
        m.ops.push(OpSpec::new(RESHAPE, &[cur.t, shape], &[y]));
        m.outputs = vec![y];
        words.push(format!("RESHAPE -> [1, {flat}]"));
    }
    (m.build(), words)
}

/// An int32 bias of scale `in_scale * ws[o]` per output channel.
fn bias(m: &mut ModelSpec, rng: &mut Rng, name: &str, in_scale: f32, ws: &[f32]) -> i32 {
    let mut t = TensorSpec::i32(&format!("{name}/b"), &[ws.len() as i32]);
    t.scale = ws.iter().map(|w| in_scale * w).collect();
    t.zero_point = vec![0; ws.len()];
    let data = (0..ws.len())
        .flat_map(|_| (rng.int(-2000, 2000) as i32).to_le_bytes())
        .collect();
    m.push_const(t, data)
}

/// An output scale that keeps a sum of `terms` products of typical int8 values mostly in
/// range: the products' scale `product_scale`, times a random factor.
fn out_scale(rng: &mut Rng, product_scale: f32, terms: usize) -> f32 {
    product_scale * 60.0 * 70.0 * (terms as f32).sqrt() / 40.0 * rng.range(0.5, 2.0)
}

/// The TFLite index of each patch-able prefix's last operator, and its rows.
fn prefixes(bytes: &[u8]) -> Vec<(usize, usize)> {
    let tf = tflite::read(bytes).expect("the model reads");
    let mut g = Graph::build_with_batch(&tf, 1).expect("the graph builds");
    fold::fold(&mut g).expect("folding");
    fold::rewrite_dilated_convs(&mut g);
    patch::prefixes(&g)
        .iter()
        .map(|p| (g.ops[p.end - 1].index, p.rows))
        .collect()
}

fn run(c: &Compiled, inputs: &[Array]) -> Vec<Array> {
    host::run_all(c, inputs, 1).expect("the model runs")
}

#[derive(Default, Debug)]
struct Stats {
    cases: usize,
    forced_plans: usize,
    budget_fits: usize,
    budget_errors: usize,
    flash_fits: usize,
    flash_errors: usize,
}

/// One forced plan and the arena it reached.
#[derive(Debug)]
struct Forced {
    patch: Option<PatchChoice>,
    input_in_place: bool,
    in_place_ops: bool,
    arena: usize,
}

fn check(net: &Net, stats: &mut Stats) {
    let (bytes, words) = build(net);
    let what = words.join("; ");
    let mut rng = Rng(net.seed.rotate_left(17) | 1);
    let samples = 2;
    let per = net.h * net.w * net.c;
    let input = Array {
        shape: vec![samples, 1, net.h, net.w, net.c],
        data: Data::from_bytes(DType::I8, &rng.i8s(samples * per)),
    };
    let inputs = [input];
    let prefixes = prefixes(&bytes);
    stats.cases += 1;
    for target in [
        Target::Portable,
        Target::CortexMDsp,
        Target::CortexMNoDsp,
        Target::Helium,
    ] {
        let base_opts = Options {
            target,
            ..Options::default()
        };
        let base = compile(&bytes, &base_opts)
            .unwrap_or_else(|e| panic!("{target:?} {what}: unconstrained conversion: {e}"));
        let expected = run(&base, &inputs);

        // (a) Every forced plan gives the unforced outputs.
        let mut plans: Vec<(Option<PatchChoice>, bool)> = vec![(None, true)];
        for &(last_op, rows) in &prefixes {
            for bands in 1..=rows.min(6) {
                for in_place in [false, true] {
                    plans.push((Some(PatchChoice { last_op, bands }), in_place));
                }
            }
        }
        let mut forced = Vec::new();
        // Each plan also with every depthwise convolution that can run in place doing so.
        let plans = plans
            .into_iter()
            .flat_map(|(p, i)| [(p, i, false), (p, i, true)]);
        for (patch, input_in_place, in_place_ops) in plans {
            let opts = Options {
                patch,
                input_in_place,
                in_place_ops,
                ..base_opts.clone()
            };
            let plan = format!(
                "forced plan {patch:?} input in place {input_in_place} ops in place {in_place_ops}"
            );
            let c =
                compile(&bytes, &opts).unwrap_or_else(|e| panic!("{target:?} {what}: {plan}: {e}"));
            assert_eq!(
                run(&c, &inputs),
                expected,
                "{target:?} {what}: {plan}: outputs differ"
            );
            stats.forced_plans += 1;
            forced.push(Forced {
                patch,
                input_in_place,
                in_place_ops,
                arena: c.arena_bytes,
            });
        }

        // (b) A random budget: fits and the same outputs, or no plan tried fits.
        let budget = base.arena_bytes * net.budget_permille / 1000;
        check_budget(
            &bytes, &base_opts, budget, &forced, &inputs, &expected, stats,
        )
        .unwrap_or_else(|e| panic!("{target:?} {what}: budget {budget}: {e}"));
        // (c) The smallest arena a forced plan reached is a budget the search meets.
        let least = forced
            .iter()
            .map(|f| f.arena)
            .min()
            .unwrap_or(base.arena_bytes);
        let least = least.min(base.arena_bytes);
        check_budget(
            &bytes, &base_opts, least, &forced, &inputs, &expected, stats,
        )
        .unwrap_or_else(|e| {
            panic!("{target:?} {what}: budget {least} (the least forced arena): {e}")
        });
        // (d) Flash budgets, where the layout is a choice (the Cortex-M DSP lowerings).
        if matches!(target, Target::CortexMDsp | Target::CortexMNoDsp) {
            check_flash(
                &bytes,
                &base_opts,
                &base,
                net.budget_permille,
                &inputs,
                &expected,
                stats,
            )
            .unwrap_or_else(|e| panic!("{target:?} {what}: {e}"));
        }
    }
}

/// (d) Every layer on int8 weights (the least flash) gives the unforced outputs; a random flash
/// budget from below that least flash to above the unconstrained plan's either fits (the
/// estimate within [`budget::usable_flash`] of it) with the same outputs, or fails with
/// `ConvertError::FlashBudget` when even the least flash is over it; the least flash itself is
/// a budget the search meets.
fn check_flash(
    bytes: &[u8],
    base_opts: &Options,
    base: &Compiled,
    permille: usize,
    inputs: &[Array],
    expected: &[Array],
    stats: &mut Stats,
) -> Result<(), String> {
    let all_opts = Options {
        int8_weights: ferrite_convert::Int8Weights::All,
        ..base_opts.clone()
    };
    let all = compile(bytes, &all_opts).map_err(|e| format!("int8 weights everywhere: {e}"))?;
    if run(&all, inputs) != expected {
        return Err("int8 weights everywhere: outputs differ".into());
    }
    let (least, most) = (all.report.flash_bytes, base.report.flash_bytes);
    if least > most {
        return Err(format!("int8 weights take more flash ({least} > {most})"));
    }
    // permille 300..=1100 maps to a target estimate from 0.2 below the least flash to 0.2 of
    // the span above the unconstrained plan's; the budget is what leaves that much usable.
    let span = (most - least) as i64;
    let t = (permille as i64 - 300) * 1400 / 800 - 200;
    let target = least as i64 + span * t / 1000 - (t < 0) as i64 * 64;
    let at_least = (least * 100).div_ceil(99) + 1;
    for budget in [(target.max(1) as usize * 100).div_ceil(99), at_least] {
        let opts = Options {
            max_flash: Some(budget),
            ..base_opts.clone()
        };
        let usable = budget::usable_flash(budget);
        match compile(bytes, &opts) {
            Ok(c) => {
                if c.report.flash_bytes > usable {
                    return Err(format!(
                        "flash budget {budget}: the plan's {} is over {usable}",
                        c.report.flash_bytes
                    ));
                }
                if run(&c, inputs) != expected {
                    return Err(format!("flash budget {budget}: outputs differ"));
                }
                stats.flash_fits += 1;
            }
            Err(ConvertError::FlashBudget { smallest, .. }) => {
                if smallest <= usable || least <= usable {
                    return Err(format!(
                        "flash budget {budget} refused (smallest {smallest}), yet int8 weights \
                         everywhere take {least} of the {usable} usable"
                    ));
                }
                stats.flash_errors += 1;
            }
            Err(e) => return Err(format!("flash budget {budget}: unexpected error: {e}")),
        }
    }
    Ok(())
}

fn check_budget(
    bytes: &[u8],
    base_opts: &Options,
    budget: usize,
    forced: &[Forced],
    inputs: &[Array],
    expected: &[Array],
    stats: &mut Stats,
) -> Result<(), String> {
    let opts = Options {
        max_arena: Some(budget),
        ..base_opts.clone()
    };
    match compile(bytes, &opts) {
        Ok(c) => {
            if c.arena_bytes > budget {
                return Err(format!("the plan's arena {} is over it", c.arena_bytes));
            }
            if run(&c, inputs) != expected {
                return Err(format!(
                    "outputs differ (plan {:?}, in place {})",
                    c.report
                        .patch
                        .as_ref()
                        .map(|p| (&p.prefix_ops, p.bands.len())),
                    c.report.input_in_place
                ));
            }
            stats.budget_fits += 1;
            Ok(())
        }
        Err(ConvertError::Budget { smallest, plan, .. }) => {
            if smallest <= budget {
                return Err(format!(
                    "refused, yet the smallest arena reached ({smallest}, {plan}) fits"
                ));
            }
            if let Some(f) = forced.iter().find(|f| f.arena <= budget) {
                return Err(format!(
                    "refused (smallest {smallest}, {plan}), yet the forced plan {:?} input in place {} ops in place {} needs only {}",
                    f.patch, f.input_in_place, f.in_place_ops, f.arena
                ));
            }
            stats.budget_errors += 1;
            Ok(())
        }
        Err(e) => Err(format!("unexpected error: {e}")),
    }
}

#[test]
fn forced_plans_and_budgets_on_random_networks() {
    let mut config = Config::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = CASES;
    }
    config.failure_persistence = None;
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        config.rng_seed = RngSeed::Fixed(13);
    }
    let mut runner = TestRunner::new(config);
    let stats = RefCell::new(Stats::default());
    let start = Instant::now();
    let result = runner.run(&net(), |net| {
        check(&net, &mut stats.borrow_mut());
        Ok(())
    });
    eprintln!(
        "{:?} in {:.1} s",
        stats.borrow(),
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
    // Enough cases meet both outcomes of each budget (64 by default: 445 and 67 arena
    // budgets fitting and refused, 236 and 20 flash budgets).
    let s = stats.borrow();
    if s.cases >= 32 {
        assert!(
            s.budget_fits > 0 && s.budget_errors > 0 && s.flash_fits > 0 && s.flash_errors > 0,
            "{s:?}"
        );
    }
}

/// Regression: the search skipped plans by an activation floor that counted a RESHAPE's
/// output apart from its input, though the lowering makes it an alias. Here the prefix (pool,
/// 1x1 convolution) in 4 bands with the input in place needs 80 bytes on the portable target,
/// but a budget of 80 was refused (smallest 96: 2 bands): the floor of the 4-band plan counted
/// the 64-byte split tensor and its 64-byte reshape twice (128 > 80), so it was never tried.
#[test]
fn a_reshape_tail_does_not_hide_plans_from_the_search() {
    let net = Net {
        h: 8,
        w: 8,
        c: 1,
        layers: vec![
            Layer::Pool {
                max: false,
                k3: false,
                stride2: false,
                valid: false,
            },
            Layer::Conv {
                k3: false,
                stride2: false,
                valid: false,
                out_c: 1,
                act: 0,
            },
        ],
        fc_tail: false,
        seed: 0,
        budget_permille: 300,
    };
    let (bytes, _) = build(&net);
    let opts = Options {
        max_arena: Some(80),
        ..Options::default()
    };
    let c = compile(&bytes, &opts).expect("a plan of 80 bytes exists");
    assert!(c.arena_bytes <= 80, "{}", c.arena_bytes);
    check(&net, &mut Stats::default());
}

/// Regression: the search tried prefixes in 2 to 16 bands, never in one, though one band is
/// not the unpatched plan (explicit padding and views). Here, for Helium, the prefix through
/// operator #2 in one band with the input in place needs 192 bytes, and a budget of 192 was
/// refused (smallest 208: the same prefix in 2 bands).
#[test]
fn a_prefix_in_one_band_is_a_plan_the_search_tries() {
    let conv = |stride2, out_c| Layer::Conv {
        k3: false,
        stride2,
        valid: false,
        out_c,
        act: 0,
    };
    let net = Net {
        h: 9,
        w: 13,
        c: 1,
        layers: vec![
            conv(true, 1),
            conv(false, 4),
            Layer::Pool {
                max: false,
                k3: false,
                stride2: true,
                valid: true,
            },
        ],
        fc_tail: false,
        seed: 0,
        budget_permille: 300,
    };
    let (bytes, words) = build(&net);
    let forced = compile(
        &bytes,
        &Options {
            target: Target::Helium,
            patch: Some(PatchChoice {
                last_op: 2,
                bands: 1,
            }),
            input_in_place: true,
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("{words:?}: {e}"));
    let budget = forced.arena_bytes;
    let c = compile(
        &bytes,
        &Options {
            target: Target::Helium,
            max_arena: Some(budget),
            ..Options::default()
        },
    )
    .unwrap_or_else(|e| panic!("{words:?}: budget {budget}: {e}"));
    assert!(c.arena_bytes <= budget, "{} > {budget}", c.arena_bytes);
}
