//! Gesture recognition on an nRF52840-DK with a LIS3DH accelerometer on I2C (TWIM0: SDA on
//! P0.26, SCL on P0.27): readings at 50 Hz fill a 1.28 s window; when the window shows motion
//! the model names the gesture, logged over RTT (`cargo run --release` with a probe).
//!
//! The sensor driver (`lis3dh`) and the window (`gesture`) only know `embedded-hal`, so a copy
//! for another board changes the `board` module below and `memory.x`, nothing else.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
// On the host only the tests use the driver and the window.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

mod gesture;
mod lis3dh;

mod model {
    include!(concat!(env!("OUT_DIR"), "/model.rs"));
}

#[cfg(target_os = "none")]
mod board {
    use crate::gesture::{classify, Window};
    use crate::lis3dh::{Lis3dh, ADDRESS};
    use crate::model;
    use defmt_rtt as _;
    use ferrite_core::Arena;
    use nrf52840_hal::{gpio::p0, pac, twim, Twim};
    use panic_probe as _;

    /// Motion (in g, away from rest) below which the model does not run.
    const WAKE_G: f32 = 0.15;

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let Some(p) = pac::Peripherals::take() else {
            defmt::panic!("peripherals already taken")
        };
        let pins = p0::Parts::new(p.P0);
        let bus = Twim::new(
            p.TWIM0,
            twim::Pins {
                sda: pins.p0_26.into_floating_input().degrade(),
                scl: pins.p0_27.into_floating_input().degrade(),
            },
            twim::Frequency::K400,
        );
        let mut sensor = match Lis3dh::new(bus, ADDRESS) {
            Ok(s) => s,
            Err(e) => defmt::panic!("LIS3DH: {}", defmt::Debug2Format(&e)),
        };
        let arena = cortex_m::singleton!(: Arena<{ model::ARENA_BYTES }> = Arena::new());
        let Some(arena) = arena else {
            defmt::panic!("arena already taken")
        };
        let mut window = Window::new();
        let mut fresh = 0usize;
        loop {
            match sensor.read_mg() {
                Ok(Some(mg)) => {
                    window.push(mg);
                    fresh += 1;
                }
                Ok(None) => continue,
                Err(e) => {
                    defmt::warn!("LIS3DH: {}", defmt::Debug2Format(&e));
                    continue;
                }
            }
            // Classify twice per window (every 32 readings) once it is full and moving.
            if !window.is_full() || fresh < crate::gesture::WINDOW / 2 {
                continue;
            }
            fresh = 0;
            if window.motion_g() < WAKE_G {
                continue;
            }
            match classify(&window, arena.as_mut_slice()) {
                Ok((g, score)) => defmt::info!("{} (score {})", g.name(), score),
                Err(e) => defmt::error!("model: {}", e),
            }
        }
    }
}

/// On the host there is no board: `cargo test --target x86_64-unknown-linux-gnu` runs the
/// driver and the window against a simulated sensor.
#[cfg(not(target_os = "none"))]
fn main() {
    println!("build for the board: cargo build --release (see README.md)");
}
