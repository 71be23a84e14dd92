//! # ferrite-qemu-cycles
//!
//! A QEMU TCG plugin (QEMU 7.2, plugin API version 1) that turns the Thumb instructions QEMU
//! executes into an estimate of Cortex-M cycles, with the timing model of [`model`].
//!
//! ```text
//! qemu-system-arm ... -plugin libferrite_qemu_cycles.so,core=m4,marker=0x40000004,flash=0x0:0x200000,out=cycles.txt
//! ```
//!
//! Arguments:
//! - `core`: `m3`, `m4` or `m55` (which timing applies);
//! - `marker`: an address whose loads are markers: at each, the plugin appends a line with
//!   the counts so far to `out` (`ferrite sim` uses the board timer's value register, which the
//!   firmware reads at every layer boundary);
//! - `flash`: `origin:length` of the flash region; loads from it count as flash reads;
//! - `out`: the file to write;
//! - `stats=1` (optional): also count instructions and base cycles per timing class, taken
//!   branches and unaligned loads, and write the whole run's totals at exit (`class` and
//!   `extra` lines).
//!
//! Each line of `out` is `mark <pc> <cycles> <instructions> <flash reads> <flash bytes>`
//! (pc in hex, the rest decimal), and at exit one `end ...` line with the same fields (pc 0).
//!
//! The plugin declares the parts of QEMU's plugin API it uses itself (see `plugin.rs`); QEMU
//! resolves them when it loads the library. Nothing links QEMU, and no crate depends on this
//! one.

pub mod model;

// The FFI half only exists in the shared object: a unit-test executable would need QEMU's
// symbols to link.
#[cfg(not(test))]
mod plugin;
