//! Runs the embedded model over the embedded samples in QEMU, timing every layer with the
//! MPS2 CMSDK timer (one tick per 40 instructions under `-icount shift=0`), and hands the
//! results to the host through semihosting (see `ferrite_firmware::qemu`).
#![no_std]
#![no_main]

use ferrite_core::Arena;
use ferrite_firmware::counter::Mps2Timer;
use ferrite_firmware::ConstStaticCell;
use ferrite_kernels as _;

mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}
mod samples {
    include!(concat!(env!("OUT_DIR"), "/samples.rs"));
}

ferrite_firmware::qemu_board_handlers!();

static ARENA: ConstStaticCell<Arena<{ model::ARENA_BYTES }>> = ConstStaticCell::new(Arena::new());
static TICKS: ConstStaticCell<[u32; model::LAYERS]> = ConstStaticCell::new([0; model::LAYERS]);
/// The model's persistent state region (variable tensors; empty for a stateless model).
static STATE: ConstStaticCell<Arena<{ model::STATE_BYTES }>> = ConstStaticCell::new(Arena::new());

#[cortex_m_rt::entry]
fn main() -> ! {
    // `try_take`: `take` panics when called twice, and a firmware links no panic path.
    let (Some(arena), Some(ticks), Some(state)) =
        (ARENA.try_take(), TICKS.try_take(), STATE.try_take())
    else {
        ferrite_firmware::qemu::exit(ferrite_firmware::qemu::status::PANIC)
    };
    let mut timer = Mps2Timer::new();
    ferrite_firmware::qemu::run(
        &model::MODEL,
        arena.as_mut_slice(),
        state.as_mut_slice(),
        samples::STREAM,
        &samples::SAMPLES,
        &mut timer,
        ticks,
    )
}
