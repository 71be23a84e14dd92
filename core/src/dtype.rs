//! Element types of tensors.

use core::fmt;

/// Element type of a tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum DType {
    /// Signed 8-bit integer (quantized activations and weights).
    I8,
    /// Unsigned 8-bit integer.
    U8,
    /// Signed 16-bit integer.
    I16,
    /// Signed 32-bit integer (biases, shape tensors).
    I32,
    /// IEEE 754 single precision.
    F32,
    /// Signed 64-bit integer (indices, shape tensors).
    I64,
    /// Boolean, one byte per element (0 or 1), as TFLite stores it.
    Bool,
    /// Unsigned 32-bit integer (TFLM's signal library: energies, filter bank channels).
    U32,
    /// Unsigned 64-bit integer (TFLM's signal library: filter bank accumulators).
    U64,
}

impl DType {
    /// Bytes per element.
    pub const fn size_bytes(self) -> usize {
        match self {
            DType::I8 | DType::U8 | DType::Bool => 1,
            DType::I16 => 2,
            DType::I32 | DType::F32 | DType::U32 => 4,
            DType::I64 | DType::U64 => 8,
        }
    }

    /// Lower-case name as NumPy spells it (`int8`, `float32`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            DType::I8 => "int8",
            DType::U8 => "uint8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::F32 => "float32",
            DType::I64 => "int64",
            DType::Bool => "bool",
            DType::U32 => "uint32",
            DType::U64 => "uint64",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Rust type that can be the element of a tensor.
pub trait Element: bytemuck::Pod {
    /// The tensor element type this Rust type stands for.
    const DTYPE: DType;
}

impl Element for i8 {
    const DTYPE: DType = DType::I8;
}
impl Element for u8 {
    const DTYPE: DType = DType::U8;
}
impl Element for i16 {
    const DTYPE: DType = DType::I16;
}
impl Element for i32 {
    const DTYPE: DType = DType::I32;
}
impl Element for f32 {
    const DTYPE: DType = DType::F32;
}
impl Element for i64 {
    const DTYPE: DType = DType::I64;
}
impl Element for u32 {
    const DTYPE: DType = DType::U32;
}
impl Element for u64 {
    const DTYPE: DType = DType::U64;
}
