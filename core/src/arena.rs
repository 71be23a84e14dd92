//! The activation arena.

/// Alignment of the arena and of every tensor offset the converter plans, in bytes.
///
/// 16 bytes lets SIMD kernels (Helium, SSE/AVX, NEON) load whole vectors of `f32`/`i32`
/// scratch without crossing alignment rules.
pub const ARENA_ALIGN: usize = 16;

/// A 16-byte aligned buffer of `N` bytes holding every activation tensor of a model.
///
/// `N` is the converter's `ARENA_BYTES`, known at compile time. Put it in a `static` (for
/// instance through `cortex_m::singleton!`) or on the stack of a thread that has the room.
///
/// ```
/// let mut arena = ferrite_core::Arena::<32>::new();
/// let bytes: &mut [u8] = arena.as_mut_slice();
/// assert_eq!(bytes.as_ptr() as usize % ferrite_core::arena::ARENA_ALIGN, 0);
/// ```
#[repr(C, align(16))]
pub struct Arena<const N: usize>([u8; N]);

impl<const N: usize> Arena<N> {
    /// A zeroed arena (const, so it can initialise a `static`).
    pub const fn new() -> Self {
        Arena([0; N])
    }

    /// The arena as bytes, to pass to [`crate::Model::run`].
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.0
    }

    /// Size in bytes.
    pub const fn len(&self) -> usize {
        N
    }

    /// True when `N == 0` (a model without activations).
    pub const fn is_empty(&self) -> bool {
        N == 0
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// Wraps data so that it starts on a 16-byte boundary; generated models put their constant
/// blob in one (`static CONSTS: Aligned<[u8; N]> = Aligned(*b"...")`).
#[repr(C, align(16))]
pub struct Aligned<T: ?Sized>(pub T);
