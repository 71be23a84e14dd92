//! Runs the embedded model on the embedded sample, timing every layer with the DWT cycle
//! counter, and logs the results over RTT (`cargo run` = flash with probe-rs + print the log).
#![no_std]
#![no_main]

use defmt_rtt as _;
use ferrite_core::Arena;
use ferrite_firmware::counter::DwtCycles;
use ferrite_firmware::ConstStaticCell;
use ferrite_kernels as _;
use panic_probe as _;

mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}
mod samples {
    include!(concat!(env!("OUT_DIR"), "/samples.rs"));
}

static ARENA: ConstStaticCell<Arena<{ model::ARENA_BYTES }>> = ConstStaticCell::new(Arena::new());
static TICKS: ConstStaticCell<[u32; model::LAYERS]> = ConstStaticCell::new([0; model::LAYERS]);
/// The model's persistent state region (variable tensors; empty for a stateless model).
static STATE: ConstStaticCell<Arena<{ model::STATE_BYTES }>> = ConstStaticCell::new(Arena::new());

#[cortex_m_rt::entry]
fn main() -> ! {
    let Some(p) = cortex_m::Peripherals::take() else {
        defmt::panic!("core peripherals already taken")
    };
    let mut cycles = DwtCycles::new(p.DCB, p.DWT);
    ferrite_firmware::report::run_and_log(
        &model::MODEL,
        ARENA.take().as_mut_slice(),
        STATE.take().as_mut_slice(),
        samples::STREAM,
        &samples::SAMPLES,
        &mut cycles,
        TICKS.take(),
    );
    // A breakpoint ends `probe-rs run`.
    loop {
        cortex_m::asm::bkpt();
    }
}
