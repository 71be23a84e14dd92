//! Running in QEMU: results go to a host file through semihosting, the exit status through
//! `SYS_EXIT_EXTENDED`, panics and faults are logged with `defmt` (through
//! [`crate::logger`]) and end the run with a failure status (QEMU is always run under a
//! timeout by the host, but never needs it).
//!
//! The results file, `ferrite-results.bin` in QEMU's working directory, is little-endian:
//!
//! | field | type |
//! |---|---|
//! | magic `FRST`, format version 1 | `[u8; 4]`, `u32` |
//! | calibration: instructions, ticks | `u32`, `u32` |
//! | samples, layers, output bytes per sample | `u32` ×3 |
//! | per sample: outputs, ticks of each layer, ticks of the whole inference | bytes, `u32` × layers, `u32` |
//! | stack high-water mark in bytes | `u32` |

use crate::counter::{calibrate, Counter, CALIBRATION_ITERATIONS};
use crate::profile::LayerProfile;
use crate::semihost::HostFile;
use ferrite_core::Model;

/// Exit statuses a QEMU run can end with.
pub mod status {
    /// Every sample ran.
    pub const OK: i32 = 0;
    /// The model returned an error.
    pub const MODEL_ERROR: i32 = 2;
    /// The results file could not be written.
    pub const IO_ERROR: i32 = 3;
    /// A panic (none is reachable in the inference path; this is a backstop).
    pub const PANIC: i32 = 101;
    /// A HardFault.
    pub const HARD_FAULT: i32 = 102;
}

/// Name of the results file, relative to QEMU's working directory.
pub const RESULTS_FILE: &core::ffi::CStr = c"ferrite-results.bin";

/// Ends the QEMU run with `status`.
pub fn exit(status: i32) -> ! {
    semihosting::process::exit(status)
}

fn put(f: &mut HostFile, bytes: &[u8]) {
    if !f.write_all(bytes) {
        defmt::error!("writing the results file failed");
        exit(status::IO_ERROR);
    }
}

/// Runs every sample (each the model's inputs, concatenated) through `model`, timing each
/// layer with `counter`, writes the results file and exits QEMU.
pub fn run<C: Counter>(
    model: &Model<'_>,
    arena: &mut [u8],
    state: &mut [u8],
    stream: bool,
    samples: &[u8],
    counter: &mut C,
    ticks: &mut [u32],
) -> ! {
    crate::stack::paint();
    let calibration_ticks = calibrate(counter);
    let per_sample = crate::sample_bytes(model);
    let count = samples.len().checked_div(per_sample).unwrap_or(0);
    let out_bytes = crate::output_bytes(model);
    let layers = model.layers.len();
    defmt::info!(
        "ferrite: {} layers, {} samples, arena {} bytes",
        layers,
        count,
        model.arena_bytes
    );

    // `HostFile`, not `semihosting::fs::File`, whose descriptor checks can panic.
    let Some(mut f) = HostFile::create(RESULTS_FILE) else {
        defmt::error!("cannot create the results file");
        exit(status::IO_ERROR);
    };
    put(&mut f, b"FRST");
    for v in [
        1u32,
        2 * CALIBRATION_ITERATIONS,
        calibration_ticks,
        count as u32,
        layers as u32,
        out_bytes as u32,
    ] {
        put(&mut f, &v.to_le_bytes());
    }
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
                exit(status::MODEL_ERROR);
            }
        };
        // A stateful model starts from TFLM's reset state: before every sample, or only
        // before the first one when the samples are one stream.
        if s == 0 || !stream {
            if let Err(e) = model.reset_state(state) {
                defmt::error!("sample {}: {}", s, e);
                exit(status::MODEL_ERROR);
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
        // A CIRCULAR_BUFFER ending the sample early leaves the last complete outputs.
        if let Err(e) = result.or_else(|e| match e {
            ferrite_core::Error::Aborted { .. } => Ok(()),
            e => Err(e),
        }) {
            defmt::error!("sample {}: {}", s, e);
            exit(status::MODEL_ERROR);
        }
        for i in 0..model.outputs.len() {
            match model.output_bytes(arena, i) {
                Ok(b) => put(&mut f, b),
                Err(e) => {
                    defmt::error!("sample {}: {}", s, e);
                    exit(status::MODEL_ERROR);
                }
            }
        }
        for t in ticks.iter().take(layers) {
            put(&mut f, &t.to_le_bytes());
        }
        put(&mut f, &total.to_le_bytes());
        defmt::info!("sample {}: {} ticks", s, total);
    }
    let stack = crate::stack::high_water_bytes();
    put(&mut f, &stack.to_le_bytes());
    drop(f);
    defmt::info!("ferrite: done, stack high-water {} bytes", stack);
    exit(status::OK)
}

/// Defines the panic handler and the HardFault handler of a QEMU board: both log with
/// `defmt` and end the run with a failure status. Invoke once in the board's `main.rs`.
#[macro_export]
macro_rules! qemu_board_handlers {
    () => {
        // Logs where, not the message: formatting `PanicInfo` would link `core::fmt` (and
        // its own panic paths) into every firmware. Nothing in the firmware can reach this
        // handler (`targets/panic-free-check` proves the inference path panic-free), so the
        // linker drops it.
        #[panic_handler]
        fn panic(info: &core::panic::PanicInfo) -> ! {
            match info.location() {
                Some(l) => defmt::error!("panic at {=str}:{=u32}", l.file(), l.line()),
                None => defmt::error!("panic"),
            }
            $crate::qemu::exit($crate::qemu::status::PANIC)
        }

        #[cortex_m_rt::exception]
        unsafe fn HardFault(frame: &cortex_m_rt::ExceptionFrame) -> ! {
            defmt::error!("HardFault at pc {=u32:#x}", frame.pc());
            $crate::qemu::exit($crate::qemu::status::HARD_FAULT)
        }
    };
}
