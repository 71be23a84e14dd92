//! A firmware that must not link if the device path can panic.
//!
//! It runs [`Model::run`] (and the other entry points a firmware calls) on a model the
//! optimiser cannot see into — read with `read_volatile` from statics — whose layer runs the
//! kernel [`kernel_for`] picks for an operator that is equally opaque, so every kernel entry of
//! the registry, and everything each can call, is linked. The panic handler calls a function
//! that exists nowhere: if any path to `core::panicking` survives optimisation, the handler is
//! linked too and the link fails with an undefined symbol
//! `ferrite_device_path_can_panic`.
//!
//! Build it once per kernel set (see `scripts/test.sh`):
//!
//! | set | command (in this directory) |
//! |---|---|
//! | DSP (Cortex-M4/M7) | `cargo build --release --target thumbv7em-none-eabihf --features dsp` |
//! | Helium + DSP (Cortex-M55) | `cargo build --release --target thumbv8m.main-none-eabihf --features dsp,helium` |
//! | no DSP (Cortex-M3) | `cargo build --release --target thumbv7m-none-eabi` |
//! | ARMv6-M, portable (Cortex-M0+) | `cargo build --release --target thumbv6m-none-eabi` |
#![no_std]
#![no_main]

use core::ptr::{read_volatile, write_volatile};
use ferrite_core::{ops, Layer, Model, Op, TensorId};
use ferrite_kernels::registry::{kernel_for, kernel_for_set, KernelSet};

/// The operator the layer runs: read volatile, so every arm of the registry stays reachable.
static OP: Op = Op::Copy(ops::Copy {
    input: TensorId(0),
    output: TensorId(0),
});

/// The model around the layer: read volatile, so no tensor, constant or size is known.
static MODEL: Model<'static> = Model {
    tensors: &[],
    layers: &[],
    consts: &[],
    inputs: &[],
    outputs: &[],
    arena_bytes: 0,
    state: ferrite_core::StatePlan::NONE,
};

/// Which run to make, and where its outcome goes: volatile, so nothing is dead.
static mut CHOICE: u32 = 0;
static mut SINK: u32 = 0;

#[repr(C, align(16))]
struct Buffers {
    arena: [u8; 1024],
    bytes: [u8; 64],
    i8s: [i8; 64],
    i16s: [i16; 64],
    f32s: [f32; 64],
    /// The persistent state region of a stateful model (SVDF's activation state).
    state: [u8; 256],
}

fn outcome<T>(r: ferrite_core::Result<&[T]>) -> u32 {
    match r {
        Ok(s) => s.len() as u32,
        Err(_) => u32::MAX,
    }
}

#[cortex_m_rt::entry]
fn main() -> ! {
    // SAFETY: plain reads of initialised statics; nothing else runs (one core, no interrupts
    // touch them). Volatile only so the optimiser cannot fold their values in.
    let (op, mut model, choice) = unsafe {
        (
            read_volatile(&OP),
            read_volatile(&MODEL),
            read_volatile(&raw const CHOICE),
        )
    };
    let set = if choice & 0x100 != 0 {
        KernelSet::STATIC
    } else {
        KernelSet::PORTABLE
    };
    let kernel = if choice & 0x200 != 0 {
        kernel_for_set(&op, set).run
    } else {
        kernel_for(&op).run
    };
    let layers = [Layer {
        op,
        kernel,
        name: "",
    }];
    model.layers = &layers;
    let b = &mut Buffers {
        arena: [0; 1024],
        bytes: [0; 64],
        i8s: [0; 64],
        i16s: [0; 64],
        f32s: [0.0; 64],
        state: [0; 256],
    };
    let n = (choice >> 16) as usize & 63;
    let result: u32 = match choice & 0xff {
        0 => outcome(model.run(&mut b.arena, b.i8s.get(..n).unwrap_or(&[]))),
        1 => outcome(model.run(&mut b.arena, b.i16s.get(..n).unwrap_or(&[]))),
        2 => outcome(model.run(&mut b.arena, b.f32s.get(..n).unwrap_or(&[]))),
        3 => match model.set_input_bytes(&mut b.arena, n, &b.bytes) {
            Ok(()) => match model.invoke(&mut b.arena) {
                Ok(()) => outcome(model.output_bytes(&b.arena, n)),
                Err(_) => 3,
            },
            Err(_) => 4,
        },
        5 => outcome(model.run_stateful(&mut b.arena, &mut b.state, b.i8s.get(..n).unwrap_or(&[]))),
        6 => match model.reset_state(&mut b.state) {
            Ok(()) => match model.invoke_stateful(&mut b.arena, &mut b.state) {
                Ok(()) => outcome(model.output_bytes(&b.arena, n)),
                Err(_) => 5,
            },
            Err(_) => 6,
        },
        _ => outcome(model.output::<i8>(&b.arena, n)),
    };
    // SAFETY: see above.
    unsafe { write_volatile(&raw mut SINK, result) };
    loop {
        core::hint::spin_loop();
    }
}

#[cfg(not(feature = "diagnose"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    extern "C" {
        /// Defined nowhere: referencing it fails the link.
        fn ferrite_device_path_can_panic() -> !;
    }
    // SAFETY: never runs: the function does not exist, so a firmware that can reach this
    // handler does not link.
    unsafe { ferrite_device_path_can_panic() }
}

/// With `--features diagnose` the firmware links whatever it holds, so the callers of
/// `core::panicking` can be listed: `scripts/panic-callers.sh`.
#[cfg(feature = "diagnose")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}
