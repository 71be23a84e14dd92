//! Runs the embedded model on the embedded sample and logs the results over RTT (`cargo run` =
//! flash with probe-rs + print the log). The Cortex-M0+ has no cycle counter: layers are timed
//! with SysTick, calibrated against a loop of known instruction count.
#![no_std]
#![no_main]

use defmt_rtt as _;
use ferrite_core::Arena;
use ferrite_firmware::counter::SysTickCounter;
use ferrite_firmware::ConstStaticCell;
use ferrite_kernels as _;
use panic_probe as _;

mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}
mod samples {
    include!(concat!(env!("OUT_DIR"), "/samples.rs"));
}

/// The RP2040 boot ROM copies these 256 bytes from the start of flash to set up XIP.
#[link_section = ".boot2"]
#[used]
pub static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;

static ARENA: ConstStaticCell<Arena<{ model::ARENA_BYTES }>> = ConstStaticCell::new(Arena::new());
static TICKS: ConstStaticCell<[u32; model::LAYERS]> = ConstStaticCell::new([0; model::LAYERS]);
/// The model's persistent state region (variable tensors; empty for a stateless model).
static STATE: ConstStaticCell<Arena<{ model::STATE_BYTES }>> = ConstStaticCell::new(Arena::new());

#[cortex_m_rt::exception]
fn SysTick() {
    SysTickCounter::on_wrap();
}

#[cortex_m_rt::entry]
fn main() -> ! {
    let Some(p) = cortex_m::Peripherals::take() else {
        defmt::panic!("core peripherals already taken")
    };
    let mut systick = SysTickCounter::new(p.SYST);
    ferrite_firmware::report::run_and_log(
        &model::MODEL,
        ARENA.take().as_mut_slice(),
        STATE.take().as_mut_slice(),
        samples::STREAM,
        &samples::SAMPLES,
        &mut systick,
        TICKS.take(),
    );
    loop {
        cortex_m::asm::bkpt();
    }
}
