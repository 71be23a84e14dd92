//! Cost counters: what each board can measure time or work with.
//!
//! QEMU run with `-icount shift=0` advances virtual time by exactly 1 ns per executed
//! instruction, so a timer running on virtual time counts instructions (deterministically);
//! real chips count cycles with the DWT. Every counter is calibrated at start-up against a
//! loop of a known number of instructions ([`calibrate`]).

/// A free-running counter.
pub trait Counter {
    /// Starts (or restarts) counting from zero.
    fn start(&mut self);
    /// Ticks since [`Counter::start`].
    fn elapsed(&self) -> u32;
}

/// Iterations of the calibration loop; each executes exactly two instructions.
pub const CALIBRATION_ITERATIONS: u32 = 1_000_000;

/// Executes `iterations` iterations of a two-instruction loop (`subs`, `bne`).
#[inline(never)]
pub fn spin(iterations: u32) {
    if iterations == 0 {
        return;
    }
    // SAFETY: a register-only countdown loop; touches no memory and no flags the compiler
    // relies on (flags are declared clobbered by default without `preserves_flags`).
    unsafe {
        core::arch::asm!(
            "2:",
            "subs {n}, #1",
            "bne 2b",
            n = inout(reg) iterations => _,
            options(nomem, nostack),
        );
    }
}

/// Ticks the counter advances over `2 * CALIBRATION_ITERATIONS` instructions.
pub fn calibrate<C: Counter>(counter: &mut C) -> u32 {
    counter.start();
    let t0 = counter.elapsed();
    spin(CALIBRATION_ITERATIONS);
    counter.elapsed().wrapping_sub(t0)
}

/// Timer 0 of the ARM MPS2 boards' CMSDK APB timers (base `0x4000_0000`), a 32-bit down
/// counter. In QEMU it runs at 25 MHz of virtual time: one tick per 40 instructions.
pub struct Mps2Timer(());

const MPS2_TIMER0: usize = 0x4000_0000;

impl Mps2Timer {
    /// Takes the timer. Only one exists; the board crate creates it once.
    pub const fn new() -> Self {
        Mps2Timer(())
    }
}

impl Default for Mps2Timer {
    fn default() -> Self {
        Self::new()
    }
}

impl Counter for Mps2Timer {
    fn start(&mut self) {
        // SAFETY: MMIO writes to the CMSDK timer's RELOAD (+8), VALUE (+4) and CTRL (+0)
        // registers, which exist on every MPS2 board; `&mut self` makes the access exclusive.
        unsafe {
            core::ptr::write_volatile((MPS2_TIMER0 + 8) as *mut u32, u32::MAX);
            core::ptr::write_volatile((MPS2_TIMER0 + 4) as *mut u32, u32::MAX);
            core::ptr::write_volatile(MPS2_TIMER0 as *mut u32, 1);
        }
    }

    fn elapsed(&self) -> u32 {
        // SAFETY: MMIO read of the timer's VALUE register (no side effects).
        let value = unsafe { core::ptr::read_volatile((MPS2_TIMER0 + 4) as *const u32) };
        u32::MAX - value
    }
}

/// The SysTick timer (every Cortex-M), extended from 24 to 32 bits by counting its wraps in
/// the SysTick exception: call [`SysTickCounter::on_wrap`] from the `SysTick` handler.
pub struct SysTickCounter {
    syst: cortex_m::peripheral::SYST,
}

static SYSTICK_WRAPS: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);

impl SysTickCounter {
    /// Takes SysTick.
    pub fn new(syst: cortex_m::peripheral::SYST) -> Self {
        SysTickCounter { syst }
    }

    /// Counts one wrap; call from the `SysTick` exception handler.
    pub fn on_wrap() {
        use core::sync::atomic::Ordering::Relaxed;
        // Only this handler writes the count, so a load and a store suffice (Cortex-M0+ has
        // no atomic read-modify-write instructions).
        SYSTICK_WRAPS.store(SYSTICK_WRAPS.load(Relaxed).wrapping_add(1), Relaxed);
    }
}

impl Counter for SysTickCounter {
    fn start(&mut self) {
        use cortex_m::peripheral::syst::SystClkSource;
        self.syst.disable_counter();
        self.syst.disable_interrupt();
        self.syst.set_clock_source(SystClkSource::Core);
        self.syst.set_reload(0x00FF_FFFF);
        self.syst.clear_current();
        self.syst.enable_counter();
        // Clearing leaves the current value at 0 until the first tick loads the reload value;
        // reading 0 would look like a whole period elapsed. Wait for that first tick (one
        // tick: a few dozen instructions).
        while cortex_m::peripheral::SYST::get_current() == 0 {}
        SYSTICK_WRAPS.store(0, core::sync::atomic::Ordering::Relaxed);
        self.syst.enable_interrupt();
    }

    fn elapsed(&self) -> u32 {
        use core::sync::atomic::Ordering::Relaxed;
        // Read the wraps on both sides of the counter so a wrap in between is not missed.
        loop {
            let wraps = SYSTICK_WRAPS.load(Relaxed);
            let current = cortex_m::peripheral::SYST::get_current();
            if SYSTICK_WRAPS.load(Relaxed) == wraps {
                return wraps
                    .wrapping_mul(1 << 24)
                    .wrapping_add(0x00FF_FFFF - current);
            }
        }
    }
}

/// The DWT cycle counter of Cortex-M3/M4/M7/M33/M55 chips (not modelled by QEMU).
#[cfg(feature = "dwt")]
pub struct DwtCycles {
    start: u32,
}

#[cfg(feature = "dwt")]
impl DwtCycles {
    /// Enables the cycle counter.
    pub fn new(mut dcb: cortex_m::peripheral::DCB, mut dwt: cortex_m::peripheral::DWT) -> Self {
        dcb.enable_trace();
        dwt.enable_cycle_counter();
        DwtCycles { start: 0 }
    }
}

#[cfg(feature = "dwt")]
impl Counter for DwtCycles {
    fn start(&mut self) {
        self.start = cortex_m::peripheral::DWT::cycle_count();
    }

    fn elapsed(&self) -> u32 {
        cortex_m::peripheral::DWT::cycle_count().wrapping_sub(self.start)
    }
}
