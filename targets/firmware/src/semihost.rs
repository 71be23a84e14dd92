//! Host files through raw semihosting calls (`SYS_OPEN`, `SYS_WRITE`, `SYS_CLOSE`).
//!
//! The `semihosting` crate's `File` and `Stdout` check every descriptor with an `assert!`
//! (`BorrowedFd::borrow_raw`, `OwnedFd::from_raw_fd`) and its `write_all` slices with
//! `buf[n..]`: each kept `core::panicking` in the firmware. [`HostFile`] makes the same calls
//! with nothing that can panic.

use core::ffi::CStr;
use semihosting::sys::arm_compat::syscall::{syscall_readonly, OperationNumber, ParamRegR};

/// `fopen` modes of `SYS_OPEN` (Arm semihosting specification).
const MODE_W: usize = 4;
const MODE_WB: usize = 5;

/// An open host file (or the host's terminal), closed on drop.
pub struct HostFile {
    fd: i32,
}

impl HostFile {
    /// Creates (or truncates) the host file `path` for binary writing.
    pub fn create(path: &CStr) -> Option<Self> {
        Self::open(path, MODE_WB)
    }

    /// The host's standard output (the special file `:tt` opened for writing).
    pub fn stdout() -> Option<Self> {
        Self::open(c":tt", MODE_W)
    }

    fn open(path: &CStr, mode: usize) -> Option<Self> {
        let block = [
            ParamRegR::c_str(path),
            ParamRegR::usize(mode),
            ParamRegR::usize(path.count_bytes()),
        ];
        // SAFETY: SYS_OPEN only reads the parameter block and the NUL-terminated name, both
        // alive for the call.
        let ret = unsafe { syscall_readonly(OperationNumber::SYS_OPEN, ParamRegR::block(&block)) };
        let fd = ret.usize() as isize as i32;
        (fd >= 0).then_some(HostFile { fd })
    }

    /// Writes all of `buf`; `false` if the host did not take it all.
    pub fn write_all(&mut self, mut buf: &[u8]) -> bool {
        while !buf.is_empty() {
            let block = [
                ParamRegR::raw_fd(self.fd),
                ParamRegR::buf(buf),
                ParamRegR::usize(buf.len()),
            ];
            // SAFETY: SYS_WRITE only reads the parameter block and `buf.len()` bytes of
            // `buf`, all alive for the call.
            let ret =
                unsafe { syscall_readonly(OperationNumber::SYS_WRITE, ParamRegR::block(&block)) };
            // The host returns how many bytes it did not write.
            let written = buf.len().saturating_sub(ret.usize());
            if written == 0 {
                return false;
            }
            buf = buf.get(written..).unwrap_or_default();
        }
        true
    }
}

impl Drop for HostFile {
    fn drop(&mut self) {
        let block = [ParamRegR::raw_fd(self.fd)];
        // SAFETY: SYS_CLOSE only reads the parameter block; the descriptor is ours and used
        // no more.
        unsafe { syscall_readonly(OperationNumber::SYS_CLOSE, ParamRegR::block(&block)) };
    }
}
