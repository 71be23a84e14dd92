//! Running on a real board: results as `defmt` log lines (RTT), read by `probe-rs run`.

use crate::counter::{calibrate, Counter, CALIBRATION_ITERATIONS};
use crate::profile::LayerProfile;
use ferrite_core::Model;

/// Runs every sample through `model`, logging each output's top class and score, the
/// counter ticks of every layer and of the whole inference, and the stack high-water mark.
/// A stateful model keeps its variable tensors in `state` (`STATE_BYTES`), reset before every
/// sample, or only before the first one when `stream` is set.
pub fn run_and_log<C: Counter>(
    model: &Model<'_>,
    arena: &mut [u8],
    state: &mut [u8],
    stream: bool,
    samples: &[u8],
    counter: &mut C,
    ticks: &mut [u32],
) {
    crate::stack::paint();
    let calibration = calibrate(counter);
    defmt::info!(
        "counter: {} ticks for {} instructions",
        calibration,
        2 * CALIBRATION_ITERATIONS
    );
    let per_sample = crate::sample_bytes(model);
    let count = samples.len().checked_div(per_sample).unwrap_or(0);
    // `chunks_exact` rather than indexing: no panic path in the firmware (`count` is 0 when
    // `per_sample` is, and the `max(1)` only keeps `chunks_exact` from its zero-size panic).
    for (s, sample) in samples
        .chunks_exact(per_sample.max(1))
        .take(count)
        .enumerate()
    {
        let in_place = match crate::set_inputs(model, arena, sample) {
            Ok(b) => b,
            Err(e) => {
                defmt::error!("sample {}: {}", s, e);
                return;
            }
        };
        if s == 0 || !stream {
            if let Err(e) = model.reset_state(state) {
                defmt::error!("sample {}: {}", s, e);
                return;
            }
        }
        counter.start();
        let started = counter.elapsed();
        let result = model.invoke_stateful_with_hook(
            arena,
            state,
            in_place,
            &mut LayerProfile::new(counter, ticks),
        );
        let total = counter.elapsed().wrapping_sub(started);
        if let Err(e) = result {
            defmt::error!("sample {}: {}", s, e);
            return;
        }
        for (i, (layer, t)) in model.layers.iter().zip(ticks.iter()).enumerate() {
            defmt::info!("layer {} {=str}: {} ticks", i, layer.name, t);
        }
        match model.output_bytes(arena, 0) {
            Ok(out) => {
                let top = out
                    .iter()
                    .enumerate()
                    .max_by_key(|(_, &v)| v as i8)
                    .map_or(0, |(i, _)| i);
                defmt::info!(
                    "sample {}: class {} ({=[u8]:x}), {} ticks",
                    s,
                    top,
                    out,
                    total
                );
            }
            Err(e) => defmt::error!("sample {}: {}", s, e),
        }
    }
    defmt::info!(
        "stack high-water mark: {} bytes, arena {} bytes",
        crate::stack::high_water_bytes(),
        model.arena_bytes
    );
}
