//! Plans under budgets: the fastest plan whose arena fits `--max-arena`.
//!
//! The plans compared are the layer-by-layer plan, the same with input 0 read in place from
//! the caller's buffer, and every patch-based prefix ([`crate::patch::prefixes`]) in 1 to
//! [`MAX_BANDS`] bands, with or without the input in place (one band is not always the
//! unpatched plan: its explicit padding and views can change the kernels and their scratch). Their cost is the
//! multiply-accumulates they execute (recomputed band overlaps included) plus
//! [`LAYER_COST`] per extra layer call; a plan that copies the input wins a tie, since it
//! keeps the plain `set_input`/`invoke` API. Candidates are tried cheapest first, each
//! skipped when its activation floor ([`crate::patch::activation_floor`]) is already over the
//! budget, and the first whose planned arena (kernel scratch included) fits is the answer.
//! When none fits, the error names the smallest arena any of them reached and its plan.

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

/// One plan to try.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    patch: Option<PatchChoice>,
    input_in_place: bool,
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
        format!("{patch}{input}")
    }
}

fn graph_macs(g: &Graph<'_>) -> u64 {
    g.ops.iter().map(|op| patch::op_macs(g, op)).sum()
}

/// Every plan [`fit`] compares, cheapest first.
fn candidates(graph: &Graph<'_>) -> Vec<Candidate> {
    let base = graph_macs(graph);
    let mut out = Vec::new();
    for input_in_place in [false, true] {
        out.push(Candidate {
            patch: None,
            input_in_place,
            cost: base,
            floor: patch::activation_floor(graph, input_in_place),
        });
    }
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
            for input_in_place in [false, true] {
                out.push(Candidate {
                    patch: Some(PatchChoice { last_op, bands }),
                    input_in_place,
                    cost,
                    floor: patch::activation_floor(&g, input_in_place),
                });
            }
        }
    }
    // At equal cost (one band costs what the unpatched plan does), fewer bands first.
    out.sort_by_key(|c| {
        (
            c.cost,
            c.input_in_place,
            c.patch.map_or(0, |p| p.bands),
            c.floor,
        )
    });
    out
}

/// The fastest plan of `graph` within `options.max_arena`, or an error naming the smallest
/// arena reached.
pub fn fit(graph: &Graph<'_>, options: &Options) -> Result<Compiled> {
    let max_arena = options.max_arena.unwrap_or(usize::MAX);
    let all = candidates(graph);
    let mut tried: Vec<(usize, Candidate)> = Vec::new();
    for cand in all.iter().filter(|c| c.floor <= max_arena) {
        let opts = Options {
            patch: cand.patch,
            input_in_place: cand.input_in_place,
            max_arena: None,
            ..options.clone()
        };
        let Ok(c) = compile_graph(graph.clone(), &opts) else {
            continue;
        };
        if c.arena_bytes <= max_arena {
            return Ok(c);
        }
        tried.push((c.arena_bytes, *cand));
    }
    // Nothing fits: the smallest arena among the plans with the lowest floors.
    let mut by_floor: Vec<&Candidate> = all.iter().collect();
    by_floor.sort_by_key(|c| (c.floor, c.cost));
    for cand in by_floor.into_iter().take(8) {
        let opts = Options {
            patch: cand.patch,
            input_in_place: cand.input_in_place,
            max_arena: None,
            ..options.clone()
        };
        if let Ok(c) = compile_graph(graph.clone(), &opts) {
            tried.push((c.arena_bytes, *cand));
        }
    }
    let best = tried.iter().min_by_key(|(arena, c)| (*arena, c.cost));
    Err(ConvertError::Budget {
        max_arena,
        smallest: best.map_or(0, |b| b.0),
        plan: best.map_or_else(|| "no plan converted".into(), |b| b.1.describe()),
    })
}
