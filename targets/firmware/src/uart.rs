//! The ARM CMSDK APB UART of the MPS2/MPS3 boards, as an `embedded-io` port (polled, no
//! interrupts): what the runner talks through in QEMU, where `-serial` connects it to the host.

use core::convert::Infallible;

/// UART0 of the MPS2 boards (AN385, AN386).
pub const MPS2_UART0: usize = 0x4000_4000;

const DATA: usize = 0x0;
const STATE: usize = 0x4;
const CTRL: usize = 0x8;
const BAUDDIV: usize = 0x10;
const STATE_TX_FULL: u32 = 1 << 0;
const STATE_RX_FULL: u32 = 1 << 1;
const CTRL_TX_ENABLE: u32 = 1 << 0;
const CTRL_RX_ENABLE: u32 = 1 << 1;

/// A CMSDK UART, transmitter and receiver enabled.
pub struct CmsdkUart {
    base: usize,
}

impl CmsdkUart {
    /// Takes the UART at `base`, sets its baud divider (peripheral clock / baud rate; QEMU
    /// refuses to move data with a divider below 16, and ignores it otherwise) and enables it.
    ///
    /// # Safety
    /// `base` must be the address of a CMSDK UART, and nothing else may use that UART while
    /// the returned value lives.
    pub unsafe fn new(base: usize, bauddiv: u32) -> Self {
        let uart = CmsdkUart { base };
        uart.write_reg(BAUDDIV, bauddiv.max(16));
        uart.write_reg(CTRL, CTRL_TX_ENABLE | CTRL_RX_ENABLE);
        uart
    }

    fn read_reg(&self, offset: usize) -> u32 {
        // SAFETY: `new`'s contract: `base` is a CMSDK UART, whose registers are 32-bit MMIO
        // words at these offsets, owned by `self`.
        unsafe { core::ptr::read_volatile((self.base + offset) as *const u32) }
    }

    fn write_reg(&self, offset: usize, value: u32) {
        // SAFETY: as in `read_reg`.
        unsafe { core::ptr::write_volatile((self.base + offset) as *mut u32, value) }
    }
}

impl embedded_io::ErrorType for CmsdkUart {
    type Error = Infallible;
}

impl embedded_io::Read for CmsdkUart {
    /// Waits for one byte, then returns it and any others already received.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        let mut n = 0;
        for slot in buf.iter_mut() {
            if n > 0 && self.read_reg(STATE) & STATE_RX_FULL == 0 {
                break;
            }
            while self.read_reg(STATE) & STATE_RX_FULL == 0 {}
            *slot = self.read_reg(DATA) as u8;
            n += 1;
        }
        Ok(n)
    }
}

impl embedded_io::Write for CmsdkUart {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &b in buf {
            while self.read_reg(STATE) & STATE_TX_FULL != 0 {}
            self.write_reg(DATA, u32::from(b));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        while self.read_reg(STATE) & STATE_TX_FULL != 0 {}
        Ok(())
    }
}
