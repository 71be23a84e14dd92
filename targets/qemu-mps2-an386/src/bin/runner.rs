//! The serial runner for QEMU's MPS2 boards (mps2-an386, and mps2-an385 whose crate builds
//! this file too): the model is baked in, the samples arrive over UART0 (`-serial`), one
//! inference per request, timed with the CMSDK timer (instructions under `-icount shift=0`).
//! See `ferrite_firmware::runner`.
#![no_std]
#![no_main]

use ferrite_core::Arena;
use ferrite_firmware::counter::Mps2Timer;
use ferrite_firmware::runner::{serve, RunnerConfig};
use ferrite_firmware::uart::{CmsdkUart, MPS2_UART0};
use ferrite_firmware::ConstStaticCell;
use ferrite_kernels as _;

mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}
mod identity {
    include!(concat!(env!("OUT_DIR"), "/model_id.rs"));
}

ferrite_firmware::qemu_board_handlers!();

static ARENA: ConstStaticCell<Arena<{ model::ARENA_BYTES }>> = ConstStaticCell::new(Arena::new());
/// The model's persistent state region (variable tensors; empty for a stateless model).
static STATE: ConstStaticCell<Arena<{ model::STATE_BYTES }>> = ConstStaticCell::new(Arena::new());

#[cortex_m_rt::entry]
fn main() -> ! {
    // `try_take`: `take` panics when called twice, and a firmware links no panic path.
    let (Some(arena), Some(state)) = (ARENA.try_take(), STATE.try_take()) else {
        ferrite_firmware::qemu::exit(ferrite_firmware::qemu::status::PANIC)
    };
    // SAFETY: UART0 of the MPS2 boards is a CMSDK UART at this address, and this is the only
    // handle to it. Divider 16: 25 MHz / 16; QEMU moves bytes as fast as the host sends them.
    let mut uart = unsafe { CmsdkUart::new(MPS2_UART0, 16) };
    let mut timer = Mps2Timer::new();
    let config = RunnerConfig {
        model_id: identity::MODEL_ID,
        counter: ferrite_link::CounterKind::Instructions,
    };
    // The UART never fails (its error type is uninhabited), so `serve` never returns.
    match serve(
        &mut uart,
        &model::MODEL,
        arena.as_mut_slice(),
        state.as_mut_slice(),
        &mut timer,
        &config,
    ) {}
}
