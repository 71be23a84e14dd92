//! Reading `.tflite` files: verification, typed accessors, operator names.

pub mod flatbuf;
pub mod flexbuf;
pub mod opcodes;
pub mod schema;

pub use flatbuf::ReadError;
pub use schema::{read, TfModel};
