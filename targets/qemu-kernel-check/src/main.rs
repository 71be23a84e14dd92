//! Runs every embedded random layer through the DSP kernel and the reference kernel on the
//! emulated Cortex-M4 and exits with status 0 only if all outputs agree byte for byte.
#![no_std]
#![no_main]

use ferrite_core::{Arena, Layer, Model, Op, Tensor, TensorId};
use ferrite_firmware::qemu::{exit, status};
use ferrite_firmware::ConstStaticCell;

/// One embedded layer.
pub struct Case {
    name: &'static str,
    consts: &'static [u8],
    input: &'static [u8],
    tensors: &'static [Tensor; 2],
    reference: &'static Op,
    fast: &'static Op,
    arena_bytes: usize,
}

mod cases {
    use super::Case;
    include!(concat!(env!("OUT_DIR"), "/cases.rs"));
}

ferrite_firmware::qemu_board_handlers!();

static ARENA: ConstStaticCell<Arena<{ cases::ARENA_BYTES }>> = ConstStaticCell::new(Arena::new());
static OUTPUT: ConstStaticCell<[u8; cases::ARENA_BYTES]> =
    ConstStaticCell::new([0; cases::ARENA_BYTES]);

fn run<'a>(case: &Case, op: &Op, arena: &'a mut [u8]) -> Result<&'a [u8], ferrite_core::Error> {
    let layer = Layer {
        op: *op,
        kernel: ferrite_kernels::registry::kernel_for(op).run,
        name: "case",
    };
    let model = Model {
        tensors: case.tensors,
        layers: core::slice::from_ref(&layer),
        consts: case.consts,
        inputs: &[TensorId(0)],
        outputs: &[TensorId(1)],
        arena_bytes: case.arena_bytes,
        state: ferrite_core::StatePlan::NONE,
    };
    // Garbage in the output and scratch must not matter.
    arena.fill(0x5a);
    model.set_input_bytes(arena, 0, case.input)?;
    model.invoke(arena)?;
    model.output_bytes(arena, 0)
}

#[cortex_m_rt::entry]
fn main() -> ! {
    let arena = ARENA.take().as_mut_slice();
    let expected = OUTPUT.take();
    let mut failures = 0;
    for case in &cases::CASES {
        let want = match run(case, case.reference, arena) {
            Ok(out) => {
                expected[..out.len()].copy_from_slice(out);
                out.len()
            }
            Err(e) => {
                defmt::error!("{=str}: reference failed: {}", case.name, e);
                exit(status::MODEL_ERROR)
            }
        };
        match run(case, case.fast, arena) {
            Ok(out) if out == &expected[..want] => {}
            Ok(out) => {
                let first = out
                    .iter()
                    .zip(expected.iter())
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                defmt::error!("{=str}: fast kernel differs at byte {}", case.name, first);
                failures += 1;
            }
            Err(e) => {
                defmt::error!("{=str}: fast kernel failed: {}", case.name, e);
                failures += 1;
            }
        }
    }
    defmt::info!("{} cases, {} failures", cases::CASES.len(), failures);
    exit(if failures == 0 { status::OK } else { 1 })
}
