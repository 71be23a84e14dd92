//! Reading and writing the `.npy`/`.npz` arrays the tools exchange (inputs, outputs, goldens).

use ferrite_core::DType;
use std::path::Path;

/// The elements of an array, by type.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    /// `int8`
    I8(Vec<i8>),
    /// `uint8`
    U8(Vec<u8>),
    /// `int16`
    I16(Vec<i16>),
    /// `int32`
    I32(Vec<i32>),
    /// `float32`
    F32(Vec<f32>),
    /// `int64`
    I64(Vec<i64>),
    /// `bool` (0 or 1 per byte)
    Bool(Vec<u8>),
    /// `uint32`
    U32(Vec<u32>),
    /// `uint64`
    U64(Vec<u64>),
}

impl Data {
    /// Element type.
    pub fn dtype(&self) -> DType {
        match self {
            Data::I8(_) => DType::I8,
            Data::U8(_) => DType::U8,
            Data::I16(_) => DType::I16,
            Data::I32(_) => DType::I32,
            Data::F32(_) => DType::F32,
            Data::I64(_) => DType::I64,
            Data::Bool(_) => DType::Bool,
            Data::U32(_) => DType::U32,
            Data::U64(_) => DType::U64,
        }
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Data::I8(v) => v.len(),
            Data::U8(v) => v.len(),
            Data::I16(v) => v.len(),
            Data::I32(v) => v.len(),
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
            Data::Bool(v) => v.len(),
            Data::U32(v) => v.len(),
            Data::U64(v) => v.len(),
        }
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Little-endian bytes of elements `start..start + n`.
    pub fn bytes(&self, start: usize, n: usize) -> Vec<u8> {
        match self {
            Data::I8(v) => v[start..start + n].iter().map(|&x| x as u8).collect(),
            Data::U8(v) => v[start..start + n].to_vec(),
            Data::I16(v) => v[start..start + n]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
            Data::I32(v) => v[start..start + n]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
            Data::F32(v) => v[start..start + n]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
            Data::I64(v) => v[start..start + n]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
            Data::Bool(v) => v[start..start + n].to_vec(),
            Data::U32(v) => v[start..start + n]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
            Data::U64(v) => v[start..start + n]
                .iter()
                .flat_map(|x| x.to_le_bytes())
                .collect(),
        }
    }
    /// An array of type `dtype` from little-endian bytes.
    pub fn from_bytes(dtype: DType, b: &[u8]) -> Data {
        match dtype {
            DType::I8 => Data::I8(b.iter().map(|&x| x as i8).collect()),
            DType::U8 => Data::U8(b.to_vec()),
            DType::I16 => Data::I16(
                b.chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]))
                    .collect(),
            ),
            DType::I32 => Data::I32(
                b.chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            DType::F32 => Data::F32(
                b.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            DType::I64 => Data::I64(
                b.chunks_exact(8)
                    .map(|c| i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
            ),
            DType::U32 => Data::U32(
                b.chunks_exact(4)
                    .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            DType::U64 => Data::U64(
                b.chunks_exact(8)
                    .map(|c| u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]))
                    .collect(),
            ),
            // `DType` is non-exhaustive: a future type reads as raw bytes.
            _ => Data::Bool(b.to_vec()),
        }
    }
    /// Element `i` as `f64` (for comparisons and reports).
    pub fn get_f64(&self, i: usize) -> f64 {
        match self {
            Data::I8(v) => v[i] as f64,
            Data::U8(v) => v[i] as f64,
            Data::I16(v) => v[i] as f64,
            Data::I32(v) => v[i] as f64,
            Data::F32(v) => v[i] as f64,
            Data::I64(v) => v[i] as f64,
            Data::Bool(v) => v[i] as f64,
            Data::U32(v) => v[i] as f64,
            Data::U64(v) => v[i] as f64,
        }
    }
}

/// An n-dimensional array.
#[derive(Debug, Clone, PartialEq)]
pub struct Array {
    /// Shape.
    pub shape: Vec<usize>,
    /// Elements in C order.
    pub data: Data,
}

fn from_npy<R: std::io::Read>(npy: npyz::NpyFile<R>, what: &str) -> Result<Array, String> {
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    if npy.order() != npyz::Order::C {
        return Err(format!(
            "{what}: Fortran-ordered arrays are not supported; save with np.ascontiguousarray"
        ));
    }
    let dtype = npy.dtype();
    let ts = match &dtype {
        npyz::DType::Plain(ts) => ts.clone(),
        other => return Err(format!("{what}: unsupported dtype {other:?}")),
    };
    let e = |e: std::io::Error| format!("{what}: {e}");
    let data = match (ts.type_char(), ts.size_field()) {
        (npyz::TypeChar::Int, 1) => Data::I8(npy.into_vec::<i8>().map_err(e)?),
        (npyz::TypeChar::Uint, 1) => Data::U8(npy.into_vec::<u8>().map_err(e)?),
        (npyz::TypeChar::Int, 2) => Data::I16(npy.into_vec::<i16>().map_err(e)?),
        (npyz::TypeChar::Int, 4) => Data::I32(npy.into_vec::<i32>().map_err(e)?),
        (npyz::TypeChar::Float, 4) => Data::F32(npy.into_vec::<f32>().map_err(e)?),
        (npyz::TypeChar::Int, 8) => Data::I64(npy.into_vec::<i64>().map_err(e)?),
        (npyz::TypeChar::Uint, 4) => Data::U32(npy.into_vec::<u32>().map_err(e)?),
        (npyz::TypeChar::Uint, 8) => Data::U64(npy.into_vec::<u64>().map_err(e)?),
        (npyz::TypeChar::Bool, 1) => Data::Bool(
            npy.into_vec::<bool>()
                .map_err(e)?
                .into_iter()
                .map(u8::from)
                .collect(),
        ),
        _ => {
            return Err(format!(
                "{what}: unsupported dtype {ts} (use int8, uint8, int16, int32, int64, uint32, uint64, bool or float32)"
            ))
        }
    };
    Ok(Array { shape, data })
}

/// Parses the bytes of a `.npy` file; `what` names it in errors.
pub fn parse(bytes: &[u8], what: &str) -> Result<Array, String> {
    let npy = npyz::NpyFile::new(bytes).map_err(|e| format!("{what}: not a .npy file: {e}"))?;
    from_npy(npy, what)
}

/// Reads a `.npy` file.
pub fn read(path: &Path) -> Result<Array, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    parse(&bytes, &path.display().to_string())
}

/// Reads every array of a `.npz` file (stored or deflated), by name.
#[cfg(feature = "npz")]
pub fn read_npz(path: &Path) -> Result<Vec<(String, Array)>, String> {
    use std::io::Read;
    let e = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = std::fs::File::open(path).map_err(|x| e(&x))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|x| e(&x))?;
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|x| e(&x))?;
        let name = entry.name().trim_end_matches(".npy").to_string();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|x| e(&x))?;
        out.push((
            name.clone(),
            parse(&bytes, &format!("{}:{name}", path.display()))?,
        ));
    }
    Ok(out)
}

/// Writes a `.npy` file.
pub fn write(path: &Path, a: &Array) -> Result<(), String> {
    std::fs::write(path, to_bytes(a)).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// The `.npy` file of `a` (format 1.0), byte for byte what NumPy's `np.save` writes: the same
/// header text (`(n,)` for one dimension, `(a, b)` for more) and padding, then the
/// little-endian data.
pub fn to_bytes(a: &Array) -> Vec<u8> {
    let descr = match &a.data {
        Data::I8(_) => "|i1",
        Data::U8(_) => "|u1",
        Data::Bool(_) => "|b1",
        Data::I16(_) => "<i2",
        Data::I32(_) => "<i4",
        Data::F32(_) => "<f4",
        Data::I64(_) => "<i8",
        Data::U32(_) => "<u4",
        Data::U64(_) => "<u8",
    };
    let dims: Vec<String> = a.shape.iter().map(|d| d.to_string()).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    // NumPy leaves room for the first dimension to grow to 21 digits, then pads the header
    // (after magic, version and its 2-byte length; with its final '\n') to a multiple of 64
    // bytes, adding a full 64 when it is one already.
    if let Some(first) = dims.first() {
        header.push_str(&" ".repeat(21usize.saturating_sub(first.len())));
    }
    let pad = 64 - (10 + header.len() + 1) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + a.data.len() * 8);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(a.data.bytes(0, a.data.len()));
    out
}

#[cfg(test)]
mod write_tests {
    use super::*;

    /// Headers as `np.save` (NumPy 2.4) writes them, for a scalar, one and two dimensions
    /// and a long shape; the data follows little-endian.
    #[test]
    fn files_are_numpys_byte_for_byte() {
        let header = |a: &Array| {
            let b = to_bytes(a);
            let n = u16::from_le_bytes([b[8], b[9]]) as usize;
            assert_eq!(&b[..8], b"\x93NUMPY\x01\x00");
            assert_eq!((10 + n) % 64, 0);
            String::from_utf8(b[10..10 + n].to_vec()).unwrap()
        };
        let a = |shape: &[usize], data: Data| Array {
            shape: shape.to_vec(),
            data,
        };
        let cases = [
            (a(&[], Data::F32(vec![1.5])), "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 128),
            (a(&[3], Data::I16(vec![1, -2, 3])), "{'descr': '<i2', 'fortran_order': False, 'shape': (3,), }", 128),
            (a(&[1, 1960], Data::I8(vec![0; 1960])), "{'descr': '|i1', 'fortran_order': False, 'shape': (1, 1960), }", 128),
            (
                a(&[1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2], Data::U8(vec![7; 64])),
                "{'descr': '|u1', 'fortran_order': False, 'shape': (1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2), }",
                128,
            ),
        ];
        for (arr, text, total) in cases {
            let h = header(&arr);
            assert_eq!(h.trim_end(), text);
            assert!(h.ends_with('\n'));
            assert_eq!(h.len() + 10, total, "{text}");
        }
        let data = to_bytes(&a(&[3], Data::I16(vec![1, -2, 3])));
        assert_eq!(&data[128..], &[1, 0, 0xfe, 0xff, 3, 0]);
    }
}
