//! The arena planner: gives every activation buffer an offset so that buffers alive at the
//! same time never overlap, in as few bytes as possible.
//!
//! A buffer is alive from the layer that writes it to the last layer that reads it (graph
//! inputs from the start, graph outputs to the end). A layer's inputs and outputs are alive
//! together, so kernels never read and write the same bytes.
//!
//! Placement is first-fit in a given order of buffers (each one at the lowest offset that
//! does not overlap a placed buffer with an intersecting lifetime). Plain largest-first
//! ordering — what TFLite Micro's greedy planner does — can miss the optimum badly (on
//! MobileNet-style nets it leaves a large input where a later, smaller tensor should have
//! gone), so the planner tries several orderings and then improves the best one by a
//! deterministic local search over the order, stopping early when it reaches the lower bound
//! (the largest total size of buffers alive at one time).

use ferrite_core::arena::ARENA_ALIGN;

/// One buffer to place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    /// Size in bytes (0 for an empty tensor).
    pub size: usize,
    /// First layer at which it is alive.
    pub first: usize,
    /// Last layer at which it is alive (inclusive).
    pub last: usize,
}

/// A placement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Offset of each buffer (multiples of [`ARENA_ALIGN`]).
    pub offsets: Vec<usize>,
    /// Bytes the arena needs.
    pub arena_bytes: usize,
    /// Largest total (aligned) size of buffers alive at one time: no plan can use less.
    pub lower_bound: usize,
}

fn align(n: usize) -> usize {
    n.div_ceil(ARENA_ALIGN) * ARENA_ALIGN
}

#[cfg(test)]
fn overlaps_in_time(a: &Buffer, b: &Buffer) -> bool {
    a.first <= b.last && b.first <= a.last
}

/// Most `(buffer, overlapping buffer)` pairs the planner keeps: beyond this (a hostile graph
/// with tens of thousands of tensors alive together) it places buffers side by side instead,
/// so memory stays bounded.
const MAX_CONFLICT_PAIRS: usize = 1 << 22;

/// Work (buffer and conflict visits) the local search may spend: real models finish their
/// `effort` orderings far below it; a hostile graph with thousands of buffers gets fewer.
const SEARCH_BUDGET: usize = 1 << 27;

/// The aligned bytes alive at each step where that total changes, as `(step, live from this
/// step on)` in step order: an event sweep, `O(n log n)` where scanning every step was
/// `O(steps * n)`.
fn live_profile(buffers: &[Buffer]) -> Vec<(usize, usize)> {
    let mut starts: Vec<(usize, usize)> =
        buffers.iter().map(|b| (b.first, align(b.size))).collect();
    let mut ends: Vec<(usize, usize)> = buffers
        .iter()
        .map(|b| (b.last.saturating_add(1), align(b.size)))
        .collect();
    starts.sort_unstable();
    ends.sort_unstable();
    let (mut s, mut e) = (starts.iter().peekable(), ends.iter().peekable());
    let mut live = 0usize;
    let mut profile = Vec::new();
    loop {
        let t = match (s.peek(), e.peek()) {
            (Some(a), Some(b)) => a.0.min(b.0),
            (Some(a), None) => a.0,
            (None, Some(b)) => b.0,
            (None, None) => break,
        };
        while let Some(&&(_, size)) = s.peek().filter(|x| x.0 == t) {
            live += size;
            s.next();
        }
        // A buffer ends (at `last + 1`) only after it started, so this never underflows.
        while let Some(&&(_, size)) = e.peek().filter(|x| x.0 == t) {
            live = live.saturating_sub(size);
            e.next();
        }
        profile.push((t, live));
    }
    profile
}

/// Aligned bytes alive at each step `0..steps` (a difference array over the lifetimes).
pub fn live_at(buffers: &[Buffer], steps: usize) -> Vec<usize> {
    let mut delta = vec![0i64; steps + 1];
    for b in buffers {
        let (first, last) = (b.first.min(steps), b.last.saturating_add(1).min(steps));
        if first < last {
            delta[first] += align(b.size) as i64;
            delta[last] -= align(b.size) as i64;
        }
    }
    let mut live = 0i64;
    delta
        .iter()
        .take(steps)
        .map(|d| {
            live += d;
            live.max(0) as usize
        })
        .collect()
}

/// Largest total aligned size alive at once.
pub fn lower_bound(buffers: &[Buffer]) -> usize {
    live_profile(buffers)
        .iter()
        .map(|&(_, live)| live)
        .max()
        .unwrap_or(0)
}

/// The last step at which the most bytes are alive (what scanning every step from 0 to the
/// last buffer's end with `max_by_key` picks).
fn peak_step(buffers: &[Buffer], profile: &[(usize, usize)], best: usize) -> usize {
    let end = buffers.iter().map(|b| b.last).max().unwrap_or(0);
    if best == 0 {
        return end;
    }
    let mut peak = 0;
    for (k, &(t, live)) in profile.iter().enumerate() {
        if live == best && t <= end {
            let next = profile
                .get(k + 1)
                .map_or(end.saturating_add(1), |&(n, _)| n);
            peak = next.saturating_sub(1).min(end);
        }
    }
    peak
}

/// For every buffer, the buffers whose lifetimes intersect its own (a sweep in order of first
/// step: `O(n log n + pairs)`), or `None` beyond [`MAX_CONFLICT_PAIRS`].
fn conflicts(buffers: &[Buffer]) -> Option<Vec<Vec<usize>>> {
    let mut by_first: Vec<usize> = (0..buffers.len()).collect();
    by_first.sort_by_key(|&i| (buffers[i].first, i));
    let mut out = vec![Vec::new(); buffers.len()];
    let mut active: Vec<usize> = Vec::new();
    let mut pairs = 0usize;
    for &i in &by_first {
        let first = buffers[i].first;
        // Everything still alive when `i` starts overlaps it; the rest never will again.
        active.retain(|&j| buffers[j].last >= first);
        pairs += 2 * active.len();
        if pairs > MAX_CONFLICT_PAIRS {
            return None;
        }
        for &j in &active {
            out[i].push(j);
            out[j].push(i);
        }
        active.push(i);
    }
    Some(out)
}

/// First-fit placement of `buffers` in `order`; returns offsets and the arena size.
fn place(buffers: &[Buffer], order: &[usize], conflicts: &[Vec<usize>]) -> (Vec<usize>, usize) {
    let mut offsets = vec![usize::MAX; buffers.len()];
    let mut total = 0;
    let mut busy: Vec<(usize, usize)> = Vec::with_capacity(buffers.len());
    for &i in order {
        let size = align(buffers[i].size);
        if size == 0 {
            offsets[i] = 0;
            continue;
        }
        busy.clear();
        for &j in &conflicts[i] {
            if offsets[j] != usize::MAX && buffers[j].size > 0 {
                busy.push((offsets[j], offsets[j] + align(buffers[j].size)));
            }
        }
        busy.sort_unstable();
        let mut candidate = 0;
        for &(start, end) in &busy {
            if candidate + size <= start {
                break;
            }
            candidate = candidate.max(end);
        }
        offsets[i] = candidate;
        total = total.max(candidate + size);
    }
    (offsets, total)
}

/// A small deterministic PRNG (xorshift64*), so plans are reproducible.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Plans the arena for `buffers`, searching at most `effort` orderings after the heuristics.
pub fn plan(buffers: &[Buffer], effort: usize) -> Plan {
    let n = buffers.len();
    let profile = live_profile(buffers);
    let lower_bound = profile.iter().map(|&(_, live)| live).max().unwrap_or(0);
    let Some(conflicts) = conflicts(buffers) else {
        // Side by side, in order: correct, and linear in time and memory.
        let mut offsets = Vec::with_capacity(n);
        let mut total = 0usize;
        for b in buffers {
            offsets.push(total);
            total = total.saturating_add(align(b.size));
        }
        return Plan {
            offsets,
            arena_bytes: total,
            lower_bound,
        };
    };
    let pairs: usize = conflicts.iter().map(Vec::len).sum();
    let effort = effort.min(SEARCH_BUDGET / (n + pairs).max(1));

    let by = |key: &dyn Fn(&Buffer) -> (i64, i64)| {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (key(&buffers[i]), i));
        order
    };
    let size = |b: &Buffer| -(b.size as i64);
    let span = |b: &Buffer| -((b.last - b.first) as i64);
    let mut candidates = vec![
        by(&|b| (size(b), span(b))),
        by(&|b| (span(b), size(b))),
        by(&|b| (-((b.size * (b.last - b.first + 1)) as i64), 0)),
        by(&|b| (b.first as i64, size(b))),
        by(&|b| (-(b.last as i64), size(b))),
    ];
    // Buffers alive at the busiest moment first, largest first, then the others by how close
    // in time they are to it.
    let peak = peak_step(buffers, &profile, lower_bound);
    candidates.push(by(&|b| {
        let distance = if b.last < peak {
            peak - b.last
        } else {
            b.first.saturating_sub(peak)
        };
        (distance as i64, size(b))
    }));

    let mut best_order = candidates[0].clone();
    let mut best = place(buffers, &best_order, &conflicts);
    for order in candidates.into_iter().skip(1) {
        let p = place(buffers, &order, &conflicts);
        if p.1 < best.1 {
            best = p;
            best_order = order;
        }
    }

    // Local search: move one buffer to another position in the order; keep non-worsening moves.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
    let mut current_order = best_order.clone();
    let mut current = best.1;
    for _ in 0..effort {
        if best.1 <= lower_bound || n < 2 {
            break;
        }
        let mut order = current_order.clone();
        let from = rng.below(n);
        let to = rng.below(n);
        let item = order.remove(from);
        order.insert(to, item);
        let p = place(buffers, &order, &conflicts);
        if p.1 <= current {
            current = p.1;
            current_order = order;
            if p.1 < best.1 {
                best = p;
            }
        }
    }
    Plan {
        offsets: best.0,
        arena_bytes: best.1,
        lower_bound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_no_overlap(buffers: &[Buffer], plan: &Plan) {
        for i in 0..buffers.len() {
            for j in 0..i {
                if overlaps_in_time(&buffers[i], &buffers[j])
                    && buffers[i].size > 0
                    && buffers[j].size > 0
                {
                    let (a, b) = (plan.offsets[i], plan.offsets[j]);
                    assert!(
                        a + buffers[i].size <= b || b + buffers[j].size <= a,
                        "buffers {i} and {j} overlap"
                    );
                }
            }
            assert!(plan.offsets[i] + buffers[i].size <= plan.arena_bytes);
            assert_eq!(plan.offsets[i] % ARENA_ALIGN, 0);
        }
    }

    #[test]
    fn mobilenet_head_reaches_the_lower_bound() {
        // The first layers of MobileNetV1-0.25 at 96x96: input, conv out, dw out, pw out, ...
        let b = |size, first, last| Buffer { size, first, last };
        let buffers = [
            b(27648, 0, 0),
            b(18432, 0, 1),
            b(18432, 1, 2),
            b(36864, 2, 3),
            b(9216, 3, 4),
            b(18432, 4, 5),
        ];
        let plan = plan(&buffers, 1000);
        check_no_overlap(&buffers, &plan);
        assert_eq!(plan.lower_bound, 55296);
        assert_eq!(plan.arena_bytes, 55296);
    }

    /// The sweeps give what scanning every step gives.
    #[test]
    fn sweeps_match_the_step_by_step_definitions() {
        let mut rng = Rng(7);
        for case in 0..300 {
            let n = rng.below(40);
            let buffers: Vec<Buffer> = (0..n)
                .map(|_| {
                    let first = rng.below(30);
                    Buffer {
                        size: if case % 5 == 0 { 0 } else { rng.below(300) },
                        first,
                        last: first + rng.below(8),
                    }
                })
                .collect();
            let end = buffers.iter().map(|b| b.last).max().unwrap_or(0);
            let live = |t: usize| {
                buffers
                    .iter()
                    .filter(|b| b.first <= t && t <= b.last)
                    .map(|b| align(b.size))
                    .sum::<usize>()
            };
            let best = (0..=end).map(live).max().unwrap_or(0);
            let peak = (0..=end).max_by_key(|&t| live(t)).unwrap_or(0);
            let profile = live_profile(&buffers);
            assert_eq!(lower_bound(&buffers), best, "case {case}");
            assert_eq!(peak_step(&buffers, &profile, best), peak, "case {case}");
            let mut c = conflicts(&buffers).unwrap();
            for (i, list) in c.iter_mut().enumerate() {
                list.sort_unstable();
                let naive: Vec<usize> = (0..n)
                    .filter(|&j| j != i && overlaps_in_time(&buffers[i], &buffers[j]))
                    .collect();
                assert_eq!(*list, naive, "case {case}, buffer {i}");
            }
        }
    }

    #[test]
    fn huge_graphs_are_planned_in_bounded_time_and_memory() {
        // 5000 buffers all alive together: too many pairs, placed side by side.
        let buffers = vec![
            Buffer {
                size: 16,
                first: 0,
                last: 1,
            };
            5000
        ];
        let p = plan(&buffers, 4000);
        check_no_overlap(&buffers, &p);
        assert_eq!(p.arena_bytes, 16 * 5000);
        // A 60000-long chain: few pairs, and the lower bound at once.
        let chain: Vec<Buffer> = (0..60_000)
            .map(|i| Buffer {
                size: 16 + i % 3 * 16,
                first: i,
                last: i + 1,
            })
            .collect();
        let p = plan(&chain, 4000);
        assert!(p.arena_bytes <= 2 * p.lower_bound);
    }

    #[test]
    fn random_graphs_never_overlap() {
        let mut rng = Rng(42);
        for _ in 0..50 {
            let n = 1 + rng.below(30);
            let buffers: Vec<Buffer> = (0..n)
                .map(|_| {
                    let first = rng.below(20);
                    Buffer {
                        size: rng.below(5000),
                        first,
                        last: first + rng.below(5),
                    }
                })
                .collect();
            let p = plan(&buffers, 200);
            check_no_overlap(&buffers, &p);
            assert!(p.arena_bytes >= p.lower_bound);
        }
    }
}
