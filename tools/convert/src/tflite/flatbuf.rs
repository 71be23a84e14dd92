//! A safe, bounds-checked reader for FlatBuffers tables.
//!
//! The buffer is verified up front with the `flatbuffers` crate's verifier (see
//! [`super::schema::verify`]); this reader then walks it again with checked reads only, so a
//! file the verifier let through but that is still inconsistent in a way we care about yields
//! an error naming the byte offset — never a panic and never `unsafe`.

use std::fmt;

/// A read that fell outside the buffer or hit a malformed structure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// Byte offset in the file where the problem is.
    pub offset: usize,
    /// What was being read.
    pub what: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "malformed flatbuffer at byte offset {}: {}",
            self.offset, self.what
        )
    }
}

impl std::error::Error for ReadError {}

/// Result of a read.
pub type ReadResult<T> = Result<T, ReadError>;

fn err<T>(offset: usize, what: impl Into<String>) -> ReadResult<T> {
    Err(ReadError {
        offset,
        what: what.into(),
    })
}

fn bytes<const N: usize>(buf: &[u8], at: usize) -> ReadResult<[u8; N]> {
    at.checked_add(N)
        .and_then(|end| buf.get(at..end))
        .and_then(|s| s.try_into().ok())
        .map_or_else(
            || {
                err(
                    at,
                    format!(
                        "{N}-byte value past the end of the file ({} bytes)",
                        buf.len()
                    ),
                )
            },
            Ok,
        )
}

pub(crate) fn read_u8(buf: &[u8], at: usize) -> ReadResult<u8> {
    Ok(bytes::<1>(buf, at)?[0])
}
pub(crate) fn read_u16(buf: &[u8], at: usize) -> ReadResult<u16> {
    Ok(u16::from_le_bytes(bytes(buf, at)?))
}
pub(crate) fn read_u32(buf: &[u8], at: usize) -> ReadResult<u32> {
    Ok(u32::from_le_bytes(bytes(buf, at)?))
}
pub(crate) fn read_i32(buf: &[u8], at: usize) -> ReadResult<i32> {
    Ok(i32::from_le_bytes(bytes(buf, at)?))
}
pub(crate) fn read_u64(buf: &[u8], at: usize) -> ReadResult<u64> {
    Ok(u64::from_le_bytes(bytes(buf, at)?))
}
pub(crate) fn read_f32(buf: &[u8], at: usize) -> ReadResult<f32> {
    Ok(f32::from_le_bytes(bytes(buf, at)?))
}

/// Follows the unsigned offset stored at `at` (FlatBuffers `uoffset_t`, relative to `at`).
fn follow(buf: &[u8], at: usize) -> ReadResult<usize> {
    let rel = read_u32(buf, at)? as usize;
    match at.checked_add(rel) {
        Some(p) if p < buf.len() => Ok(p),
        _ => err(at, format!("offset {rel} points past the end of the file")),
    }
}

/// A table: a position and its vtable.
#[derive(Clone, Copy)]
pub struct Table<'a> {
    buf: &'a [u8],
    pos: usize,
    vtable: usize,
    vtable_len: usize,
}

impl<'a> Table<'a> {
    /// The root table of a buffer.
    pub fn root(buf: &'a [u8]) -> ReadResult<Table<'a>> {
        let pos = follow(buf, 0)?;
        Table::at(buf, pos)
    }

    fn at(buf: &'a [u8], pos: usize) -> ReadResult<Table<'a>> {
        let soffset = read_i32(buf, pos)? as i64;
        let vtable = pos as i64 - soffset;
        if vtable < 0 || vtable as usize >= buf.len() {
            return err(pos, "table's vtable lies outside the file");
        }
        let vtable = vtable as usize;
        let vtable_len = read_u16(buf, vtable)? as usize;
        if vtable_len < 4 || vtable.checked_add(vtable_len).is_none_or(|e| e > buf.len()) {
            return err(vtable, "vtable is truncated");
        }
        Ok(Table {
            buf,
            pos,
            vtable,
            vtable_len,
        })
    }

    /// Byte offset of this table in the file.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The absolute position of field `slot` (its vtable offset), if present.
    fn field(&self, slot: u16) -> ReadResult<Option<usize>> {
        let slot = slot as usize;
        if slot + 2 > self.vtable_len {
            return Ok(None);
        }
        let off = read_u16(self.buf, self.vtable + slot)? as usize;
        Ok((off != 0).then_some(self.pos + off))
    }

    /// A scalar `u8`/`bool`/enum field.
    pub fn u8(&self, slot: u16, default: u8) -> ReadResult<u8> {
        self.field(slot)?
            .map_or(Ok(default), |p| read_u8(self.buf, p))
    }
    /// A scalar `i32` field.
    pub fn i32(&self, slot: u16, default: i32) -> ReadResult<i32> {
        self.field(slot)?
            .map_or(Ok(default), |p| read_i32(self.buf, p))
    }
    /// A scalar `u32` field.
    pub fn u32(&self, slot: u16, default: u32) -> ReadResult<u32> {
        self.field(slot)?
            .map_or(Ok(default), |p| read_u32(self.buf, p))
    }
    /// A scalar `u64` field.
    pub fn u64(&self, slot: u16, default: u64) -> ReadResult<u64> {
        self.field(slot)?
            .map_or(Ok(default), |p| read_u64(self.buf, p))
    }
    /// A scalar `f32` field.
    pub fn f32(&self, slot: u16, default: f32) -> ReadResult<f32> {
        self.field(slot)?
            .map_or(Ok(default), |p| read_f32(self.buf, p))
    }
    /// A `bool` field.
    pub fn bool(&self, slot: u16, default: bool) -> ReadResult<bool> {
        Ok(self.u8(slot, default as u8)? != 0)
    }
    /// A sub-table field.
    pub fn table(&self, slot: u16) -> ReadResult<Option<Table<'a>>> {
        match self.field(slot)? {
            Some(p) => Ok(Some(Table::at(self.buf, follow(self.buf, p)?)?)),
            None => Ok(None),
        }
    }
    /// A vector field.
    pub fn vector(&self, slot: u16) -> ReadResult<Option<Vector<'a>>> {
        match self.field(slot)? {
            Some(p) => Ok(Some(Vector::at(self.buf, follow(self.buf, p)?)?)),
            None => Ok(None),
        }
    }
    /// A string field (invalid UTF-8 is replaced, not rejected: names are informational).
    pub fn string(&self, slot: u16) -> ReadResult<Option<String>> {
        Ok(self
            .vector(slot)?
            .map(|v| String::from_utf8_lossy(v.raw_bytes(1).unwrap_or(&[])).into_owned()))
    }
}

/// A vector: a length-prefixed run of elements.
#[derive(Clone, Copy)]
pub struct Vector<'a> {
    buf: &'a [u8],
    /// Position of the first element.
    start: usize,
    len: usize,
}

impl<'a> Vector<'a> {
    fn at(buf: &'a [u8], pos: usize) -> ReadResult<Vector<'a>> {
        let len = read_u32(buf, pos)? as usize;
        Ok(Vector {
            buf,
            start: pos + 4,
            len,
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Byte offset of the first element in the file.
    pub fn pos(&self) -> usize {
        self.start
    }

    /// The elements' bytes, for elements of `elem_size` bytes.
    pub fn raw_bytes(&self, elem_size: usize) -> ReadResult<&'a [u8]> {
        let end = self
            .len
            .checked_mul(elem_size)
            .and_then(|n| n.checked_add(self.start));
        match end.and_then(|end| self.buf.get(self.start..end)) {
            Some(s) => Ok(s),
            None => err(
                self.start,
                format!(
                    "vector of {} elements runs past the end of the file",
                    self.len
                ),
            ),
        }
    }

    /// All elements as `i32`.
    pub fn i32s(&self) -> ReadResult<Vec<i32>> {
        Ok(self
            .raw_bytes(4)?
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    /// All elements as `f32`.
    pub fn f32s(&self) -> ReadResult<Vec<f32>> {
        Ok(self
            .raw_bytes(4)?
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }
    /// All elements as `i64`.
    pub fn i64s(&self) -> ReadResult<Vec<i64>> {
        let raw = self.raw_bytes(8)?;
        Ok(raw
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
            .collect())
    }
    /// Element `i` of a vector of tables.
    pub fn table(&self, i: usize) -> ReadResult<Table<'a>> {
        if i >= self.len {
            return err(
                self.start,
                format!("table index {i} beyond vector length {}", self.len),
            );
        }
        let p = self.start + 4 * i;
        Table::at(self.buf, follow(self.buf, p)?)
    }
}
