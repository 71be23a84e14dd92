//! The `defmt` global logger of the QEMU boards: frames go to the host's standard output
//! through semihosting, as `defmt-semihosting` sends them, but nothing here can panic.
//!
//! `defmt-semihosting` panics when the logger is entered twice (a fault handler logging in
//! the middle of a log line), and the `semihosting` crate's `Stdout` can panic too: that kept
//! `core::panicking` in every firmware. Here a nested frame is dropped instead (the outer one
//! goes on), and bytes go out through [`HostFile`], which cannot panic.

use crate::semihost::HostFile;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU8, Ordering};

#[defmt::global_logger]
struct SemihostingLogger;

/// How deep the logger is entered: 0 free, 1 a frame in progress, more a nested frame (from
/// an exception handler) whose bytes are dropped.
static DEPTH: AtomicU8 = AtomicU8::new(0);

struct State {
    encoder: defmt::Encoder,
    out: Option<HostFile>,
    /// Whether interrupts were enabled when the outer frame began (restored at its end).
    interrupts_were_enabled: bool,
}

struct Shared(UnsafeCell<State>);

// SAFETY: the state is only touched between `acquire` and `release` of the outer frame, with
// interrupts disabled on this single core (nested frames, which run inside an exception
// handler, never touch it), so no two contexts access it at once.
unsafe impl Sync for Shared {}

static STATE: Shared = Shared(UnsafeCell::new(State {
    encoder: defmt::Encoder::new(),
    out: None,
    interrupts_were_enabled: false,
}));

/// The shared state, for the outer frame only.
///
/// # Safety
/// Call only while `DEPTH` is 1 in the context that set it (interrupts disabled), and do not
/// keep the reference past the call that took it.
unsafe fn state() -> &'static mut State {
    // SAFETY: see the function's contract and `Shared`'s `Sync` impl.
    unsafe { &mut *STATE.0.get() }
}

// SAFETY: `acquire` and `release` bracket every frame as `defmt` requires; interrupts stay
// disabled for the outer frame, and nested frames (exception handlers) write nothing.
unsafe impl defmt::Logger for SemihostingLogger {
    fn acquire() {
        let enabled = cortex_m::register::primask::read().is_active();
        cortex_m::interrupt::disable();
        // Load and store, not `fetch_add` (which ARMv6-M lacks): interrupts are disabled.
        let depth = DEPTH.load(Ordering::Relaxed);
        DEPTH.store(depth.saturating_add(1), Ordering::Relaxed);
        if depth != 0 {
            // Nested: leave the outer frame and the interrupt state alone.
            return;
        }
        // SAFETY: DEPTH went from 0 to 1 here, with interrupts disabled.
        let st = unsafe { state() };
        st.interrupts_were_enabled = enabled;
        if st.out.is_none() {
            st.out = HostFile::stdout();
        }
        let State { encoder, out, .. } = st;
        encoder.start_frame(|b| {
            if let Some(o) = out {
                o.write_all(b);
            }
        });
    }

    unsafe fn flush() {
        // Semihosting writes are blocking: the host has every byte once `write` returns.
    }

    unsafe fn release() {
        match DEPTH.load(Ordering::Relaxed) {
            0 => {}
            1 => {
                // SAFETY: the outer frame's context, interrupts disabled since `acquire`.
                let st = unsafe { state() };
                let State {
                    encoder,
                    out,
                    interrupts_were_enabled,
                } = st;
                encoder.end_frame(|b| {
                    if let Some(o) = out {
                        o.write_all(b);
                    }
                });
                let enable = *interrupts_were_enabled;
                DEPTH.store(0, Ordering::Relaxed);
                if enable {
                    // SAFETY: interrupts were enabled when the frame began; re-enabling
                    // them restores that state (no critical section is left open here).
                    unsafe { cortex_m::interrupt::enable() };
                }
            }
            depth => DEPTH.store(depth - 1, Ordering::Relaxed),
        }
    }

    unsafe fn write(bytes: &[u8]) {
        if DEPTH.load(Ordering::Relaxed) != 1 {
            return;
        }
        // SAFETY: the outer frame's context, interrupts disabled since `acquire`.
        let st = unsafe { state() };
        let State { encoder, out, .. } = st;
        encoder.write(bytes, |b| {
            if let Some(o) = out {
                o.write_all(b);
            }
        });
    }
}
