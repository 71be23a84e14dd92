//! The constant pool: one aligned blob holding every weight, bias, multiplier and table.

use ferrite_core::ConstRef;
use std::collections::HashMap;

/// Accumulates constants into one blob, deduplicating identical ones.
#[derive(Debug, Default, Clone)]
pub struct ConstPool {
    bytes: Vec<u8>,
    seen: HashMap<(Vec<u8>, usize), u32>,
}

impl ConstPool {
    /// The blob.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Appends `data` aligned to `align` bytes; returns its byte offset.
    fn push_raw(&mut self, data: &[u8], align: usize) -> u32 {
        if data.is_empty() {
            return 0;
        }
        let key = (data.to_vec(), align);
        if let Some(&off) = self.seen.get(&key) {
            return off;
        }
        while !self.bytes.len().is_multiple_of(align) {
            self.bytes.push(0);
        }
        let off = self.bytes.len() as u32;
        self.bytes.extend_from_slice(data);
        self.seen.insert(key, off);
        off
    }

    /// Appends raw bytes.
    pub fn push_bytes(&mut self, data: &[u8], align: usize) -> ConstRef<u8> {
        ConstRef::new(self.push_raw(data, align), data.len() as u32)
    }
    /// Appends `i8` values.
    pub fn push_i8(&mut self, v: &[i8]) -> ConstRef<i8> {
        ConstRef::new(self.push_raw(bytemuck::cast_slice(v), 4), v.len() as u32)
    }
    /// Appends `i16` values.
    pub fn push_i16(&mut self, v: &[i16]) -> ConstRef<i16> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        ConstRef::new(self.push_raw(&bytes, 4), v.len() as u32)
    }
    /// Appends `u16` values.
    pub fn push_u16(&mut self, v: &[u16]) -> ConstRef<u16> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        ConstRef::new(self.push_raw(&bytes, 4), v.len() as u32)
    }
    /// Appends `u32` values.
    pub fn push_u32(&mut self, v: &[u32]) -> ConstRef<u32> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        ConstRef::new(self.push_raw(&bytes, 4), v.len() as u32)
    }
    /// Appends `i32` values.
    pub fn push_i32(&mut self, v: &[i32]) -> ConstRef<i32> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        ConstRef::new(self.push_raw(&bytes, 4), v.len() as u32)
    }
    /// Appends `i64` values (8-byte aligned).
    pub fn push_i64(&mut self, v: &[i64]) -> ConstRef<i64> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        ConstRef::new(self.push_raw(&bytes, 8), v.len() as u32)
    }
    /// Appends `f32` values.
    pub fn push_f32(&mut self, v: &[f32]) -> ConstRef<f32> {
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        ConstRef::new(self.push_raw(&bytes, 4), v.len() as u32)
    }
}

/// A byte buffer whose start is 16-byte aligned (the runtime casts constants to `i32`/`f32`).
#[derive(Clone, Default)]
pub struct AlignedBytes {
    words: Vec<u128>,
    len: usize,
}

impl AlignedBytes {
    /// Copies `data` into aligned storage.
    pub fn new(data: &[u8]) -> Self {
        let mut words = vec![0u128; data.len().div_ceil(16)];
        bytemuck::cast_slice_mut::<u128, u8>(&mut words)[..data.len()].copy_from_slice(data);
        AlignedBytes {
            words,
            len: data.len(),
        }
    }
    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        &bytemuck::cast_slice::<u128, u8>(&self.words)[..self.len]
    }
    /// The bytes, mutable (an arena).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<u128, u8>(&mut self.words)[..self.len]
    }
}

impl std::fmt::Debug for AlignedBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBytes({} bytes)", self.len)
    }
}
