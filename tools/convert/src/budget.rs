//! Plans under budgets: the fastest plan whose arena fits `--max-arena` and whose flash fits
//! `--max-flash`.
//!
//! The plans compared are the layer-by-layer plan and every patch-based prefix
//! ([`crate::patch::prefixes`]) in 1 to [`MAX_BANDS`] bands (one band is not always the
//! unpatched plan: its explicit padding and views can change the kernels and their scratch),
//! each with or without input 0 read in place from the caller's buffer and with or without the
//! depthwise convolutions that allow it run in place ([`crate::inplace`]). Their cost is the
//! multiply-accumulates they execute (recomputed band overlaps included), plus [`LAYER_COST`]
//! per extra layer call and [`IN_PLACE_COST`] per multiply-accumulate of an in-place
//! depthwise (a slower kernel); a plan that copies the input wins a tie, since it keeps the
//! plain `set_input`/`invoke` API. Candidates are tried cheapest first, each
//! skipped when its activation floor ([`crate::patch::activation_floor`]) is already over the
//! budget, and the first whose planned arena (kernel scratch included) fits is the answer.
//! When none fits, the error names the smallest arena any of them reached and its plan.
//!
//! Flash: a plan whose estimated flash (`Report::flash_bytes`) is over `--max-flash` keeps
//! int8 weights (instead of the DSP kernels' 16-bit pre-shifted ones, twice the bytes) in the
//! fewest dense layers that bring it within, the layers whose weights are read for the fewest
//! output pixels first ([`int8_weight_order`]).

use crate::compile::{compile_graph, Compiled, Options, PatchChoice};
use crate::error::{ConvertError, Result};
use crate::graph::Graph;
use crate::patch;

/// Most bands a prefix is split into: beyond it the recomputed rows cost more than any
/// further saving (each band re-reads a receptive field whose height does not shrink).
pub const MAX_BANDS: usize = 16;

/// Cost of one more layer call, in multiply-accumulate equivalents: the call, the requantized
/// output stage set-up and the edges each layer handles again.
pub const LAYER_COST: u64 = 500;

/// Most conversions [`fit`] spends, when nothing fits, to find the smallest arena it names.
const MAX_REPORT_COMPILES: usize = 64;

/// Extra cost per multiply-accumulate of a depthwise convolution run in place: its row kernel
/// is portable code, measured at 17.4 instructions (22.9 estimated cycles) per
/// multiply-accumulate on qemu-m4 (vww_96_int8, `ferrite sim --max-flash 300000 --json`)
/// where the DSP depthwise kernels take 2 to 4.
pub const IN_PLACE_COST: u64 = 15;

/// Which depthwise convolutions of a candidate run in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum InPlace {
    /// None.
    None,
    /// Those the budget's activations need ([`crate::inplace::needed`]); how many.
    Needed(usize),
    /// Every one that can.
    All,
}

/// One plan to try.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    patch: Option<PatchChoice>,
    input_in_place: bool,
    in_place: InPlace,
    cost: u64,
    floor: usize,
}

impl Candidate {
    fn describe(&self) -> String {
        let patch = self.patch.map_or("every layer whole".to_string(), |p| {
            format!(
                "a prefix through operator #{} in {} bands",
                p.last_op, p.bands
            )
        });
        let input = if self.input_in_place {
            ", input read in place"
        } else {
            ""
        };
        let ops = match self.in_place {
            InPlace::None => String::new(),
            InPlace::Needed(0) => ", the depthwise convolutions the arena needs in place".into(),
            InPlace::Needed(n) => format!(", {n} depthwise convolutions in place"),
            InPlace::All => ", every depthwise convolution that can in place".into(),
        };
        format!("{patch}{input}{ops}")
    }
}

fn graph_macs(g: &Graph<'_>) -> u64 {
    g.ops.iter().map(|op| patch::op_macs(g, op)).sum()
}

/// The candidates of one graph shape (`g`, already patched or not), with and without the
/// input and the depthwise convolutions in place.
fn variants(
    g: &Graph<'_>,
    patch: Option<PatchChoice>,
    cost: u64,
    max_arena: usize,
    out: &mut Vec<Candidate>,
) {
    for input_in_place in [false, true] {
        out.push(Candidate {
            patch,
            input_in_place,
            in_place: InPlace::None,
            cost,
            floor: patch::activation_floor(g, input_in_place),
        });
        // The in-place layers this budget's activations need (the conversion picks the same
        // ones), and as a last resort all that can (their small window scratch also replaces
        // the larger scratch of the targets' own depthwise kernels).
        let needed = crate::inplace::needed(g, input_in_place, max_arena);
        let all = crate::inplace::candidates(g);
        for (layers, limit) in [(needed, true), (all, false)] {
            if layers.is_empty()
                || (!limit
                    && out
                        .last()
                        .is_some_and(|c| c.in_place == InPlace::Needed(layers.len())))
            {
                continue;
            }
            let mut merged = g.clone();
            crate::inplace::merge_views(&mut merged, &layers);
            let dw_macs: u64 = layers.iter().map(|&p| patch::op_macs(g, &g.ops[p])).sum();
            out.push(Candidate {
                patch,
                input_in_place,
                in_place: if limit {
                    InPlace::Needed(layers.len())
                } else {
                    InPlace::All
                },
                cost: cost + IN_PLACE_COST * dw_macs,
                floor: patch::activation_floor(&merged, input_in_place),
            });
        }
    }
}

/// Every plan [`fit`] compares, cheapest first.
fn candidates(graph: &Graph<'_>, max_arena: usize) -> Vec<Candidate> {
    let base = graph_macs(graph);
    let mut out = Vec::new();
    variants(graph, None, base, max_arena, &mut out);
    for prefix in patch::prefixes(graph) {
        let last_op = graph.ops[prefix.end - 1].index;
        for bands in 1..=prefix.rows.min(MAX_BANDS) {
            let mut g = graph.clone();
            let Ok(report) = patch::apply(&mut g, &prefix, bands) else {
                continue;
            };
            let extra_layers = (g.ops.len() - graph.ops.len()) as u64;
            let cost =
                base - report.prefix_macs.0 + report.prefix_macs.1 + LAYER_COST * extra_layers;
            let choice = Some(PatchChoice { last_op, bands });
            variants(&g, choice, cost, max_arena, &mut out);
        }
    }
    // At equal cost (one band costs what the unpatched plan does), fewer bands first.
    out.sort_by_key(|c| {
        (
            c.cost,
            c.input_in_place,
            c.in_place,
            c.patch.map_or(0, |p| p.bands),
            c.floor,
        )
    });
    out
}

/// Dense convolutions and fully connected layers in the order [`fit`] gives them int8 weights
/// to meet a flash budget: fewest output pixels first (a weight read for fewer pixels costs
/// least to unpack: measured on vww_96_int8, the 6x6 and 3x3 layers' int8 weights add 0.001 to
/// 0.014 estimated cycles per MAC, the 48x48 ones up to 0.23), then most weight bytes.
fn int8_weight_order(graph: &Graph<'_>) -> Vec<usize> {
    use crate::tflite::opcodes as oc;
    let mut convs: Vec<(usize, usize, usize)> = graph
        .ops
        .iter()
        .filter(|op| {
            matches!(
                op.code,
                oc::CONV_2D | oc::FULLY_CONNECTED | oc::DEPTHWISE_CONV_2D
            )
        })
        .filter_map(|op| {
            let out = &graph.tensors[*op.outputs.first()?];
            let filter = &graph.tensors[(*op.inputs.get(1)?)?];
            let pixels = out.num_elements() / out.shape.last().copied().unwrap_or(1).max(1);
            Some((pixels, usize::MAX - filter.num_elements(), op.index))
        })
        .collect();
    convs.sort_unstable();
    convs.dedup_by_key(|c| c.2);
    convs.into_iter().map(|c| c.2).collect()
}

/// The flash a plan's estimate may take under a budget of `max_flash` bytes: 1% less, the
/// estimate's allowance for its own error (within 0.5% of the linked firmware for every shared
/// model of more than 50 KB on every board, `tools/cli/tests/flash_estimate.rs`; above it for
/// smaller ones), so that the firmware the board links fits the budget it was given.
pub fn usable_flash(max_flash: usize) -> usize {
    max_flash - max_flash / 100
}

/// Compiles `cand`; when its flash is over `max_flash`, keeps int8 weights in the fewest
/// layers of [`int8_weight_order`] that bring it within (flash only falls as layers are added,
/// so a bisection finds them), or returns the all-int8 plan, the least flash it can reach.
fn compile_within_flash(
    graph: &Graph<'_>,
    options: &Options,
    cand: &Candidate,
    strict: bool,
    max_flash: Option<usize>,
) -> Result<Compiled> {
    let c = compile_candidate(graph, options, cand, strict)?;
    let Some(max_flash) = max_flash.map(usable_flash) else {
        return Ok(c);
    };
    if c.report.flash_bytes <= max_flash || options.int8_weights != crate::Int8Weights::None {
        return Ok(c);
    }
    let order = int8_weight_order(graph);
    let with = |k: usize| {
        let opts = Options {
            int8_weights: crate::Int8Weights::Ops(order[..k].to_vec()),
            ..options.clone()
        };
        compile_candidate(graph, &opts, cand, strict)
    };
    let all = with(order.len())?;
    if all.report.flash_bytes > max_flash {
        return Ok(all);
    }
    let (mut lo, mut hi, mut best) = (0, order.len(), all);
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let c = with(mid)?;
        if c.report.flash_bytes <= max_flash {
            hi = mid;
            best = c;
        } else {
            lo = mid;
        }
    }
    Ok(best)
}

/// Compiles `cand` (with [`Graph::scratch_within_peak`] set to `strict`).
fn compile_candidate(
    graph: &Graph<'_>,
    options: &Options,
    cand: &Candidate,
    strict: bool,
) -> Result<Compiled> {
    let max_arena = options.max_arena.unwrap_or(usize::MAX);
    let opts = Options {
        patch: cand.patch,
        input_in_place: cand.input_in_place,
        in_place_ops: cand.in_place != InPlace::None,
        in_place_limit: matches!(cand.in_place, InPlace::Needed(_)).then_some(max_arena),
        max_arena: None,
        ..options.clone()
    };
    let mut g = graph.clone();
    g.scratch_within_peak = strict;
    compile_graph(g, &opts)
}

/// The fastest plan of `graph` within `options.max_arena`, or an error naming the smallest
/// arena reached.
///
/// Plans are first tried with every kernel's speed-chosen scratch as the lowering sizes it;
/// only when none fits are they tried again with that scratch kept within the activation peak
/// ([`Graph::scratch_within_peak`]: slower depthwise kernels on the Cortex-M targets), so a
/// budget that fits without it gets the same plan as before.
pub fn fit(graph: &Graph<'_>, options: &Options) -> Result<Compiled> {
    let max_arena = options.max_arena.unwrap_or(usize::MAX);
    let max_flash = options.max_flash;
    // The least flash of a plan whose arena fits, for the error when none fits both.
    let mut least_flash: Option<(usize, String)> = None;
    let all = candidates(graph, max_arena);
    // The portable kernels take no speed-chosen scratch: one pass is enough.
    let passes: &[bool] = if options.target == crate::Target::Portable {
        &[false]
    } else {
        &[false, true]
    };
    let mut tried: Vec<(usize, Candidate, bool)> = Vec::new();
    for &strict in passes {
        for cand in all.iter().filter(|c| c.floor <= max_arena) {
            let Ok(c) = compile_within_flash(graph, options, cand, strict, max_flash) else {
                continue;
            };
            if c.arena_bytes <= max_arena {
                let flash = c.report.flash_bytes;
                if max_flash.is_none_or(|m| flash <= usable_flash(m)) {
                    return Ok(c);
                }
                if least_flash.as_ref().is_none_or(|(f, _)| flash < *f) {
                    least_flash = Some((flash, cand.describe()));
                }
                continue;
            }
            tried.push((c.arena_bytes, *cand, strict));
        }
    }
    if let (Some(max_flash), Some((smallest, plan))) = (max_flash, least_flash) {
        return Err(ConvertError::FlashBudget {
            max_flash,
            smallest,
            plan: format!("{plan}, every convolution's weights in int8"),
        });
    }
    // Nothing fits: the smallest arena among the plans with the lowest floors.
    let mut by_floor: Vec<&Candidate> = all.iter().collect();
    by_floor.sort_by_key(|c| (c.floor, c.cost));
    // Lowest floors first; a plan whose floor is not below the smallest arena reached so far
    // cannot reach less, so the walk stops there (or after MAX_REPORT_COMPILES conversions).
    let mut compiles = 0;
    for cand in by_floor {
        let best = tried.iter().map(|t| t.0).min().unwrap_or(usize::MAX);
        if cand.floor >= best || compiles >= MAX_REPORT_COMPILES {
            break;
        }
        for &strict in passes {
            compiles += 1;
            if let Ok(c) = compile_candidate(graph, options, cand, strict) {
                tried.push((c.arena_bytes, *cand, strict));
            }
        }
    }
    // Which depthwise layers run in place follows the limit they are chosen for (the budget),
    // and fewer of them can mean less scratch: from the best plan, choose them again for just
    // under the arena it reached while that lowers it.
    if let Some(&(arena, cand, strict)) = tried.iter().min_by_key(|t| (t.0, t.1.cost, t.2)) {
        if cand.in_place != InPlace::None {
            let mut reached = arena;
            let needed = Candidate {
                in_place: InPlace::Needed(0),
                ..cand
            };
            for _ in 0..8 {
                let opts = Options {
                    max_arena: Some(reached.saturating_sub(1)),
                    ..options.clone()
                };
                match compile_candidate(graph, &opts, &needed, strict) {
                    Ok(c) if c.arena_bytes < reached => {
                        reached = c.arena_bytes;
                        tried.push((reached, needed, strict));
                    }
                    _ => break,
                }
            }
        }
    }
    let best = tried
        .iter()
        .min_by_key(|(arena, c, strict)| (*arena, c.cost, *strict));
    Err(ConvertError::Budget {
        max_arena,
        smallest: best.map_or(0, |b| b.0),
        plan: best.map_or_else(
            || "no plan converted".into(),
            |b| {
                let strict = if b.2 {
                    ", kernel scratch within the activation peak"
                } else {
                    ""
                };
                format!("{}{strict}", b.1.describe())
            },
        ),
    })
}
