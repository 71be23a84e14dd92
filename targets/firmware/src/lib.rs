//! # ferrite-firmware
//!
//! The board-independent half of Ferrite's firmware: run a converted model over inputs
//! embedded in flash, time every layer with the board's counter, measure the stack, and hand
//! the results to the host — through a semihosting file in QEMU ([`qemu`]), through `defmt`
//! logs on real boards — or serve inferences over a serial link ([`runner`]), the inputs
//! streamed from the host.
//!
//! A board crate supplies the [`counter::Counter`] it has (the MPS2 CMSDK timer, SysTick, or
//! the DWT cycle counter), its memory map and its logging transport.
#![no_std]
#![deny(missing_docs)]

pub mod counter;
pub mod profile;
pub mod report;
pub mod runner;
pub mod stack;
pub mod uart;

#[cfg(feature = "qemu")]
pub mod logger;
#[cfg(feature = "qemu")]
pub mod qemu;
#[cfg(feature = "qemu")]
pub mod semihost;

pub use static_cell::ConstStaticCell;

/// Sets every input of `model` from `sample`, the inputs' bytes concatenated in order, and
/// returns the bytes of the input read in place (`Model::input_in_place`; empty if none), for
/// `Model::invoke_in_place`.
pub fn set_inputs<'s>(
    model: &ferrite_core::Model<'_>,
    arena: &mut [u8],
    sample: &'s [u8],
) -> ferrite_core::Result<&'s [u8]> {
    let mut at = 0;
    let mut in_place: &[u8] = &[];
    for i in 0..model.inputs.len() {
        let n = model.input_tensor(i)?.size_bytes();
        let bytes = sample
            .get(at..at + n)
            .ok_or(ferrite_core::Error::InputLength {
                expected: at + n,
                actual: sample.len(),
            })?;
        if model.input_in_place(i)? {
            in_place = bytes;
        } else {
            model.set_input_bytes(arena, i, bytes)?;
        }
        at += n;
    }
    Ok(in_place)
}

/// Bytes of one sample: all inputs of `model`, concatenated.
pub fn sample_bytes(model: &ferrite_core::Model<'_>) -> usize {
    (0..model.inputs.len())
        .filter_map(|i| model.input_tensor(i).ok())
        .map(|t| t.size_bytes())
        .sum()
}

/// Bytes of all outputs of `model`.
pub fn output_bytes(model: &ferrite_core::Model<'_>) -> usize {
    (0..model.outputs.len())
        .filter_map(|i| model.output_tensor(i).ok())
        .map(|t| t.size_bytes())
        .sum()
}
