//! Stack high-water mark: paint the unused stack with a pattern, run, and find the deepest
//! word that changed.

const PAINT: u32 = 0xC0FF_EE00;

extern "C" {
    /// Lowest address the stack may grow to (cortex-m-rt: end of `.bss`/`.uninit`).
    static mut _stack_end: u32;
    /// Initial stack pointer (top of RAM).
    static mut _stack_start: u32;
}

/// Bounds of the unused stack, from its lowest address to just below the current stack pointer.
fn free_region() -> (usize, usize) {
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let sp = cortex_m::register::msp::read() as usize;
    // Leave the frames of this function and its caller untouched.
    (bottom, sp.saturating_sub(256) & !3)
}

/// Fills the unused stack with the paint pattern. Call once, early in `main`.
pub fn paint() {
    let (bottom, top) = free_region();
    let mut p = bottom;
    while p < top {
        // SAFETY: `[bottom, top)` lies between the end of static RAM and the live stack
        // frames, so no object is stored there; word-aligned volatile writes.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Deepest stack use since [`paint`], in bytes from the top of the stack.
pub fn high_water_bytes() -> u32 {
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let mut p = bottom;
    // SAFETY: reads of words inside the stack region, which is mapped RAM.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    (top - p) as u32
}
