//! A `serde` serializer that writes Rust expressions: the model description's types derive
//! `Serialize`, and this turns a value into the literal that rebuilds it in generated code
//! (fully qualified paths, so generated modules need no imports).

use serde::ser::{self, Serialize};
use std::fmt::{self, Write};

/// Error of the literal serializer (only for types it cannot express).
#[derive(Debug)]
pub struct LitError(String);

impl fmt::Display for LitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for LitError {}
impl ser::Error for LitError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        LitError(msg.to_string())
    }
}

/// The Rust expression that rebuilds `value`.
pub fn to_rust<T: Serialize + ?Sized>(value: &T) -> Result<String, LitError> {
    value.serialize(Lit)
}

/// Module path of a `ferrite_core` type by name.
fn path_of(name: &str) -> String {
    match name {
        "TensorId" | "ConstRef" | "Shape" | "Tensor" | "DType" => format!("ferrite_core::{name}"),
        "FusedActivation" => format!("ferrite_core::quant::{name}"),
        _ => format!("ferrite_core::ops::{name}"),
    }
}

/// A float literal of type `f32` that round-trips exactly.
pub fn f32_lit(v: f32) -> String {
    if v.is_nan() {
        "f32::NAN".into()
    } else if v == f32::INFINITY {
        "f32::INFINITY".into()
    } else if v == f32::NEG_INFINITY {
        "f32::NEG_INFINITY".into()
    } else {
        // `{:?}` prints the shortest representation that parses back to the same value.
        format!("{v:?}f32")
    }
}

struct Lit;

type R = Result<String, LitError>;

/// Collects the elements of a sequence, tuple or struct.
struct Compound {
    kind: Kind,
    items: Vec<(Option<&'static str>, String)>,
}

enum Kind {
    Array,
    Struct(&'static str),
    TupleStruct(&'static str),
    TupleVariant(&'static str, &'static str),
    StructVariant(&'static str, &'static str),
}

impl Compound {
    fn finish(self) -> String {
        let positional = || {
            self.items
                .iter()
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self.kind {
            Kind::Array => format!("[{}]", positional()),
            Kind::TupleStruct(name) => format!("{}({})", path_of(name), positional()),
            Kind::TupleVariant(name, variant) => {
                format!("{}::{variant}({})", path_of(name), positional())
            }
            Kind::Struct("ConstRef") => {
                let get = |f: &str| {
                    self.items
                        .iter()
                        .find(|(n, _)| *n == Some(f))
                        .map_or("0", |(_, v)| v.as_str())
                };
                format!(
                    "ferrite_core::ConstRef::new({}, {})",
                    get("offset"),
                    get("len")
                )
            }
            Kind::Struct(name) => format!("{} {{ {} }}", path_of(name), self.named()),
            Kind::StructVariant(name, variant) => {
                format!("{}::{variant} {{ {} }}", path_of(name), self.named())
            }
        }
    }
    fn named(&self) -> String {
        self.items
            .iter()
            .map(|(n, v)| format!("{}: {v}", n.unwrap_or("_")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl ser::SerializeSeq for Compound {
    type Ok = String;
    type Error = LitError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), LitError> {
        self.items.push((None, value.serialize(Lit)?));
        Ok(())
    }
    fn end(self) -> R {
        Ok(self.finish())
    }
}
impl ser::SerializeTuple for Compound {
    type Ok = String;
    type Error = LitError;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), LitError> {
        self.items.push((None, value.serialize(Lit)?));
        Ok(())
    }
    fn end(self) -> R {
        Ok(self.finish())
    }
}
impl ser::SerializeTupleStruct for Compound {
    type Ok = String;
    type Error = LitError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), LitError> {
        self.items.push((None, value.serialize(Lit)?));
        Ok(())
    }
    fn end(self) -> R {
        Ok(self.finish())
    }
}
impl ser::SerializeTupleVariant for Compound {
    type Ok = String;
    type Error = LitError;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), LitError> {
        self.items.push((None, value.serialize(Lit)?));
        Ok(())
    }
    fn end(self) -> R {
        Ok(self.finish())
    }
}
impl ser::SerializeStruct for Compound {
    type Ok = String;
    type Error = LitError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), LitError> {
        self.items.push((Some(key), value.serialize(Lit)?));
        Ok(())
    }
    fn end(self) -> R {
        Ok(self.finish())
    }
}
impl ser::SerializeStructVariant for Compound {
    type Ok = String;
    type Error = LitError;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), LitError> {
        self.items.push((Some(key), value.serialize(Lit)?));
        Ok(())
    }
    fn end(self) -> R {
        Ok(self.finish())
    }
}

/// Maps are not part of the model description.
struct NoMap;
impl ser::SerializeMap for NoMap {
    type Ok = String;
    type Error = LitError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), LitError> {
        Err(LitError("maps have no Rust literal form".into()))
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, _: &T) -> Result<(), LitError> {
        Err(LitError("maps have no Rust literal form".into()))
    }
    fn end(self) -> R {
        Err(LitError("maps have no Rust literal form".into()))
    }
}

macro_rules! int_lits {
    ($($f:ident: $t:ty),*) => { $(fn $f(self, v: $t) -> R { Ok(format!("{v}")) })* };
}

impl ser::Serializer for Lit {
    type Ok = String;
    type Error = LitError;
    type SerializeSeq = Compound;
    type SerializeTuple = Compound;
    type SerializeTupleStruct = Compound;
    type SerializeTupleVariant = Compound;
    type SerializeMap = NoMap;
    type SerializeStruct = Compound;
    type SerializeStructVariant = Compound;

    int_lits!(serialize_i8: i8, serialize_i16: i16, serialize_i32: i32, serialize_i64: i64,
              serialize_u8: u8, serialize_u16: u16, serialize_u32: u32, serialize_u64: u64);

    fn serialize_bool(self, v: bool) -> R {
        Ok(v.to_string())
    }
    fn serialize_f32(self, v: f32) -> R {
        Ok(f32_lit(v))
    }
    fn serialize_f64(self, v: f64) -> R {
        Ok(format!("{v:?}f64"))
    }
    fn serialize_char(self, v: char) -> R {
        Ok(format!("{v:?}"))
    }
    fn serialize_str(self, v: &str) -> R {
        Ok(format!("{v:?}"))
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        let mut s = String::from("[");
        for (i, b) in v.iter().enumerate() {
            let _ = write!(s, "{}{b}", if i > 0 { ", " } else { "" });
        }
        s.push(']');
        Ok(s)
    }
    fn serialize_none(self) -> R {
        Ok("None".into())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> R {
        Ok(format!("Some({})", value.serialize(Lit)?))
    }
    fn serialize_unit(self) -> R {
        Ok("()".into())
    }
    fn serialize_unit_struct(self, name: &'static str) -> R {
        Ok(path_of(name))
    }
    fn serialize_unit_variant(self, name: &'static str, _: u32, variant: &'static str) -> R {
        Ok(format!("{}::{variant}", path_of(name)))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, name: &'static str, value: &T) -> R {
        Ok(format!("{}({})", path_of(name), value.serialize(Lit)?))
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> R {
        Ok(format!(
            "{}::{variant}({})",
            path_of(name),
            value.serialize(Lit)?
        ))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound, LitError> {
        Ok(Compound {
            kind: Kind::Array,
            items: Vec::new(),
        })
    }
    fn serialize_tuple(self, _: usize) -> Result<Compound, LitError> {
        Ok(Compound {
            kind: Kind::Array,
            items: Vec::new(),
        })
    }
    fn serialize_tuple_struct(self, name: &'static str, _: usize) -> Result<Compound, LitError> {
        Ok(Compound {
            kind: Kind::TupleStruct(name),
            items: Vec::new(),
        })
    }
    fn serialize_tuple_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound, LitError> {
        Ok(Compound {
            kind: Kind::TupleVariant(name, variant),
            items: Vec::new(),
        })
    }
    fn serialize_map(self, _: Option<usize>) -> Result<NoMap, LitError> {
        Ok(NoMap)
    }
    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Compound, LitError> {
        Ok(Compound {
            kind: Kind::Struct(name),
            items: Vec::new(),
        })
    }
    fn serialize_struct_variant(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound, LitError> {
        Ok(Compound {
            kind: Kind::StructVariant(name, variant),
            items: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::ops::{Op, PoolGeometry, PoolI8, PoolKind, UnaryF32, UnaryKind};
    use ferrite_core::{ConstRef, TensorId};

    #[test]
    fn writes_qualified_literals() {
        assert_eq!(to_rust(&TensorId(3)).unwrap(), "ferrite_core::TensorId(3)");
        assert_eq!(
            to_rust(&ConstRef::<i8>::new(16, 9)).unwrap(),
            "ferrite_core::ConstRef::new(16, 9)"
        );
        assert_eq!(
            to_rust(&PoolKind::Max).unwrap(),
            "ferrite_core::ops::PoolKind::Max"
        );
        let op = Op::UnaryF32(UnaryF32 {
            input: TensorId(0),
            output: TensorId(1),
            kind: UnaryKind::LeakyRelu(0.2),
        });
        assert_eq!(
            to_rust(&op).unwrap(),
            "ferrite_core::ops::Op::UnaryF32(ferrite_core::ops::UnaryF32 { input: ferrite_core::TensorId(0), output: ferrite_core::TensorId(1), kind: ferrite_core::ops::UnaryKind::LeakyRelu(0.2f32) })"
        );
        let g = PoolGeometry {
            batches: 1,
            in_h: 2,
            in_w: 2,
            channels: 1,
            out_h: 1,
            out_w: 1,
            filter_h: 2,
            filter_w: 2,
            stride_h: 2,
            stride_w: 2,
            pad_top: 0,
            pad_left: 0,
        };
        let p = to_rust(&PoolI8 {
            input: TensorId(0),
            output: TensorId(1),
            kind: PoolKind::Average,
            geom: g,
            act_min: -128,
            act_max: 127,
        })
        .unwrap();
        assert!(p.contains("act_min: -128"), "{p}");
    }

    #[test]
    fn floats_round_trip() {
        for v in [0.1f32, 1e-5, -3.4028235e38, 0.00390625, 1.0, -0.0] {
            let s = f32_lit(v);
            let parsed: f32 = s.trim_end_matches("f32").parse().unwrap();
            assert_eq!(parsed.to_bits(), v.to_bits(), "{s}");
        }
    }
}
