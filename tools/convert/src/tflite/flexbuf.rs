//! A small, bounds-checked reader for the FlexBuffer maps TFLite custom operators carry as
//! `custom_options` (and a writer for tests and tools that build such models).
//!
//! The `flexbuffers` crate's reader panics on some malformed buffers, and the converter treats
//! model files as hostile, so this reads exactly what TFLite Micro's kernels read — a root map
//! of scalars — with checked arithmetic only: a malformed buffer is a [`FlexError`] naming the
//! byte, never a panic.
//!
//! Values convert as FlexBuffers' C++ `Reference::As*` do (what TFLM calls): a missing key
//! reads as null, ints and floats convert into each other, a 1- or 2-byte float is read as
//! an integer of that size. Where the C++ conversion is undefined (a NaN or out-of-range float
//! read as an integer) or parses text (a string read as a number), the read is an error.
//! Keys must be sorted and unique, as FlexBuffers writes them (C++ looks them up by binary
//! search, so for unsorted keys it could miss one).

use std::fmt;

/// A malformed FlexBuffer, or a value that cannot be read as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlexError {
    /// Byte offset in the buffer.
    pub offset: usize,
    /// What is wrong.
    pub what: String,
}

impl fmt::Display for FlexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (FlexBuffer byte {})", self.what, self.offset)
    }
}

impl std::error::Error for FlexError {}

type FlexResult<T> = Result<T, FlexError>;

fn err<T>(offset: usize, what: impl Into<String>) -> FlexResult<T> {
    Err(FlexError {
        offset,
        what: what.into(),
    })
}

/// FlexBuffer type codes this reader knows (the upper six bits of a packed type).
mod ty {
    pub const NULL: u8 = 0;
    pub const INT: u8 = 1;
    pub const UINT: u8 = 2;
    pub const FLOAT: u8 = 3;
    pub const INDIRECT_INT: u8 = 6;
    pub const INDIRECT_UINT: u8 = 7;
    pub const INDIRECT_FLOAT: u8 = 8;
    pub const MAP: u8 = 9;
    pub const BOOL: u8 = 26;
}

/// A scalar of a map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FlexValue {
    /// Null (also what a missing key reads as).
    Null,
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float (read as `f64`).
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Anything else (string, vector, map, blob...), by FlexBuffer type code.
    Other(u8),
}

impl FlexValue {
    /// `AsInt32`: the value as C++ reads it into an `int32_t` (truncating a float toward zero
    /// and a 64-bit integer to its low 32 bits); null is 0.
    pub fn as_i32(&self) -> Result<i32, String> {
        Ok(match *self {
            FlexValue::Null => 0,
            FlexValue::Int(i) => i as i32,
            FlexValue::UInt(u) => u as i64 as i32,
            FlexValue::Bool(b) => b as i32,
            FlexValue::Float(f) => {
                // C++'s float-to-int64 conversion is undefined outside the int64 range.
                if !(f.is_finite() && f > -9.3e18 && f < 9.3e18) {
                    return Err(format!("{f} does not convert to an integer"));
                }
                f.trunc() as i64 as i32
            }
            FlexValue::Other(t) => {
                return Err(format!("a value of FlexBuffer type {t} is not a number"))
            }
        })
    }

    /// `AsFloat`: the value as a `double` rounded to `float`; null is 0.
    pub fn as_f32(&self) -> Result<f32, String> {
        Ok(match *self {
            FlexValue::Null => 0.0,
            FlexValue::Int(i) => i as f64 as f32,
            FlexValue::UInt(u) => u as f64 as f32,
            FlexValue::Bool(b) => b as u8 as f32,
            FlexValue::Float(f) => f as f32,
            FlexValue::Other(t) => {
                return Err(format!("a value of FlexBuffer type {t} is not a number"))
            }
        })
    }

    /// `AsBool`: a bool, or a number other than 0; null is false.
    pub fn as_bool(&self) -> Result<bool, String> {
        Ok(match *self {
            FlexValue::Null => false,
            FlexValue::Bool(b) => b,
            FlexValue::Int(i) => i != 0,
            FlexValue::UInt(u) => u != 0,
            // C++ converts a float to `uint64_t` first: undefined below 0 (and for NaN).
            FlexValue::Float(f) if (0.0..1.8e19).contains(&f) => f >= 1.0,
            FlexValue::Float(f) => return Err(format!("{f} does not convert to a boolean")),
            FlexValue::Other(t) => {
                return Err(format!("a value of FlexBuffer type {t} is not a boolean"))
            }
        })
    }
}

/// A FlexBuffer's root map, read whole: its keys (sorted) with their values.
#[derive(Debug, Clone, PartialEq)]
pub struct FlexMap {
    /// `(key, value)` in key order.
    pub entries: Vec<(String, FlexValue)>,
}

impl FlexMap {
    /// The value of `key`; [`FlexValue::Null`] if absent (as FlexBuffers' C++ map lookup).
    pub fn get(&self, key: &str) -> FlexValue {
        self.entries
            .binary_search_by(|(k, _)| k.as_bytes().cmp(key.as_bytes()))
            .ok()
            .and_then(|i| self.entries.get(i))
            .map_or(FlexValue::Null, |(_, v)| *v)
    }
}

fn width_of(w: u64, at: usize) -> FlexResult<usize> {
    match w {
        1 | 2 | 4 | 8 => Ok(w as usize),
        _ => err(at, format!("byte width {w} (must be 1, 2, 4 or 8)")),
    }
}

fn bytes_at(buf: &[u8], at: usize, width: usize) -> FlexResult<&[u8]> {
    match at.checked_add(width).and_then(|end| buf.get(at..end)) {
        Some(b) => Ok(b),
        None => err(
            at,
            format!("{width}-byte value past the end ({} bytes)", buf.len()),
        ),
    }
}

fn read_uint(buf: &[u8], at: usize, width: usize) -> FlexResult<u64> {
    let b = bytes_at(buf, at, width)?;
    let mut v = [0u8; 8];
    for (d, s) in v.iter_mut().zip(b) {
        *d = *s;
    }
    Ok(u64::from_le_bytes(v))
}

fn read_int(buf: &[u8], at: usize, width: usize) -> FlexResult<i64> {
    let u = read_uint(buf, at, width)?;
    // Sign-extend from `width` bytes.
    let shift = 64 - 8 * width as u32;
    Ok(((u << shift) as i64) >> shift)
}

/// C++ `ReadDouble`: 4 and 8 bytes are IEEE floats; 1 and 2 bytes are read as integers.
fn read_float(buf: &[u8], at: usize, width: usize) -> FlexResult<f64> {
    let b = bytes_at(buf, at, width)?;
    Ok(match *b {
        [x] => x as i8 as f64,
        [a, b] => i16::from_le_bytes([a, b]) as f64,
        [a, b, c, d] => f32::from_le_bytes([a, b, c, d]) as f64,
        _ => f64::from_le_bytes(b.try_into().unwrap_or([0; 8])),
    })
}

/// Follows the backwards offset stored at `at`.
fn indirect(buf: &[u8], at: usize, width: usize) -> FlexResult<usize> {
    let off = read_uint(buf, at, width)?;
    match usize::try_from(off).ok().and_then(|o| at.checked_sub(o)) {
        Some(p) if p < buf.len() => Ok(p),
        _ => err(at, format!("offset {off} points outside the buffer")),
    }
}

/// Reads `buf` as a FlexBuffer whose root is a map of scalars.
pub fn read_map(buf: &[u8]) -> FlexResult<FlexMap> {
    let len = buf.len();
    if len < 3 {
        return err(0, format!("{len} bytes, too short for a FlexBuffer"));
    }
    let root_width = width_of(read_uint(buf, len - 1, 1)?, len - 1)?;
    let packed = read_uint(buf, len - 2, 1)? as u8;
    let Some(root_at) = (len - 2).checked_sub(root_width) else {
        return err(
            len - 1,
            format!("root width {root_width} larger than the buffer"),
        );
    };
    if packed >> 2 != ty::MAP {
        return err(
            len - 2,
            format!("the root is of FlexBuffer type {}, not a map", packed >> 2),
        );
    }
    let w = 1usize << (packed & 3);
    let data = indirect(buf, root_at, root_width)?;
    let below = |k: usize| {
        data.checked_sub(k * w).map_or_else(
            || err(data, "map header before the start of the buffer"),
            Ok,
        )
    };
    let size = read_uint(buf, below(1)?, w)?;
    let keys_field = below(3)?;
    let keys = indirect(buf, keys_field, w)?;
    let keys_width = width_of(read_uint(buf, keys_field + w, w)?, keys_field + w)?;
    let Some(keys_size_at) = keys.checked_sub(keys_width) else {
        return err(keys, "key vector size before the start of the buffer");
    };
    let keys_size = read_uint(buf, keys_size_at, keys_width)?;
    if keys_size != size {
        return err(keys_size_at, format!("{keys_size} keys for {size} values"));
    }
    // Values (`w` bytes each) then their types (a byte each) must fit: this also bounds the
    // loop below by the buffer's length.
    let n = usize::try_from(size).ok().filter(|&n| {
        n.checked_mul(w + 1)
            .and_then(|b| b.checked_add(data))
            .is_some_and(|end| end <= len)
    });
    let Some(n) = n else {
        return err(data, format!("map of {size} values runs past the end"));
    };
    let mut entries: Vec<(String, FlexValue)> = Vec::with_capacity(n);
    let mut prev: Option<&[u8]> = None;
    for i in 0..n {
        let key_ref = i
            .checked_mul(keys_width)
            .and_then(|o| o.checked_add(keys))
            .map_or_else(|| err(keys, "key vector overflows"), Ok)?;
        let key_at = indirect(buf, key_ref, keys_width)?;
        let key = buf
            .get(key_at..)
            .and_then(|rest| rest.iter().position(|&b| b == 0).map(|end| &rest[..end]))
            .map_or_else(|| err(key_at, "key without a terminating zero byte"), Ok)?;
        if prev.is_some_and(|p| p >= key) {
            return err(key_at, "map keys are not sorted and unique");
        }
        prev = Some(key);
        let elem = data + i * w;
        let packed = read_uint(buf, data + n * w + i, 1)? as u8;
        let (t, bw) = (packed >> 2, 1usize << (packed & 3));
        let value = match t {
            ty::NULL => FlexValue::Null,
            ty::INT => FlexValue::Int(read_int(buf, elem, w)?),
            ty::UINT => FlexValue::UInt(read_uint(buf, elem, w)?),
            ty::FLOAT => FlexValue::Float(read_float(buf, elem, w)?),
            ty::BOOL => match read_uint(buf, elem, w)? {
                0 => FlexValue::Bool(false),
                1 => FlexValue::Bool(true),
                v => return err(elem, format!("boolean stored as {v}")),
            },
            ty::INDIRECT_INT => FlexValue::Int(read_int(buf, indirect(buf, elem, w)?, bw)?),
            ty::INDIRECT_UINT => FlexValue::UInt(read_uint(buf, indirect(buf, elem, w)?, bw)?),
            ty::INDIRECT_FLOAT => FlexValue::Float(read_float(buf, indirect(buf, elem, w)?, bw)?),
            other => FlexValue::Other(other),
        };
        entries.push((String::from_utf8_lossy(key).into_owned(), value));
    }
    Ok(FlexMap { entries })
}

/// Writes a FlexBuffer whose root is a map of `entries` (any order; keys must be unique and
/// free of zero bytes), every value 8 bytes wide — for tests and tools that build models
/// with custom options. [`FlexValue::Other`] is written as null.
pub fn write_map(entries: &[(&str, FlexValue)]) -> Vec<u8> {
    let mut sorted: Vec<&(&str, FlexValue)> = entries.iter().collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut buf = Vec::new();
    let key_pos: Vec<usize> = sorted
        .iter()
        .map(|(k, _)| {
            let p = buf.len();
            buf.extend_from_slice(k.as_bytes());
            buf.push(0);
            p
        })
        .collect();
    let pad = |buf: &mut Vec<u8>| buf.resize(buf.len().next_multiple_of(8), 0);
    let u64le = |buf: &mut Vec<u8>, v: u64| buf.extend_from_slice(&v.to_le_bytes());
    pad(&mut buf);
    u64le(&mut buf, sorted.len() as u64);
    let keys = buf.len();
    for p in &key_pos {
        let at = buf.len();
        u64le(&mut buf, (at - p) as u64);
    }
    let keys_field = buf.len();
    u64le(&mut buf, (keys_field - keys) as u64);
    u64le(&mut buf, 8);
    u64le(&mut buf, sorted.len() as u64);
    let data = buf.len();
    let mut types = Vec::with_capacity(sorted.len());
    for (_, v) in &sorted {
        let (t, bits) = match *v {
            FlexValue::Int(i) => (ty::INT, i as u64),
            FlexValue::UInt(u) => (ty::UINT, u),
            FlexValue::Float(f) => (ty::FLOAT, f.to_bits()),
            FlexValue::Bool(b) => (ty::BOOL, b as u64),
            FlexValue::Null | FlexValue::Other(_) => (ty::NULL, 0),
        };
        u64le(&mut buf, bits);
        types.push(t << 2 | 3);
    }
    buf.extend_from_slice(&types);
    let root = buf.len();
    u64le(&mut buf, (root - data) as u64);
    buf.push(ty::MAP << 2 | 3);
    buf.push(8);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `{"a": 7, "b": 0.5, "c": true}` as Python's `flexbuffers.Builder` writes it (narrowest
    /// widths: 1-byte ints, a 4-byte float widening the map to 4 bytes).
    const PYTHON_MAP: &[u8] = &[
        0x61, 0x00, 0x62, 0x00, 0x63, 0x00, 0x03, 0x07, 0x06, 0x05, 0x00, 0x00, 0x05, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x3f, 0x01, 0x00, 0x00, 0x00, 0x06, 0x0e, 0x6a, 0x0f, 0x26, 0x01,
    ];

    #[test]
    fn reads_a_python_written_map() {
        let m = read_map(PYTHON_MAP).unwrap();
        assert_eq!(m.get("a"), FlexValue::Int(7));
        assert_eq!(m.get("b"), FlexValue::Float(0.5));
        assert_eq!(m.get("c"), FlexValue::Bool(true));
        assert_eq!(m.get("d"), FlexValue::Null);
    }

    #[test]
    fn round_trips_the_writer() {
        let entries = [
            ("zeta", FlexValue::Float(-1.25)),
            ("alpha", FlexValue::Int(-3)),
            ("mid", FlexValue::UInt(u64::MAX)),
            ("flag", FlexValue::Bool(false)),
            ("nothing", FlexValue::Null),
        ];
        let m = read_map(&write_map(&entries)).unwrap();
        for (k, v) in entries {
            assert_eq!(m.get(k), v, "{k}");
        }
        let keys: Vec<&str> = m.entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["alpha", "flag", "mid", "nothing", "zeta"]);
    }

    #[test]
    fn converts_as_flexbuffers_cpp_does() {
        assert_eq!(FlexValue::Float(-2.9).as_i32(), Ok(-2));
        assert_eq!(FlexValue::Int(1 << 33 | 5).as_i32(), Ok(5));
        assert_eq!(FlexValue::UInt(u64::MAX).as_i32(), Ok(-1));
        assert_eq!(FlexValue::Null.as_i32(), Ok(0));
        assert!(FlexValue::Float(f64::NAN).as_i32().is_err());
        assert!(FlexValue::Float(1e300).as_i32().is_err());
        assert_eq!(FlexValue::Int(3).as_f32(), Ok(3.0));
        assert_eq!(FlexValue::Float(0.1).as_f32(), Ok(0.1f32));
        assert_eq!(FlexValue::Int(2).as_bool(), Ok(true));
        assert_eq!(FlexValue::Float(0.5).as_bool(), Ok(false));
        assert!(FlexValue::Float(-1.0).as_bool().is_err());
        assert!(FlexValue::Other(5).as_f32().is_err());
        assert_eq!(read_float(&[0xfe], 0, 1), Ok(-2.0));
    }

    #[test]
    fn malformed_buffers_are_errors_never_panics() {
        let good = write_map(&[("a", FlexValue::Int(1)), ("b", FlexValue::Float(2.0))]);
        assert!(read_map(&good).is_ok());
        for bad in [
            &[][..],
            &[0],
            &[0, 0],
            &[0x24, 8],
            &[1, 0x24, 3],
            &[0, 0x24, 1],
        ] {
            assert!(read_map(bad).is_err(), "{bad:?}");
        }
        // Unsorted keys.
        let mut swapped = good.clone();
        swapped.swap(0, 2);
        assert!(read_map(&swapped).is_err());
        // Every truncation, every single-byte change to a few values, every 64-bit field
        // overwritten: an answer, never a panic.
        for end in 0..good.len() {
            let _ = read_map(&good[..end]);
            let _ = read_map(&good[end..]);
        }
        for at in 0..good.len() {
            for v in [0u8, 1, 2, 3, 7, 8, 0x24, 0x7f, 0x80, 0xff] {
                let mut m = good.clone();
                m[at] = v;
                let _ = read_map(&m);
            }
            for v in [u64::MAX, 1 << 32, 1 << 63] {
                let mut m = good.clone();
                let end = (at + 8).min(m.len());
                let bytes = v.to_le_bytes();
                m[at..end].copy_from_slice(&bytes[..end - at]);
                let _ = read_map(&m);
            }
        }
        for v in PYTHON_MAP.iter().enumerate() {
            let mut m = PYTHON_MAP.to_vec();
            m[v.0] ^= 0xff;
            let _ = read_map(&m);
        }
    }
}
